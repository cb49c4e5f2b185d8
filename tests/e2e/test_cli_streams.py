"""stdout that cannot take the report: a reader that stopped early, a full disk, a closed fd.

The exit code must not depend on whether the report still fitted in a pipe's buffer, and a
failed write is an I/O error (74), never an internal error (70) or Python's exit status 120.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

EVALSIG = [sys.executable, "-m", "evalsig_core.cli"]
GATE = ["gate", "--baseline", str(EXAMPLES / "baseline.json"), "--cluster", "passage_id",
        "--min-delta", "0.005", "--resamples", "999"]
ALLOW = [*GATE, "--candidate", str(EXAMPLES / "candidate.json")]
REJECT = [*GATE, "--candidate", str(EXAMPLES / "regressed.json")]


def _exe() -> list[str]:
    exe = shutil.which("evalsig", path=str(Path(sys.executable).parent))
    return [exe] if exe else EVALSIG


def _closed_reader(args: list[str]) -> tuple[int, str]:
    """Run with stdout a pipe whose reader is gone before anything is written (`| head -1`
    after its first line, deterministically)."""
    proc = subprocess.Popen(_exe() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=300), err


@pytest.mark.parametrize(("args", "code"), [
    (ALLOW, 0), (REJECT, 1), ([*ALLOW, "--output", "json"], 0), (["schema"], 0),
    (["power", "--sd", "0.5", "--n", "100"], 0),
])
def test_a_reader_that_stops_early_keeps_the_commands_exit_code(args: list[str],
                                                                 code: int) -> None:
    # `evalsig gate ... | head -1` exited 74 when the report outgrew the pipe's buffer (or
    # the reader was already gone) and 0 otherwise: the same verdict, two exit codes.
    rc, err = _closed_reader(args)
    assert rc == code, err
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [ALLOW, ["power", "--sd", "0.5", "--n", "100"],
                                  ["watch", "--baseline", str(EXAMPLES / "baseline.json"),
                                   "--candidate", str(EXAMPLES / "candidate.json"),
                                   "--min-delta", "0"]])
def test_a_full_disk_on_stdout_is_an_io_error_74(args: list[str]) -> None:
    # It was "internal error: OSError: [Errno 28] ... (this is a bug in evalsig)", exit 70.
    with open("/dev/full", "w") as full:
        r = subprocess.run(_exe() + args, stdout=full, stderr=subprocess.PIPE, text=True,
                           check=False)
    assert r.returncode == 74, r.stderr
    assert "stdout: cannot write the report: No space left on device" in r.stderr
    assert "internal error" not in r.stderr


def test_a_closed_stdout_is_an_io_error_74() -> None:
    # `evalsig gate ... >&-` was "internal error: AttributeError: 'NoneType' object has no
    # attribute 'write'", exit 70.
    cmd = " ".join(_exe() + ALLOW) + " >&-"
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False,
                       env={**os.environ})
    assert r.returncode == 74, r.stderr
    assert "stdout is closed" in r.stderr and "internal error" not in r.stderr
