"""A candidate command that cannot run as configured is a usage error (64) before it runs.

Before: `output = "../*"` ingested a file of another directory as the candidate (and the
clean-up after the gate could remove a directory it did not make); an absolute glob was a
NotImplementedError, a NUL in an argument a ValueError (both exit 70, a traceback); a
timeout of 0 "timed out" (65, bad data) and a NaN timeout never timed out. The last line a
failing command wrote went into the one-line error raw: colour codes, control characters and
64 KiB of a binary dump.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from evalsig_core import InputError, UsageError
from evalsig_flows.command import run_command


def writes_a_run(marker: Path) -> list[str]:
    """A command that writes run.json in its output directory and leaves `marker` behind
    (so a test sees whether it ran)."""
    return ["sh", "-c", f"echo '{{}}' > run.json; touch {marker}"]


@pytest.mark.parametrize("output", ["../*", "../../../etc/hostname", "a/../../*", "/etc/*",
                                    "", "run.json\x00"])
def test_an_output_glob_outside_the_output_directory_is_refused_before_the_command_runs(
        tmp_path: Path, output: str) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(UsageError, match="is not a glob inside {output_dir}") as info:
        run_command(writes_a_run(marker), output, 60)
    assert info.value.exit_code == 64 and "fix: set `output`" in str(info.value)
    assert not marker.exists()


def test_an_output_glob_naming_the_output_directory_says_it_is_relative_to_it(
        tmp_path: Path) -> None:
    """`{output_dir}/*.json` is not substituted in `output`: it matched nothing (66)."""
    marker = tmp_path / "ran"
    with pytest.raises(UsageError, match="names {output_dir}: the glob is already relative"):
        run_command(writes_a_run(marker), "{output_dir}/*.json", 60)
    assert not marker.exists()


def test_a_command_killed_by_a_signal_says_so() -> None:
    """An out-of-memory kill read "exited -9"."""
    with pytest.raises(InputError, match=r"was killed by SIGKILL \(signal 9\): sh -c"):
        run_command(["sh", "-c", "kill -9 $$"], "*", 60)


@pytest.mark.parametrize("timeout", [0, -1, math.nan, math.inf])
def test_a_timeout_that_is_not_finite_seconds_above_zero_is_a_usage_error(
        tmp_path: Path, timeout: float) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(UsageError, match="timeout must be seconds > 0"):
        run_command(writes_a_run(marker), "*.json", timeout)
    assert not marker.exists()


def test_a_nul_in_an_argument_is_a_usage_error_not_a_traceback() -> None:
    with pytest.raises(UsageError, match=r"NUL character \(\\0\): 'sh\\0' -c true"):
        run_command(["sh\x00", "-c", "true"], "*", 60)


@pytest.mark.parametrize("command", [[], [""], [" ", "x.py"]])
def test_an_empty_command_is_a_usage_error(command: list[str]) -> None:
    with pytest.raises(UsageError, match="the candidate command is empty"):
        run_command(command, "*", 60)


def test_a_glob_below_the_output_directory_still_finds_the_run(tmp_path: Path) -> None:
    found = run_command(["sh", "-c", "mkdir -p logs/x && echo '{}' > logs/x/run.json"],
                        "logs/*/*.json", 60)
    assert Path(found).name == "run.json" and Path(found).parent.name == "x"


def test_the_error_of_a_failing_command_is_one_line_of_plain_text() -> None:
    script = r"printf '\033[31mFATAL\033[0m:\tno\001 key\n' >&2; exit 3"
    with pytest.raises(InputError) as info:
        run_command(["sh", "-c", script], "*", 60)
    assert str(info.value).endswith(": FATAL: no key")


def test_a_binary_dump_on_stderr_is_not_copied_into_the_error() -> None:
    # a long line, then a dump of NULs (the last "line": nothing readable in it)
    script = "head -c 5000 /dev/zero | tr '\\0' x >&2; printf '\\n' >&2; " \
             "head -c 30000 /dev/zero >&2; exit 1"
    with pytest.raises(InputError) as info:
        run_command(["sh", "-c", script], "*", 60)
    line = str(info.value)
    assert "\x00" not in line and line.endswith("x" * 299 + "…")
    assert len(line) < 600


@pytest.mark.usefixtures("prefect_api")
def test_the_ci_gate_refuses_an_output_glob_before_it_records_or_runs_anything(
        tmp_path: Path) -> None:
    """The check runs before the PENDING record, the baseline fetch and the command."""
    from evalsig_flows.ci import ci_gate_flow
    from evalsig_flows.outcome import outcome
    from tests.conftest import EXAMPLES

    marker, store = tmp_path / "ran", tmp_path / "store"
    state = ci_gate_flow(repo="acme/model", pr_number=7, head_sha="abc1234", task="qa",
                         metric="accuracy", min_delta=0.005, command=writes_a_run(marker),
                         output="../*.json", baseline=str(EXAMPLES / "baseline.json"),
                         store=store.as_uri(), return_state=True)
    assert state.is_failed() and state.message.startswith("USAGE ERROR (exit 64): candidate "
                                                          "output '../*.json'"), state.message
    assert outcome(state)["exit_code"] == 64
    assert not marker.exists() and not store.exists()
