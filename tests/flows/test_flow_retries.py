"""Flow-level retries repeat only failures that may pass, never a decision (real Prefect API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, StorageError
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")


def _run(state: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


def _permanent() -> StorageError:
    err = StorageError("s3://b/k: access denied")
    err.permanent = True  # type: ignore[attr-defined]  # as evalsig_flows.s3 marks them
    return err


def _errors() -> dict[str, Exception]:
    from evalsig_flows.store import PreconditionFailed

    return {"timeout": StorageError("s3://b/k: read timeout"), "denied": _permanent(),
            "conflict": PreconditionFailed("s3://b/k: changed since it was read"),
            "input": InputError("bad score", path="c.json")}


def _failing_flow() -> Any:
    from prefect import flow

    from evalsig_flows.pipeline import failed_from_error

    @flow(name="evalsig-test-retries", retries=2, retry_delay_seconds=0)
    def failing(kind: str) -> Any:
        return failed_from_error(_errors()[kind])  # type: ignore[arg-type]

    return failing


def test_a_reject_under_flow_retries_is_gated_once(tmp_path: Path) -> None:
    # Before: with retries=2 the server turned the Rejected state into AwaitingRetry twice, so
    # one decision was gated 3 times: run_count 3, three reports, three audit records.
    from evalsig_flows.flows import gate_flow

    state = gate_flow.with_options(retries=2, retry_delay_seconds=0)(
        baseline=str(EXAMPLES / "baseline.json"), candidate=str(EXAMPLES / "regressed.json"),
        cluster="passage_id", min_delta=0.005, store=tmp_path.as_uri(), name="retry-reject",
        return_state=True)
    assert state.is_failed() and state.name == "Rejected"
    run = _run(state)
    assert run.run_count == 1 and run.empirical_policy.retries == 0
    assert len(list((tmp_path / "reports").rglob("report.json"))) == 1
    records = [p for p in (tmp_path / "audit").rglob("*.json")
               if p.name != "head.json" and "claims" not in p.parts]  # claims: audit_task once
    assert len(records) == 1


@pytest.mark.parametrize(("kind", "attempts"), [
    ("timeout", 3),   # a storage error that may pass: Prefect retries it
    ("denied", 1),    # permanent (access denied, no bucket): no retry
    ("conflict", 1),  # a lost conditional write: the object changed, repeating cannot help
    ("input", 1),     # bad input: the same file fails the same way
])
def test_only_a_failure_that_may_pass_is_retried(kind: str, attempts: int) -> None:
    state = _failing_flow()(kind, return_state=True)
    assert state.is_failed() and state.name == "Failed"
    assert _run(state).run_count == attempts


def test_outside_a_flow_run_nothing_is_patched() -> None:
    from evalsig_flows.outcome import failed

    state = failed("REJECT: x", {"exit_code": 1}, decision="REJECT")
    assert state.name == "Rejected"  # no flow run context: no API call, no error
