"""A gate leaves no temporary copies behind (a worker gates every night for months).

Stored baselines, s3:// candidates and a candidate command's output directory were written
under /tmp/evalsig-*/ and never removed: every gate left a copy of each run it read.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import seed_baseline, suite_file

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def tmpdir_of_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The process's temporary directory, for this test only (tempfile reads it)."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def test_a_gate_of_fetched_runs_removes_its_copies(s3_uri: str, tmpdir_of_run: Path) -> None:
    from evalsig_flows.flows import gate_flow

    store = open_store(s3_uri)
    seed_baseline(store)
    store.put("incoming/cand.json", (EXAMPLES / "candidate.json").read_bytes())
    state = gate_flow(baseline=None, candidate=f"{s3_uri}/incoming/cand.json", suite="demo",
                      task="qa", metric="accuracy", cluster="passage_id", min_delta=0.005,
                      store=s3_uri, name="temp-copies", return_state=True)
    assert state.is_completed(), state.message
    assert [p.name for p in tmpdir_of_run.iterdir()] == []


def test_a_gate_of_a_candidate_command_removes_its_output_directory(
        tmp_path: Path, tmpdir_of_run: Path) -> None:
    from evalsig_flows.flows import gate_flow

    command = [sys.executable, "-c", "import shutil, sys; shutil.copy(sys.argv[1], 'c.json')",
               str(EXAMPLES / "candidate.json")]
    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"), candidate=None,
                      command=command, output="*.json", metric="accuracy",
                      cluster="passage_id", min_delta=0.005, store=(tmp_path / "s").as_uri(),
                      name="temp-command", return_state=True)
    assert state.is_completed(), state.message
    assert [p.name for p in tmpdir_of_run.iterdir()] == []


def test_a_gate_that_fails_on_a_bad_fetched_run_removes_its_copies(
        s3_uri: str, tmpdir_of_run: Path) -> None:
    from evalsig_flows.flows import gate_flow

    open_store(s3_uri).put("incoming/bad.json", b'{"not": "a run"}')
    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=f"{s3_uri}/incoming/bad.json", metric="accuracy",
                      min_delta=0.005, store=s3_uri, name="temp-bad", return_state=True)
    assert state.is_failed()
    assert [p.name for p in tmpdir_of_run.iterdir()] == []


def test_a_nightly_suite_removes_its_copies(s3_uri: str, tmp_path: Path,
                                            tmpdir_of_run: Path) -> None:
    from evalsig_flows.flows import nightly_gate_flow

    store = open_store(s3_uri)
    seed_baseline(store, suite="temp")
    copy = f"import shutil; shutil.copy(r'{EXAMPLES / 'candidate.json'}', 'c.json')"
    suite = suite_file(tmp_path / "suite.toml", "temp", {
        "task": "qa", "metric": "accuracy", "command": [sys.executable, "-c", copy],
        "output": "*.json"})
    state = nightly_gate_flow(suite_file=suite, store=s3_uri, return_state=True)
    assert state.is_completed(), state.message
    assert [p.name for p in tmpdir_of_run.iterdir()] == []


def test_a_failing_candidate_command_removes_its_output_directory(
        tmp_path: Path, tmpdir_of_run: Path) -> None:
    from evalsig_flows.flows import gate_flow

    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"), candidate=None,
                      command=[sys.executable, "-c", "open('part.json', 'w'); exit(3)"],
                      min_delta=0.005, store=(tmp_path / "s").as_uri(), name="temp-fail",
                      return_state=True)
    assert state.is_failed() and "exited 3" in state.message, state.message
    assert [p.name for p in tmpdir_of_run.iterdir()] == []


def test_a_command_output_that_is_a_link_removes_its_own_directory_only(
        tmpdir_of_run: Path) -> None:
    """The output directory was found by following the link: a run linked from elsewhere
    left the directory behind, and one linked from another gate's directory removed that."""
    from evalsig_flows.command import run_command
    from evalsig_flows.tasks import discard_copy

    other = Path(tempfile.mkdtemp(prefix="evalsig-"))  # another gate's fetched copy
    (other / "run.json").write_text("{}")
    out = run_command(["ln", "-s", str(other / "run.json"), "latest.json"], "*.json", 60)
    discard_copy(out)
    assert not Path(out).parent.exists()
    assert (other / "run.json").exists()
