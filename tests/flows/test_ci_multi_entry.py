"""Several entries gated on one commit: each recorded, promoted together or not at all.

Through Prefect (the session's test harness) against file:// and SeaweedFS (S3): tasks `qa`
and `math` of suite `demo` share the example baseline; candidate.json is ALLOW against it,
regressed.json REJECT (deployments/examples/make_examples.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalsig_core.audit import AUDIT_HEAD_KEY, verify_chain
from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import baseline_prefix, promote, read_pointer
from evalsig_flows.store import Store, open_store
from tests.conftest import EXAMPLES
from tests.flows.conftest import S3Server
from tests.flows.faulty_proxy import Faults, faulty_proxy
from tests.flows.test_s3_faults import s3_through

pytestmark = pytest.mark.usefixtures("prefect_api")

SHA = "89abcdef0123456789abcdef0123456789abcdef"
TASKS = ("qa", "math")
ALLOW, REJECT = EXAMPLES / "candidate.json", EXAMPLES / "regressed.json"


def prefix(task: str) -> str:
    return baseline_prefix("demo", task, "accuracy")


@pytest.fixture(params=["file", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    uri = tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")
    seed(open_store(uri))
    return uri


@pytest.fixture
def file_uri(tmp_path: Path) -> str:
    uri = (tmp_path / "store").as_uri()
    seed(open_store(uri))
    return uri


def seed(store: Store) -> None:
    for task in TASKS:
        promote(store, suite="demo", task=task, metric="accuracy",
                data=(EXAMPLES / "baseline.json").read_bytes(), ext="json",
                expected_base=None, decision_id=f"seed-{task}", source={"seeded": True})


def gate(uri: str, task: str, candidate: Path, pr: int = 5, sha: str = SHA) -> Any:
    from evalsig_flows.flows import ci_gate_flow

    return ci_gate_flow(repo="acme/model", pr_number=pr, head_sha=sha, task=task,
                        metric="accuracy", cluster="passage_id", min_delta=0.005,
                        candidate=str(candidate), suite="demo", store=uri,
                        resamples=2000, return_state=True)


def promote_flow(uri: str, **kw: Any) -> Any:
    from evalsig_flows.flows import promote_baseline_flow

    return promote_baseline_flow(repo="acme/model", store=uri, return_state=True, **kw)


def current(store: Store, task: str) -> str:
    pointer = read_pointer(store, prefix(task))[0]
    assert pointer is not None
    return pointer.current.version_sha256


def chain(store: Store) -> list[str]:
    assert verify_chain(store.get(AUDIT_HEAD_KEY), store.get).ok
    return [f"{r.decision}:{r.verdict}" for _, r in recent_records(store)][::-1]


def test_two_tasks_on_one_commit_are_both_recorded(store_uri: str) -> None:
    assert gate(store_uri, "qa", ALLOW).is_completed()
    assert gate(store_uri, "math", REJECT).is_failed()
    store = open_store(store_uri)
    for where in (f"commits/{SHA}", "prs/5"):
        verdicts = {t: json.loads(store.get(f"ci/acme/model/{where}/demo/{t}/accuracy.json"))[
            "verdict"] for t in TASKS}
        assert verdicts == {"qa": "ALLOW", "math": "REJECT"}


def test_a_merge_promotes_every_allowed_entry_and_a_replay_changes_nothing(
        store_uri: str) -> None:
    gated = {t: gate(store_uri, t, ALLOW) for t in TASKS}
    assert all(s.is_completed() for s in gated.values())
    store = open_store(store_uri)
    state = promote_flow(store_uri, commit=SHA, pr_number=5)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["status"] == "promoted"
    assert [(e["entry"], e["status"]) for e in summary["entries"]] == [
        ("demo/math/accuracy", "promoted"), ("demo/qa/accuracy", "promoted")]
    for t in TASKS:
        assert current(store, t) == gated[t].result()["candidate"]["sha256"]
    records = chain(store)
    assert records == ["gate:ALLOW", "gate:ALLOW", "promotion:PROMOTED", "promotion:PROMOTED"]

    replay = promote_flow(store_uri, pr_number=5)
    assert replay.is_completed(), replay.message
    assert replay.result()["status"] == "already-current"
    assert {e["status"] for e in replay.result()["entries"]} == {"already-current"}
    assert chain(store) == records  # nothing new to record


def test_one_rejected_entry_blocks_the_whole_commit_and_the_refusal_is_audited(
        store_uri: str) -> None:
    assert gate(store_uri, "qa", ALLOW).is_completed()
    assert gate(store_uri, "math", REJECT).is_failed()
    store = open_store(store_uri)
    before = {t: current(store, t) for t in TASKS}
    state = promote_flow(store_uri, commit=SHA)
    assert state.is_failed() and state.message.startswith("REFUSED (exit 1): ")
    assert "demo/math/accuracy was gated REJECT" in state.message
    assert "nothing promoted (1 of 2 entries not ALLOW)" in state.message
    assert {t: current(store, t) for t in TASKS} == before  # qa's ALLOW was not promoted
    assert chain(store)[-1] == "promotion:REFUSED"
    refusal = next(r for _, r in recent_records(store))
    assert refusal.context["entries"] == {"demo/math/accuracy": "REJECT",
                                          "demo/qa/accuracy": "ALLOW"}


def test_a_pending_entry_blocks_the_commit(file_uri: str, tmp_path: Path) -> None:
    assert gate(file_uri, "qa", ALLOW).is_completed()
    broken = gate(file_uri, "math", tmp_path / "missing.json")  # fails after PENDING
    assert broken.is_failed() and broken.message.startswith("INPUT NOT FOUND (exit 66)")
    store = open_store(file_uri)
    before = current(store, "qa")
    state = promote_flow(file_uri, commit=SHA)
    assert state.is_failed() and "demo/math/accuracy was gated PENDING" in state.message
    assert current(store, "qa") == before


def test_narrowing_to_one_task_promotes_only_that_entry(file_uri: str) -> None:
    qa = gate(file_uri, "qa", ALLOW)
    assert gate(file_uri, "math", REJECT).is_failed()
    store = open_store(file_uri)
    math_before = current(store, "math")
    state = promote_flow(file_uri, commit=SHA, task="qa")
    assert state.is_completed(), state.message
    assert [e["entry"] for e in state.result()["entries"]] == ["demo/qa/accuracy"]
    assert current(store, "qa") == qa.result()["candidate"]["sha256"]
    assert current(store, "math") == math_before
    missing = promote_flow(file_uri, commit=SHA, task="code")
    assert missing.is_failed() and "recorded: demo/math/accuracy, demo/qa/accuracy" in (
        missing.message)


def test_a_moved_baseline_of_one_entry_blocks_every_entry(file_uri: str) -> None:
    assert all(gate(file_uri, t, ALLOW).is_completed() for t in TASKS)
    store = open_store(file_uri)
    # qa is promoted after math (entries go in sorted order): its check must come first
    moved = promote(store, suite="demo", task="qa", metric="accuracy",
                    data=REJECT.read_bytes(), ext="json", decision_id="elsewhere",
                    expected_base=current(store, "qa"), source={})
    math_before = current(store, "math")
    state = promote_flow(file_uri, commit=SHA)
    assert state.is_failed() and "the baseline moved since the gate" in state.message
    assert current(store, "math") == math_before  # checked before any pointer moved
    assert current(store, "qa") == moved.pointer.current.version_sha256


def test_a_store_failure_between_two_pointers_rolls_back_and_a_replay_completes(
        s3_server: S3Server, s3_uri: str) -> None:
    seed(open_store(s3_uri))
    gated = {t: gate(s3_uri, t, ALLOW) for t in TASKS}
    store = open_store(s3_uri)
    before = {t: current(store, t) for t in TASKS}
    faults = Faults(rate=1.0, kinds=("500",), match=r"^PUT .*/demo/qa/accuracy/current\.json")
    with faulty_proxy(s3_server.endpoint, faults) as proxy, s3_through(proxy):
        state = promote_flow(s3_uri, commit=SHA)  # math goes first, then qa's write fails
    assert state.is_failed() and state.message.startswith("STORAGE ERROR (exit 74): ")
    assert "rolled back: demo/math/accuracy" in state.message
    assert {t: current(store, t) for t in TASKS} == before  # all or nothing
    assert chain(store)[-1] == "promotion:ROLLED-BACK"  # a storage error is no refusal
    replay = promote_flow(s3_uri, commit=SHA)
    assert replay.is_completed(), replay.message
    assert [e["status"] for e in replay.result()["entries"]] == ["promoted", "promoted"]
    assert {t: current(store, t) for t in TASKS} == {
        t: s.result()["candidate"]["sha256"] for t, s in gated.items()}
    assert chain(store).count("promotion:PROMOTED") == 2


def test_a_pr_whose_entries_come_from_different_commits_is_refused(file_uri: str) -> None:
    assert gate(file_uri, "qa", ALLOW, sha=SHA).is_completed()
    assert gate(file_uri, "math", ALLOW, sha="fedcba9876543210").is_completed()
    store = open_store(file_uri)
    before = {t: current(store, t) for t in TASKS}
    state = promote_flow(file_uri, pr_number=5)
    assert state.is_failed() and "last gated on different commits" in state.message
    assert {t: current(store, t) for t in TASKS} == before


def test_an_old_layout_record_is_refused_with_the_fix_unless_narrowed(
        file_uri: str, tmp_path: Path) -> None:
    """A store written before per-entry records: one commits/<sha>.json, the last gate."""
    assert gate(file_uri, "qa", ALLOW).is_completed()
    store = open_store(file_uri)
    root = tmp_path / "store" / "ci"
    new = root / f"acme/model/commits/{SHA}/demo/qa/accuracy.json"
    (root / f"acme/model/commits/{SHA}.json").write_bytes(new.read_bytes())
    for path in (new, root / "acme/model/prs/5/demo/qa/accuracy.json"):
        path.unlink()
    before = current(store, "qa")
    state = promote_flow(file_uri, commit=SHA)
    assert state.is_failed() and state.message.startswith("REFUSED (exit 1): ")
    assert "old layout" in state.message and "suite='demo', task='qa'" in state.message
    assert "\n" not in state.message and "Traceback" not in state.message
    assert current(store, "qa") == before
    narrowed = promote_flow(file_uri, commit=SHA, suite="demo", task="qa", metric="accuracy")
    assert narrowed.is_completed(), narrowed.message
    assert current(store, "qa") != before
