"""A run path or URI that can name no run file is a usage error (64) naming it, up front.

Before: an empty candidate was "the candidate run is a directory" (65, naming no path; or,
with a per_instance_stats.json in the working directory, that directory packed as the run);
an s3:// URI with an empty, '.' or '..' key segment was "invalid store key", naming neither
the parameter nor the fix; a scheme no store reads was "unsupported store URI" for a run URI.
A key prefix (a HELM run directory, with or without a trailing '/') stays a run URI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core import UsageError
from evalsig_flows.outcome import outcome
from evalsig_flows.store import check_run_uri
from tests.conftest import EXAMPLES


@pytest.mark.parametrize(("uri", "message"), [
    ("", "the candidate run is empty"),
    ("  ", "the candidate run is empty"),
    ("file://", "the candidate run is empty"),
    ("s3://bucket/runs//c.json", "candidate s3://bucket/runs//c.json: names no run object"),
    ("s3://bucket/runs//", "names no run object"),
    ("s3://bucket/runs/./c.json", "names no run object"),
    ("s3:///c.json", "candidate s3:///c.json: names no bucket"),
    ("ftp://host/c.json", "candidate ftp://host/c.json: no store reads ftp:// URIs"),
])
def test_a_run_uri_that_names_no_run_file_is_refused(uri: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        check_run_uri("candidate", uri)
    assert "fix: give the run file's (or HELM run directory's) path" in str(info.value)


@pytest.mark.parametrize("uri", ["runs/c.json", "runs:2024/c.json", "/tmp/c.json",
                                 "file:///tmp/c.json", "file://./rel/c.json",
                                 "s3://bucket/runs/c#1.json", "S3://bucket/c.json",
                                 "s3://bucket/runs/helm-run/", "s3://bucket/runs/helm-run",
                                 "s3://bucket", "s3://bucket/"])
def test_a_run_uri_that_can_name_a_run_file_passes(uri: str) -> None:
    check_run_uri("candidate", uri)


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize(("over", "message"), [
    ({"candidate": ""}, "the candidate run is empty"),
    ({"candidate": "s3://bucket/runs/./c.json"},
     "candidate s3://bucket/runs/./c.json: names no run object"),
    ({"baseline": "gs://bucket/b.json"}, "baseline gs://bucket/b.json: no store reads gs://"),
])
def test_the_gate_flow_refuses_it_before_anything_is_fetched_or_stored(
        tmp_path: Path, over: dict[str, str], message: str) -> None:
    from evalsig_flows.flows import gate_flow

    store = tmp_path / "store"
    args = {"baseline": str(EXAMPLES / "baseline.json"),
            "candidate": str(EXAMPLES / "candidate.json")} | over
    state = gate_flow(**args, metric="accuracy", min_delta=0.005, store=store.as_uri(),
                      return_state=True)
    assert state.message.startswith(f"USAGE ERROR (exit 64): {message}"), state.message
    assert outcome(state)["exit_code"] == 64
    assert not store.exists()


@pytest.mark.parametrize("store", ["", " ", "file://"])
def test_an_empty_store_uri_is_refused_never_the_working_directory(
        store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It opened the working directory: a blank `store` parameter wrote baselines, reports
    and the audit trail wherever the worker ran."""
    from evalsig_flows.store import open_store

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="the store URI is empty"):
        open_store(store)


@pytest.mark.usefixtures("prefect_api")
def test_the_flows_refuse_an_empty_store_before_anything_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalsig_flows.flows import gate_flow, nightly_gate_flow

    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[entry]]\ntask = "qa"\nmetric = "accuracy"\nmin_delta = 0.005\n'
                     f'baseline = "{EXAMPLES / "baseline.json"}"\n'
                     f'candidate = "{EXAMPLES / "candidate.json"}"\n')
    for state in (gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                            candidate=str(EXAMPLES / "candidate.json"), metric="accuracy",
                            min_delta=0.005, store="", return_state=True),
                  nightly_gate_flow(suite_file=str(suite), store="", return_state=True)):
        assert state.message.startswith("USAGE ERROR (exit 64): the store URI is empty"), \
            state.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suite.toml"]
