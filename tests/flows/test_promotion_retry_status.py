"""A promotion whose pointer write landed but whose answers were all lost says "promoted".

The promote task failed with a transient storage error and Prefect retried it; the retry
found the pointer already at its version and answered "already-current", so the flow
completed "ALREADY-CURRENT" with every entry `already-current`, although this very run had
moved the baseline (real SeaweedFS behind a proxy dropping those answers).
"""

from __future__ import annotations

import pytest

from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import read_pointer
from evalsig_flows.store import open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import S3Server
from tests.flows.faulty_proxy import faulty_proxy
from tests.flows.test_audit_retry_once import DropAnswers
from tests.flows.test_ci_and_promotion_flows import PREFIX, SHA, ci, seed
from tests.flows.test_s3_faults import s3_through

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_retried_pointer_move_that_had_landed_reports_promoted(s3_server: S3Server,
                                                                 s3_uri: str) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    seed(open_store(s3_uri))
    gated = ci(s3_uri, str(EXAMPLES / "candidate.json"), 53)
    assert gated.is_completed(), gated.message
    faults = DropAnswers(rate=4, match=r"^PUT .*/current\.json")  # 1 lands, 4 answers lost
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        state = promote_baseline_flow(repo="acme/model", commit=SHA, store=s3_uri,
                                      return_state=True)
    assert len(faults.injected) == 4
    assert state.is_completed(), state.message
    assert state.message.startswith("PROMOTED: "), state.message
    assert [e["status"] for e in state.result()["entries"]] == ["promoted"]
    store = open_store(s3_uri)
    pointer = read_pointer(store, PREFIX)[0]
    assert pointer is not None and pointer.sequence == 2
    assert [r.verdict for _, r in recent_records(store)].count("PROMOTED") == 1
