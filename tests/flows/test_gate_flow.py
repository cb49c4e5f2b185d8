"""The gate flow against a real Prefect API (test harness) and a file:// store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, SHARED_FIXTURES, write_runframe

pytestmark = pytest.mark.usefixtures("prefect_api")


def _artifacts(key: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def test_allow_completes_stores_the_report_and_publishes_artifacts(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow

    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=str(EXAMPLES / "candidate.json"), metric="accuracy",
                      cluster="passage_id", min_delta=0.005, store=tmp_path.as_uri(),
                      name="flow-allow", return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["verdict"] == "ALLOW"
    stored = Path(result["report"]["json"].removeprefix("file://"))
    assert stored.is_relative_to(tmp_path / "reports")
    assert json.loads(stored.read_text())["verdict"] == "ALLOW"
    assert stored.with_name("report.md").read_text().startswith("<!-- evalsig-report")
    assert "<svg" in stored.with_name("report.html").read_text()
    md = _artifacts("evalsig-report-flow-allow")
    assert md and "EVALSIG release gate" in md[0].data
    table = _artifacts("evalsig-entries-flow-allow")[0].data
    row = (json.loads(table) if isinstance(table, str) else table)[0]
    # the bound ALLOW compared (auto, clustered: one-sided at alpha/2) beside the CI's
    report = json.loads(stored.read_text())["comparison"]
    assert row["decision_alpha"] == 0.025 and row["ci_lower"] == report["ci"][0]
    assert row["decision_lower"] == report["allow_lower"] < row["ci_lower"]


def test_reject_publishes_first_then_fails_with_the_verdict(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow

    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=str(EXAMPLES / "regressed.json"), cluster="passage_id",
                      min_delta=0.005, store=tmp_path.as_uri(), name="flow-reject",
                      return_state=True)
    assert state.is_failed() and state.name == "Rejected"
    assert state.message.startswith("REJECT:")
    assert list((tmp_path / "reports").rglob("report.json"))
    assert "REJECT" in _artifacts("evalsig-report-flow-reject")[0].data


def test_doctor_errors_fail_the_flow_after_publishing_the_doctor_report(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow

    b = write_runframe(tmp_path / "b.json", ["a", "b"], [1, float("nan")])
    c = write_runframe(tmp_path / "c.json", ["a", "b"], [1, 1])
    state = gate_flow(baseline=str(b), candidate=str(c), min_delta=0.0,
                      store=(tmp_path / "store").as_uri(), name="flow-doctor",
                      return_state=True)
    assert state.is_failed() and state.message.startswith("DOCTOR: E103")
    assert state.name == "DoctorErrors"
    assert list((tmp_path / "store" / "reports").rglob("report.json"))


def test_called_directly_a_reject_raises_the_outcome_with_its_result(tmp_path: Path) -> None:
    from evalsig_flows.flows import gate_flow
    from evalsig_flows.outcome import FlowOutcomeError

    with pytest.raises(FlowOutcomeError, match="^REJECT: ") as info:
        gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                  candidate=str(EXAMPLES / "regressed.json"), cluster="passage_id",
                  min_delta=0.005, store=tmp_path.as_uri(), name="flow-direct")
    assert info.value.exit_code == 1 and info.value.result["verdict"] == "REJECT"
    assert Path(info.value.result["report"]["json"].removeprefix("file://")).is_file()


def test_the_outcome_error_survives_pickling() -> None:
    import pickle

    from evalsig_flows.outcome import FlowOutcomeError

    err = pickle.loads(pickle.dumps(FlowOutcomeError("REJECT: x", {"exit_code": 1})))
    assert str(err) == "REJECT: x" and err.result == {"exit_code": 1} and err.exit_code == 1


def test_an_undefined_mde_reaches_the_entries_table_as_null(tmp_path: Path) -> None:
    # At alpha >= 0.5 the MDE is undefined (NaN, W219; the JSON report says null). The table
    # artifact's row holds round(nan, 6): it must reach the Prefect API as null, never as a
    # NaN token that JSON does not have.
    from evalsig_flows.flows import gate_flow

    state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                      candidate=str(EXAMPLES / "candidate.json"), metric="accuracy",
                      cluster="passage_id", min_delta=0.005, alpha=0.6, power=0.9,
                      method="clustered_t",
                      store=tmp_path.as_uri(), name="flow-undefined-mde", return_state=True)
    table = _artifacts("evalsig-entries-flow-undefined-mde")[0].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert rows[0]["mde"] is None, state.message


@pytest.mark.parametrize("role", ["baseline", "candidate"])
def test_a_run_directory_is_one_line_naming_it_not_an_internal_error(role: str,
                                                                    tmp_path: Path) -> None:
    # A directory that is no HELM run (a HELM run directory is packed into one archive, see
    # test_helm_runs.py): as the baseline it was a raw IsADirectoryError (INTERNAL ERROR,
    # 70); as the candidate "INPUT NOT FOUND (exit 66): ...: candidate run unreadable: Is a
    # directory", with no fix.
    from evalsig_flows.flows import gate_flow

    lm = SHARED_FIXTURES / "lm-eval-0.4.13"
    (run,) = (lm / "candidate").glob("samples_passage_mc_*.jsonl")
    runs = {"baseline": str(run), "candidate": str(run)}
    runs[role] = str(lm / role)
    state = gate_flow(**runs, metric="acc", min_delta=0.005, store=tmp_path.as_uri(),
                      name=f"flow-dir-{role}", return_state=True)
    assert state.is_failed()
    assert state.message.startswith(f"INPUT ERROR (exit 65): {runs[role]}: the {role} run is "
                                    "a directory, a run file was expected (fix: pass the log "
                                    "file itself: the directory holds samples_"), \
        state.message
    assert "\n" not in state.message
