"""The nightly suite flow on hostile suite files and failing candidate commands.

Before: an entry whose candidate command failed (exit != 0, timeout, no output file) crashed
the whole flow ("UnfinishedRun: Run is in PENDING state", no report, every other entry's
verdict lost): the clean-up read the result of the entry's later stages, which never ran.
A suite name or an entry that cannot name a store key (`..`, empty, no task for a stored
baseline) was an entry error that made the suite INCONCLUSIVE (exit 2), after the commands
had run; usage errors never exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalsig_flows.outcome import outcome
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")

BASE, CAND = EXAMPLES / "baseline.json", EXAMPLES / "candidate.json"


def entry(name: str, *lines: str) -> str:
    """An [[entry]] of task qa, metric accuracy, with further `key = value` lines."""
    return "\n".join(("", "[[entry]]", f'name = "{name}"', 'task = "qa"', 'metric = "accuracy"',
                      *lines, ""))


ALLOWED = entry("ok", f'baseline = "{BASE}"', f'candidate = "{CAND}"')


def run_suite(tmp_path: Path, head: str, entries: str) -> tuple[Any, Path]:
    from evalsig_flows.flows import nightly_gate_flow

    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suite]\n{head}\nmin_delta = 0.005\ncluster = "passage_id"\n{entries}')
    store = tmp_path / "store"
    return nightly_gate_flow(suite_file=str(suite), store=store.as_uri(),
                             return_state=True), store


@pytest.mark.parametrize(("command", "timeout", "error"), [
    ('["sh", "-c", "echo boom >&2; exit 3"]', 60, "exited 3: sh -c 'echo boom >&2; exit 3': boom"),
    ('["true"]', 60, "wrote no file matching '*'"),
    ('["sleep", "30"]', 0.5, "timed out after 0.5s"),
])
def test_a_failing_candidate_command_is_that_entry_s_error_and_the_suite_is_reported(
        tmp_path: Path, command: str, timeout: float, error: str) -> None:
    state, _ = run_suite(tmp_path, 'name = "n"', ALLOWED + entry(
        "made", f'baseline = "{BASE}"', f"command = {command}", f"timeout = {timeout}"))
    assert state.name == "Inconclusive", state.message
    result = outcome(state)
    assert result["exit_code"] == 2
    assert result["entries"] == {"ok": "ALLOW", "made": "ERROR"}
    report = json.loads(Path(result["report"]["json"].removeprefix("file://")).read_text())
    made = {e["name"]: e for e in report["entries"]}["made"]
    assert error in made["error"] and made["error_code"] in (65, 66)


@pytest.mark.parametrize(("head", "entry", "message"), [
    ('name = ".."', "", "suite.toml [suite]: invalid suite name '..'"),
    ('name = ""', "", "suite.toml [suite]: name '' is empty"),
    ('name = "n"', 'task = ".."\nmetric = "accuracy"',
     "suite.toml entry '..-accuracy': invalid task name '..'"),
    ('name = "n"', 'metric = "accuracy"',
     "suite.toml entry 'accuracy': without `baseline`, `task` and `metric` name the stored"),
    ('name = "n"', 'task = "qa"\nmetric = "accuracy"\noutput = "../*"',
     "candidate output '../*' is not a glob inside {output_dir}"),
])
def test_a_suite_file_that_names_no_store_key_is_a_usage_error_before_any_command_runs(
        tmp_path: Path, head: str, entry: str, message: str) -> None:
    marker = tmp_path / "ran"
    state, store = run_suite(tmp_path, head, ALLOWED + f"""
[[entry]]
{entry}
command = ["sh", "-c", "touch {marker}; cp {CAND} c.json"]
""")
    assert state.is_failed() and state.name == "Failed"
    assert state.message.startswith("USAGE ERROR (exit 64): ")
    assert message in state.message
    assert outcome(state)["exit_code"] == 64
    assert not marker.exists() and not store.exists()


def test_an_entry_s_usage_error_while_gating_fails_the_suite_with_exit_64(
        tmp_path: Path) -> None:
    state, store = run_suite(tmp_path, 'name = "n"', ALLOWED + entry(
        "binary", 'method = "mcnemar"', f'baseline = "{BASE}"', f'candidate = "{CAND}"'))
    assert state.is_failed(), state.message
    assert state.message.startswith("USAGE ERROR (exit 64): "), state.message
    assert "suite.toml entry 'binary': method mcnemar takes no cluster key" in state.message
    assert outcome(state)["exit_code"] == 64
    assert not (store / "reports").exists()


@pytest.mark.parametrize(("line", "message"), [
    ('candidate = "ftp://example.org/runs/new.json"',
     "candidate ftp://example.org/runs/new.json: no store reads ftp:// URIs"),
    ('candidate = "s3://bucket/runs/../new.json"',
     "candidate s3://bucket/runs/../new.json: names no run object"),
    ('baseline = "s3://bucket/runs//base.json"\ncandidate = "s3://bucket/runs/new.json"',
     "baseline s3://bucket/runs//base.json: names no run object"),
])
def test_a_run_uri_that_names_no_run_file_is_a_usage_error_before_anything_runs(
        tmp_path: Path, line: str, message: str) -> None:
    state, store = run_suite(tmp_path, 'name = "n"', ALLOWED + entry("bad", line))
    assert state.message.startswith("USAGE ERROR (exit 64): "), state.message
    assert f"suite.toml entry 'bad': {message}" in state.message, state.message
    assert not store.exists()
