"""A promotion that was made and audited is never applied a second time after the baseline
moved on (e.g. it was reverted): a re-run of the old promotion (by hand, or a retried run of
its event) is refused, not a silent move without an audit record.

Before: the re-run passed the gated-base check (the revert restored the very bytes it was
gated against), moved the pointer back to its candidate and reported PROMOTED, while its
audit write found the decision's record of the first time and added none: the baseline
moved with nothing in the trail saying so, and `evalsig history` named the revert as the
last decision.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import baseline_prefix, promote, read_pointer
from evalsig_flows.store import open_store
from tests.flows.test_promotion_safety import ALLOW, BASELINE, gate, promote_flow, seed

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_a_promotion_reverted_since_is_refused_when_run_again(tmp_path: Path) -> None:
    uri = (tmp_path / "store").as_uri()
    store = open_store(uri)
    seed(store)
    prefix = baseline_prefix("demo", "qa", "accuracy")
    assert gate(uri, "qa", ALLOW).is_completed()
    first = promote_flow(uri, task="qa")
    assert first.is_completed(), first.message
    seeded = first.result()["entries"][0]["previous_sha256"]
    candidate = first.result()["entries"][0]["version_sha256"]
    # the team reverts: the old baseline is promoted again over the candidate
    promote(store, suite="demo", task="qa", metric="accuracy", data=BASELINE, ext="json",
            expected_base=candidate, decision_id="revert", source={"revert": True})
    records = len(list(recent_records(store)))

    again = promote_flow(uri, task="qa")
    pointer, _ = read_pointer(store, prefix)
    assert pointer is not None and pointer.current.version_sha256 == seeded  # stays reverted
    assert pointer.current.decision_id == "revert"
    assert again.is_failed() and again.name == "Refused", again.message
    assert again.message.startswith("REFUSED (exit 1): "), again.message
    assert "already promoted" in again.message and "\n" not in again.message
    assert len(list(recent_records(store))) == records + 1  # the refusal is audited


def test_the_same_commit_gated_again_after_a_revert_is_promoted_and_audited(
        tmp_path: Path) -> None:
    """A new gate decision on the same commit is a new promotion decision: promoted and
    audited anew. Before: its promotion shared the first one's decision id, so it moved the
    pointer with no audit record (the decision counted as already audited)."""
    uri = (tmp_path / "store").as_uri()
    store = open_store(uri)
    seed(store)
    assert gate(uri, "qa", ALLOW).is_completed()
    first = promote_flow(uri, task="qa")
    candidate = first.result()["entries"][0]["version_sha256"]
    promote(store, suite="demo", task="qa", metric="accuracy", data=BASELINE, ext="json",
            expected_base=candidate, decision_id="revert", source={"revert": True})
    regated = gate(uri, "qa", ALLOW)  # the same commit, gated against the reverted baseline
    assert regated.is_completed(), regated.message

    again = promote_flow(uri, task="qa")
    assert again.is_completed(), again.message
    [entry] = again.result()["entries"]
    assert entry["status"] == "promoted" and entry["version_sha256"] == candidate
    assert entry["gate_decision_id"] == regated.result()["decision_id"]
    newest = next(recent_records(store))[1]
    assert (newest.decision, newest.verdict) == ("promotion", "PROMOTED")
    assert newest.decision_id == entry["decision_id"] != first.result()["entries"][0][
        "decision_id"]
    assert newest.context["gate_decision_id"] == regated.result()["decision_id"]
