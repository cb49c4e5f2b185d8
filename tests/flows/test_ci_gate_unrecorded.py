"""A CI gate whose verdict record failed to write after its decision was audited is not gated
again by the next run of the same gate (a flow retry, a redelivery, a re-run job): that run
records the audited decision (real SeaweedFS behind a faulty proxy, real Prefect API).

Before: the next run wrote a new PENDING record and gated again, so one gate had two audited
decisions with the same verdict (two reports, `evalsig history` showing the gate twice).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evalsig_flows.audit_log import recent_records
from evalsig_flows.ci import GateRecord, record_keys
from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES, write_runframe
from tests.flows.conftest import S3Server
from tests.flows.faulty_proxy import Faults, faulty_proxy
from tests.flows.test_ci_and_promotion_flows import SHA, ci, seed
from tests.flows.test_s3_faults import s3_through

pytestmark = pytest.mark.usefixtures("prefect_api")

RECORD = rf"^PUT .*/ci/acme/model/commits/{SHA}/demo/qa/accuracy\.json"


class FailAfterFirst(Faults):
    """Let the first `pass_first` requests matching `match` through, fail the next `rate`
    ones with the first of `kinds` (the PENDING record lands, the verdict record does not)."""

    pass_first: int = 1
    seen: int = 0

    def pick(self, line: str) -> str | None:
        if not re.search(self.match, line):
            return None
        with self._lock:
            self.seen += 1
            if self.seen <= self.pass_first or len(self.injected) >= self.rate:
                return None
            self.injected.append(f"{self.kinds[0]} {line}")
            return self.kinds[0]


def gates(store: Any) -> list[tuple[str, str]]:
    return [(r.decision_id, r.verdict) for _, r in recent_records(store)
            if r.decision in ("gate", "doctor")]


def stored(store: Any, pr: int) -> list[GateRecord]:
    probe = GateRecord(decision_id=None, verdict="PENDING", repo="acme/model", pr_number=pr,
                       commit=SHA, suite="demo", task="qa", metric="accuracy",
                       time=datetime(2026, 1, 1, tzinfo=UTC))
    return [GateRecord.model_validate_json(store.get(k)) for k in record_keys(probe)]


ENDINGS = {"ALLOW": ("Completed", "ALLOW"), "REJECT": ("Rejected", "REJECT"),
           "DOCTOR": ("DoctorErrors", "DOCTOR")}


@pytest.mark.parametrize("candidate", ["candidate.json", "regressed.json", "disjoint"])
def test_the_next_run_records_the_audited_decision_instead_of_gating_again(
        s3_server: S3Server, s3_uri: str, candidate: str, tmp_path: Path) -> None:
    store = open_store(s3_uri)
    seed(store)
    path = EXAMPLES / candidate
    if candidate == "disjoint":  # no item shared with the baseline: the doctor refuses (E105)
        path = write_runframe(tmp_path / "c.json", [f"x{i}" for i in range(20)], [1.0] * 20,
                              [f"p{i}" for i in range(20)])
    faults = FailAfterFirst(rate=100, kinds=("403 AccessDenied",), match=RECORD)
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        first = ci(s3_uri, str(path), 61)
    assert faults.injected  # the verdict record failed to write
    assert first.is_failed() and first.message.startswith("STORAGE ERROR (exit 74): ")
    [(did, verdict)] = gates(store)  # the decision was audited
    assert verdict == {"candidate.json": "ALLOW", "regressed.json": "REJECT",
                       "disjoint": "DOCTOR"}[candidate]
    assert [r.verdict for r in stored(store, 61)] == ["PENDING", "PENDING"]

    again = ci(s3_uri, str(path), 61)  # a redelivery, a re-run job
    assert gates(store) == [(did, verdict)]  # one audited decision, not two
    assert (again.name, again.message.split(":")[0]) == ENDINGS[verdict]
    result = again.result(raise_on_failure=False)
    result = getattr(result, "result", result)
    assert (result["decision_id"], result["verdict"]) == (did, verdict)
    assert len(result["recorded"]) == 2
    assert [(r.decision_id, r.verdict) for r in stored(store, 61)] == [(did, verdict)] * 2


def test_a_flow_retry_records_the_audited_decision(s3_server: S3Server, s3_uri: str) -> None:
    from evalsig_flows.flows import ci_gate_flow

    store = open_store(s3_uri)
    seed(store)
    # every send of the verdict record fails (4 boto sends x 4 task tries); the flow retries
    faults = FailAfterFirst(rate=16, kinds=("500",), match=RECORD)
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        state = ci_gate_flow.with_options(retries=1, retry_delay_seconds=0)(
            repo="acme/model", pr_number=62, head_sha=SHA, task="qa", metric="accuracy",
            cluster="passage_id", min_delta=0.005, candidate=str(EXAMPLES / "candidate.json"),
            suite="demo", store=s3_uri, return_state=True)
    assert len(faults.injected) == 16
    assert state.is_completed(), state.message
    [(did, verdict)] = gates(store)
    assert (state.result()["decision_id"], verdict) == (did, "ALLOW")
    assert [(r.decision_id, r.verdict) for r in stored(store, 62)] == [(did, "ALLOW")] * 2


def test_other_parameters_or_a_recorded_verdict_gate_again(s3_server: S3Server,
                                                           s3_uri: str) -> None:
    store = open_store(s3_uri)
    seed(store)
    faults = FailAfterFirst(rate=100, kinds=("403 AccessDenied",), match=RECORD)
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        assert ci(s3_uri, str(EXAMPLES / "candidate.json"), 63).is_failed()
    # another policy is another gate: it decides afresh
    other = ci(s3_uri, str(EXAMPLES / "candidate.json"), 63, alpha=0.1)
    assert len(gates(store)) == 2
    # a gate whose verdict is recorded is gated again when asked again (a re-run job)
    assert ci(s3_uri, str(EXAMPLES / "candidate.json"), 63, alpha=0.1).name == other.name
    assert len(gates(store)) == 3


def test_a_verdict_recorded_under_the_commit_but_not_the_pr_is_completed_not_a_crash(
        s3_server: S3Server, s3_uri: str) -> None:
    """The verdict record landed under commits/<sha>/... and failed under prs/<n>/...: the
    next run writes it under the PR key only. Before: it looked up the commit key's ETag in
    the PR-only map and crashed with a KeyError (a traceback, no exit code, every redelivery
    the same), leaving the PR's record PENDING for good."""
    store = open_store(s3_uri)
    seed(store)
    faults = FailAfterFirst(rate=100, kinds=("403 AccessDenied",),
                            match=r"^PUT .*/ci/acme/model/prs/64/demo/qa/accuracy\.json")
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        first = ci(s3_uri, str(EXAMPLES / "candidate.json"), 64)
    assert faults.injected and first.message.startswith("STORAGE ERROR (exit 74): ")
    [(did, verdict)] = gates(store)
    assert [r.verdict for r in stored(store, 64)] == ["ALLOW", "PENDING"]

    again = ci(s3_uri, str(EXAMPLES / "candidate.json"), 64)
    assert again.is_completed(), again.message
    assert gates(store) == [(did, verdict)]  # still one audited decision
    assert len(again.result()["recorded"]) == 2
    assert [(r.decision_id, r.verdict) for r in stored(store, 64)] == [(did, "ALLOW")] * 2
