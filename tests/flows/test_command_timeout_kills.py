"""A candidate command that times out is stopped whole: no process it started outlives it.

Before, only the direct child was killed: an eval started through a shell or a launcher
(`sh -c "python eval.py"`, `inspect eval` and its sandboxes) kept running after the timeout,
spending compute and API budget and writing into a directory already removed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from evalsig_core import InputError
from evalsig_flows.command import run_command


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie no one reaped has ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_timed_out_command_leaves_no_process_behind(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pids}; sleep 60 & echo $! >> {pids}; wait"
    with pytest.raises(InputError, match="timed out after 1s"):
        run_command(["sh", "-c", script], "*", 1)
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 2
    deadline = time.monotonic() + 5
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in started if alive(p)]
    for p in left:  # do not leave them behind if the test fails
        os.kill(p, 9)
    assert not left


def test_a_command_that_exits_while_a_child_holds_its_output_is_not_a_timeout(
        tmp_path: Path) -> None:
    """The eval finished and wrote its run; a helper it left behind still holds stdout: the
    run is ingested at once (and the helper stopped), not reported as a timeout 60 s later."""
    script = "sleep 60 & echo '{}' > run.json; exit 0"
    start = time.monotonic()
    found = run_command(["sh", "-c", script], "*.json", 60)
    assert Path(found).name == "run.json"
    assert time.monotonic() - start < 30


def test_a_failing_command_with_non_utf8_output_is_an_input_error_not_a_traceback() -> None:
    """Before: subprocess decoded its output strictly and raised UnicodeDecodeError."""
    with pytest.raises(InputError, match=r"exited 3: .*: bad \ufffd"):
        run_command(["sh", "-c", r"printf 'bad \377\n' >&2; exit 3"], "*", 60)
