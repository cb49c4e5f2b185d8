"""The nightly suite flow: every entry gated, failures collected, same report on Dask."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from evalsig_flows.outcome import outcome
from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import seed_baseline

pytestmark = pytest.mark.usefixtures("prefect_api")


def write_suite(path: Path) -> Path:
    path.write_text(f"""
[suite]
name = "nightly-test"
correction = "holm"
min_delta = 0.005
cluster = "passage_id"
baseline = "{EXAMPLES / 'baseline.json'}"

[[entries]]
name = "qa-good"
task = "qa"
metric = "accuracy"
candidate = "{EXAMPLES / 'candidate.json'}"

[[entries]]
name = "qa-bad"
task = "qa2"
metric = "accuracy"
candidate = "{EXAMPLES / 'regressed.json'}"

[[entries]]
name = "qa-missing"
task = "qa3"
metric = "accuracy"
candidate = "missing-run.json"
""")
    return path


def stored_report(store_uri: str, result: dict[str, Any]) -> dict[str, Any]:
    store = open_store(store_uri)
    doc: dict[str, Any] = json.loads(store.get(result["report"]["json"][len(store.uri) + 1:]))
    return doc


def test_every_entry_is_reported_and_the_suite_fails_after_publishing(tmp_path: Path) -> None:
    from evalsig_flows.flows import nightly_gate_flow

    uri = (tmp_path / "store").as_uri()
    state = nightly_gate_flow(suite_file=str(write_suite(tmp_path / "suite.toml")), store=uri,
                              return_state=True)
    assert state.is_failed() and state.message.startswith("REJECT: 3 entries")
    assert state.name == "Rejected"  # a decision: the webhook never re-runs it
    report = stored_report(uri, outcome(state))
    entries = {e["name"]: e for e in report["entries"]}
    assert entries["qa-good"]["verdict"] == "ALLOW"
    assert entries["qa-bad"]["verdict"] == "REJECT"
    assert entries["qa-missing"]["error_code"] == 66
    assert "missing-run.json" in entries["qa-missing"]["error"]


def test_the_dask_task_runner_gives_the_same_report_as_threads(tmp_path: Path) -> None:
    from prefect_dask import DaskTaskRunner

    from evalsig_flows.flows import nightly_gate_flow

    suite = str(write_suite(tmp_path / "suite.toml"))
    threads = nightly_gate_flow(suite_file=suite, store=(tmp_path / "a").as_uri(),
                                return_state=True)
    # prefect types task_runner as TaskRunner[PrefectFuture], invariant: Dask's is a subtype
    on_dask = nightly_gate_flow.with_options(task_runner=DaskTaskRunner(  # type: ignore[arg-type]
        cluster_kwargs={"n_workers": 2, "processes": False, "threads_per_worker": 1}))(
        suite_file=suite, store=(tmp_path / "b").as_uri(), return_state=True)
    a = stored_report((tmp_path / "a").as_uri(), outcome(threads))
    b = stored_report((tmp_path / "b").as_uri(), outcome(on_dask))
    assert a == b
    assert on_dask.message.split(" (report:")[0] == threads.message.split(" (report:")[0]


def test_the_suite_gates_against_the_baselines_stored_in_s3(s3_uri: str, tmp_path: Path) -> None:
    from evalsig_flows.flows import nightly_gate_flow

    store = open_store(s3_uri)
    for task in ("qa", "qa2"):
        seed_baseline(store, suite="stored", task=task)
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[suite]
name = "stored"
min_delta = 0.005
cluster = "passage_id"
[[entries]]
task = "qa"
metric = "accuracy"
candidate = "{EXAMPLES / 'candidate.json'}"
[[entries]]
task = "qa2"
metric = "accuracy"
candidate = "{EXAMPLES / 'candidate.json'}"
""")
    state = nightly_gate_flow(suite_file=str(suite), store=s3_uri, return_state=True)
    assert state.is_completed(), state.message
    result: Any = state.result()  # (prefect types it as a State)
    assert result["entries"] == {"qa-accuracy": "ALLOW", "qa2-accuracy": "ALLOW"}
    report = stored_report(s3_uri, result)
    assert {e["report"]["baseline"]["sha256"] for e in report["entries"]} == {
        hashlib.sha256((EXAMPLES / "baseline.json").read_bytes()).hexdigest()}


def test_an_entry_s_csv_columns_reach_the_nightly_reads(tmp_path: Path) -> None:
    # the nightly flow read every entry with the reader's defaults (metric, cluster and
    # filter only): a suite entry's format and column names were dropped without a word
    from evalsig_flows.flows import nightly_gate_flow

    rows = {"b": [(f"q{i}", int(i % 3 == 0), f"P{i % 8}") for i in range(160)],
            "c": [(f"q{i}", int(i % 3 != 2), f"P{i % 8}") for i in range(160)]}
    for name, recs in rows.items():
        (tmp_path / f"{name}.csv").write_text(
            "sample,reward,group\n" + "".join(f"{i},{s},{g}\n" for i, s, g in recs))
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[suite]
name = "csv-columns"
min_delta = 0.005
id_col = "sample"
score_col = "reward"
cluster_col = "group"

[[entry]]
name = "csv"
task = "csv"
baseline = "{tmp_path / 'b.csv'}"
candidate = "{tmp_path / 'c.csv'}"
""")
    uri = (tmp_path / "store").as_uri()
    state = nightly_gate_flow(suite_file=str(suite), store=uri, return_state=True)
    entry = stored_report(uri, outcome(state))["entries"][0]
    assert entry["verdict"] == "ALLOW", entry.get("error")
    assert entry["report"]["comparison"]["n_clusters"] == 8
