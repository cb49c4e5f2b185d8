"""What one merge's webhook events do, from GitHub's payloads to the stored baseline.

GitHub sends both `pull_request` (closed, merged) and `push` to the default branch for a merge.
The receiver's routing (`route_event`) gives the promotion parameters; the promotion flow runs
through Prefect (the session's harness) against file:// and SeaweedFS (S3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import baseline_prefix, read_pointer
from evalsig_flows.github_events import RunRequest, route_event
from evalsig_flows.store import Store, open_store
from evalsig_flows.webhook import WebhookSettings
from tests.conftest import EXAMPLES
from tests.flows.conftest import seed_baseline

pytestmark = pytest.mark.usefixtures("prefect_api")

EVENTS = Path(__file__).resolve().parents[2] / "infra" / "local" / "events"
HEAD = "c0ffee0123456789abcdef0123456789abcdef01"   # the PR's head: what the CI gate decided
MERGE = "3e7e0123456789abcdef0123456789abcdef0123"  # the merge (or squash) commit on main
PREFIX = baseline_prefix("demo", "qa", "accuracy")


@pytest.fixture(params=["file", "s3"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    uri = tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")
    seed_baseline(open_store(uri), source={"seeded": True})
    return uri


def gate(uri: str, candidate: str) -> Any:
    from evalsig_flows.flows import ci_gate_flow

    return ci_gate_flow(repo="acme/evals", pr_number=42, head_sha=HEAD, task="qa",
                        metric="accuracy", cluster="passage_id", min_delta=0.005,
                        candidate=str(EXAMPLES / candidate), suite="demo", store=uri,
                        resamples=999, return_state=True)


def push_event(after: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / "push.json").read_text()), after=after)


def merged_pr_event() -> dict[str, Any]:
    doc = json.loads((EVENTS / "pull_request.json").read_text())
    doc["action"] = "closed"
    doc["pull_request"].update(merged=True, head={"ref": "pr-42", "sha": HEAD})
    return dict(doc)


def deliver(uri: str, event: str, payload: dict[str, Any]) -> Any:
    """Run the promotion the receiver would start for this event (same parameters)."""
    from evalsig_flows.flows import promote_baseline_flow

    wanted = route_event(event, payload, WebhookSettings.load({}, secret="s"))
    assert isinstance(wanted, RunRequest) and wanted.deployment.startswith("evalsig-promote")
    return promote_baseline_flow(**wanted.parameters, store=uri, return_state=True)


def trail(store: Store) -> list[str]:
    return [f"{r.decision}:{r.verdict}" for _, r in recent_records(store)][::-1]


def current(store: Store) -> str:
    pointer = read_pointer(store, PREFIX)[0]
    assert pointer is not None
    return pointer.current.version_sha256


def test_a_merge_commits_push_neither_fails_nor_is_audited_as_a_refusal(uri: str) -> None:
    gated = gate(uri, "candidate.json")
    assert gated.is_completed(), gated.message
    promoted = deliver(uri, "pull_request", merged_pr_event())
    assert promoted.is_completed(), promoted.message
    pushed = deliver(uri, "push", push_event(MERGE))
    assert pushed.is_completed(), pushed.message
    assert pushed.message.startswith(f"NOT GATED: no CI gate decided acme/evals commit {MERGE}")
    assert "a merged pull request promotes by its head SHA" in pushed.message
    assert pushed.result()["status"] == "not-gated"
    store = open_store(uri)
    assert trail(store) == ["gate:ALLOW", "promotion:PROMOTED", "promotion:NOT-GATED"]
    trace = next(recent_records(store))[1]
    assert (trace.exit_code, trace.context["commit"], trace.context["trigger"]) == (
        0, MERGE, "push")
    assert current(store) == gated.result()["candidate"]["sha256"]


def test_an_ungated_direct_push_to_main_stays_visible_in_the_trail(uri: str) -> None:
    store = open_store(uri)
    before = current(store)
    pushed = deliver(uri, "push", push_event(MERGE))
    assert pushed.is_completed() and pushed.message.startswith("NOT GATED: ")
    assert trail(store) == ["promotion:NOT-GATED"]
    assert "no CI gate decided" in next(recent_records(store))[1].context["reason"]
    assert current(store) == before


def test_a_not_gated_push_whose_trace_cannot_be_written_fails(tmp_path: Path) -> None:
    """Never a silent NOT GATED: the run fails (74), and a redelivery re-runs it."""
    from evalsig_core.audit import AUDIT_HEAD_KEY

    (tmp_path / AUDIT_HEAD_KEY).mkdir(parents=True)  # the trail cannot be read: a store fault
    pushed = deliver(tmp_path.as_uri(), "push", push_event(MERGE))
    assert pushed.is_failed() and pushed.message.startswith("STORAGE ERROR (exit 74): ")
    assert "not recorded: no CI gate decided" in pushed.message


def test_a_fast_forward_push_of_the_gated_head_still_promotes(uri: str) -> None:
    gated = gate(uri, "candidate.json")
    assert gated.is_completed(), gated.message
    pushed = deliver(uri, "push", push_event(HEAD))
    assert pushed.is_completed() and pushed.result()["status"] == "promoted", pushed.message
    store = open_store(uri)
    assert current(store) == gated.result()["candidate"]["sha256"]
    assert trail(store) == ["gate:ALLOW", "promotion:PROMOTED"]


def test_a_push_of_a_commit_gated_reject_is_still_refused_and_audited(uri: str) -> None:
    assert gate(uri, "regressed.json").is_failed()
    store = open_store(uri)
    before = current(store)
    pushed = deliver(uri, "push", push_event(HEAD))
    assert pushed.is_failed() and pushed.message.startswith("REFUSED (exit 1): ")
    assert "gated REJECT" in pushed.message
    assert trail(store) == ["gate:REJECT", "promotion:REFUSED"]
    assert current(store) == before


def test_a_merged_pr_that_no_gate_decided_is_still_refused(uri: str) -> None:
    refused = deliver(uri, "pull_request", merged_pr_event())
    assert refused.is_failed() and "no CI gate decision" in refused.message
    assert trail(open_store(uri)) == ["promotion:REFUSED"]


def _promoted(store: Store) -> list[str]:
    return [r.decision_id for _, r in recent_records(store) if r.verdict == "PROMOTED"]


@pytest.mark.parametrize("uri", ["s3"], indirect=True)
def test_twin_promotions_of_one_merge_audit_each_decision_once(
        uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast-forward merge: the push and the merged PR promote the same head concurrently.

    Both twins are held just before their audit append until both got there (so each has
    already checked the trail and found no record of the decision); then one appends, and the
    other once that record is linked (the interleaving that wrote the decision twice).
    """
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier, Lock

    from evalsig_flows import audit_log

    gated = gate(uri, "candidate.json")
    assert gated.is_completed(), gated.message
    start, audit, first = Barrier(2), Barrier(2), Lock()
    real_append = audit_log.append_record

    def append_in_turn(store: Store, fields: dict[str, Any], **kw: Any) -> Any:
        if fields["verdict"] != "PROMOTED":
            return real_append(store, fields, **kw)
        audit.wait(timeout=60)
        with first:  # the second twin reads the head after the first one's record is linked
            return real_append(store, fields, **kw)

    monkeypatch.setattr(audit_log, "append_record", append_in_turn)

    def twin(event: tuple[str, dict[str, Any]]) -> Any:
        start.wait(timeout=60)
        return deliver(uri, *event)

    with ThreadPoolExecutor(2) as pool:
        states = list(pool.map(twin, [("push", push_event(HEAD)),
                                      ("pull_request", merged_pr_event())]))
    assert all(s.is_completed() for s in states), [s.message for s in states]
    assert sorted(s.result()["entries"][0]["status"] for s in states) == [
        "already-current", "promoted"]
    store = open_store(uri)
    assert len(_promoted(store)) == 1, trail(store)
    assert trail(store) == ["gate:ALLOW", "promotion:PROMOTED"]
