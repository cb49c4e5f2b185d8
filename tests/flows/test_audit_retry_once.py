"""A retried audit task never links a decision twice (real SeaweedFS behind a faulty proxy).

The audit head write lands, then every answer to it (and to boto's own re-sends) is lost:
the task fails with a transient storage error and Prefect retries it. The retry read a head
that already held the record and appended a second record of the same decision: one gate,
two audit records (and `evalsig history` showing the gate twice).
"""

from __future__ import annotations

import re

import pytest

from evalsig_core.audit import AUDIT_HEAD_KEY, verify_chain
from evalsig_flows.audit_log import recent_records
from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import S3Server
from tests.flows.faulty_proxy import Faults, faulty_proxy
from tests.flows.test_s3_faults import s3_through

pytestmark = pytest.mark.usefixtures("prefect_api")


class DropAnswers(Faults):
    """Forward every request; drop the answers to the first `rate` ones matching `match`."""

    def pick(self, line: str) -> str | None:
        if re.search(self.match, line) and len(self.injected) < self.rate:
            self.injected.append(f"drop-after {line}")
            return "drop-after"
        return None


def test_a_gate_whose_audit_answer_was_lost_is_audited_once(s3_server: S3Server,
                                                            s3_uri: str) -> None:
    from evalsig_flows.flows import gate_flow

    # the first write lands; every answer is lost (EVALSIG_S3_MAX_ATTEMPTS=3 retries: 4 sends)
    faults = DropAnswers(rate=4, match=r"^PUT .*/audit/head\.json")
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        state = gate_flow(baseline=str(EXAMPLES / "baseline.json"),
                          candidate=str(EXAMPLES / "candidate.json"), metric="accuracy",
                          cluster="passage_id", min_delta=0.005, store=s3_uri,
                          name="audit-once", return_state=True)
    assert len(faults.injected) == 4
    assert state.is_completed(), state.message
    store = open_store(s3_uri)
    records = [r for _, r in recent_records(store)]
    assert [r.decision_id for r in records] == [state.result()["decision_id"]]
    assert verify_chain(store.get(AUDIT_HEAD_KEY), store.get).ok
