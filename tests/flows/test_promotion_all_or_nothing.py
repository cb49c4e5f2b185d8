"""A set promotion is all or nothing even when another promotion races it between its writes.

Through Prefect against file:// and SeaweedFS (S3), with the set of test_ci_multi_entry.py:
tasks `qa` and `math` of suite `demo` gated ALLOW on one commit; pointers move in sorted
order (math, then qa). The race is a hook: another promotion moves qa's baseline after math's
pointer moved (or after staging), as a run outside the deployment's concurrency limit would.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import StorageError
from evalsig_flows.audit_log import recent_records
from evalsig_flows.baselines import promote, read_pointer
from evalsig_flows.store import Store, open_store
from tests.conftest import EXAMPLES
from tests.flows.test_ci_multi_entry import (
    ALLOW,
    REJECT,
    SHA,
    TASKS,
    chain,
    current,
    gate,
    prefix,
    promote_flow,
    seed,
)

pytestmark = pytest.mark.usefixtures("prefect_api")

BASE = hashlib.sha256((EXAMPLES / "baseline.json").read_bytes()).hexdigest()


@pytest.fixture(params=["file", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    uri = tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")
    seed(open_store(uri))
    return uri


def gated(uri: str) -> dict[str, str]:
    """Gate both tasks ALLOW; their candidates' SHA-256."""
    states = {t: gate(uri, t, ALLOW) for t in TASKS}
    assert all(s.is_completed() for s in states.values())
    return {t: s.result()["candidate"]["sha256"] for t, s in states.items()}


def move_elsewhere(store: Store, task: str, data: bytes, decision_id: str) -> str:
    """Another promotion moves the entry's baseline (from whatever is current)."""
    return promote(store, suite="demo", task=task, metric="accuracy", data=data, ext="json",
                   expected_base=current(store, task), decision_id=decision_id,
                   source={}).pointer.current.version_sha256


def after_math_moves(monkeypatch: pytest.MonkeyPatch, race: Any) -> None:
    """Run `race()` once, right after math's pointer moved (before qa's write)."""
    import evalsig_flows.promotion as promotion

    real, fired = promotion.move_pointer, [False]

    def hooked(store: Store, **kw: Any) -> Any:
        result = real(store, **kw)
        if kw["task"] == "math" and not fired[0]:
            fired[0] = True
            race()
        return result

    monkeypatch.setattr(promotion, "move_pointer", hooked)


def data(state: Any) -> Any:
    return state.result(raise_on_failure=False).result


def test_a_baseline_moved_between_the_writes_rolls_back_what_moved(
        store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cands = gated(store_uri)
    store = open_store(store_uri)
    winner: list[str] = []
    after_math_moves(monkeypatch, lambda: winner.append(
        move_elsewhere(store, "qa", REJECT.read_bytes(), "winner")))
    state = promote_flow(store_uri, commit=SHA)
    assert state.is_failed() and state.message.startswith("REFUSED (exit 1): ")
    assert "qa/accuracy/current.json: the baseline moved since the gate" in state.message
    assert "rolled back: demo/math/accuracy" in state.message
    assert "audited ROLLED-BACK" in state.message and "HALF PROMOTED" not in state.message
    assert current(store, "math") == BASE and current(store, "qa") == winner[0]
    pointer = read_pointer(store, prefix("math"))[0]
    assert pointer is not None and pointer.sequence == 3  # seed, ours, its rollback
    assert pointer.previous is not None and pointer.previous.version_sha256 == cands["math"]
    assert pointer.current.source["rollback_of"] == pointer.previous.decision_id
    assert pointer.current.source["restores"]["decision_id"] == "seed-math"
    # the rolled-back version stays stored, intact
    assert hashlib.sha256(store.get(pointer.previous.key)).hexdigest() == cands["math"]
    assert chain(store)[-2:] == ["promotion:ROLLED-BACK", "promotion:REFUSED"]
    rollback = [r for _, r in recent_records(store)][1]
    assert rollback.decision_id == pointer.current.decision_id
    assert [e["entry"] for e in rollback.context["rolled_back"]] == ["demo/math/accuracy"]
    assert rollback.context["not_rolled_back"] == []
    assert [e["entry"] for e in data(state)["rolled_back"]] == ["demo/math/accuracy"]

    replay = promote_flow(store_uri, commit=SHA)  # qa's baseline moved since the gate
    assert replay.is_failed() and "the baseline moved since the gate" in replay.message
    assert current(store, "math") == BASE and current(store, "qa") == winner[0]
    assert chain(store)[-1] == "promotion:REFUSED"


def test_a_replay_promotes_the_whole_set_once_the_race_winner_is_rolled_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalsig_flows.baselines import roll_back_pointer

    uri = tmp_path.as_uri()
    store = open_store(uri)
    seed(store)
    cands = gated(uri)
    after_math_moves(monkeypatch, lambda: move_elsewhere(store, "qa", REJECT.read_bytes(),
                                                         "winner"))
    assert promote_flow(uri, commit=SHA).is_failed()
    # the winner's own set failed too and rolled qa back (as this one did math)
    assert roll_back_pointer(store, suite="demo", task="qa", metric="accuracy",
                             decision_id="winner", rollback_id="rollback-w").status == \
        "rolled-back"
    assert {t: current(store, t) for t in TASKS} == {"math": BASE, "qa": BASE}
    replay = promote_flow(uri, commit=SHA)
    assert replay.is_completed(), replay.message
    assert [e["status"] for e in replay.result()["entries"]] == ["promoted", "promoted"]
    assert {t: current(store, t) for t in TASKS} == cands
    assert chain(store).count("promotion:PROMOTED") == 2  # the replay's, once each


@pytest.mark.parametrize("backend", ["file", "s3"])
def test_an_entry_moved_on_before_its_rollback_is_left_and_reported_loudly(
        backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    uri = tmp_path.as_uri() if backend == "file" else request.getfixturevalue("s3_uri")
    store = open_store(uri)
    seed(store)
    cands = gated(uri)
    third: list[str] = []

    def race() -> None:
        move_elsewhere(store, "qa", REJECT.read_bytes(), "winner")
        # a third promotion, gated against our math candidate, moves math on meanwhile
        third.append(move_elsewhere(store, "math", REJECT.read_bytes(), "third"))

    after_math_moves(monkeypatch, race)
    state = promote_flow(uri, commit=SHA)
    assert state.is_failed() and state.message.startswith("REFUSED (exit 1): ")
    assert (f"SET HALF PROMOTED, NOT ROLLED BACK: demo/math/accuracy stays at "
            f"{cands['math'][:12]} (another promotion moved it since: current is "
            f"{third[0][:12]})") in state.message
    assert "audited ROLLBACK-INCOMPLETE" in state.message
    assert current(store, "math") == third[0]  # never clobbered
    assert chain(store)[-2:] == ["promotion:ROLLBACK-INCOMPLETE", "promotion:REFUSED"]
    assert [e["entry"] for e in data(state)["not_rolled_back"]] == ["demo/math/accuracy"]


def test_a_baseline_moved_during_staging_is_refused_before_any_pointer_moves(
        store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import evalsig_flows.promotion as promotion

    gated(store_uri)
    store = open_store(store_uri)
    real = promotion.stage_version

    def staged(uri: str, record: Any) -> str | None:
        key = real(uri, record)
        if record.task == "qa":  # the last one staged: then the pointer writes would begin
            move_elsewhere(store, "qa", REJECT.read_bytes(), "winner")
        return key

    monkeypatch.setattr(promotion, "stage_version", staged)
    state = promote_flow(store_uri, commit=SHA)
    assert state.is_failed() and "the baseline moved since the gate" in state.message
    assert "rolled back" not in state.message
    pointer = read_pointer(store, prefix("math"))[0]
    assert pointer is not None and pointer.sequence == 1  # never moved: nothing to undo
    assert chain(store)[-1] == "promotion:REFUSED" and "promotion:ROLLED-BACK" not in (
        chain(store))


def test_a_first_baseline_is_written_last_so_a_failure_before_it_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A created pointer cannot be rolled back (there is no "none" to point at again)."""
    uri = tmp_path.as_uri()
    store = open_store(uri)
    seed(store)
    math = prefix("math")
    (tmp_path / math / "current.json").unlink()
    for key in store.list(f"{math}/versions/"):
        (tmp_path / key).unlink()  # math has no baseline: gated against an explicit one
    baseline = str(EXAMPLES / "baseline.json")
    from evalsig_flows.flows import ci_gate_flow

    for t in TASKS:
        assert ci_gate_flow(repo="acme/model", pr_number=5, head_sha=SHA, task=t,
                            metric="accuracy", cluster="passage_id", min_delta=0.005,
                            candidate=str(ALLOW), suite="demo", store=uri, resamples=2000,
                            baseline=baseline, return_state=True).is_completed()
    import evalsig_flows.promotion as promotion

    real, order = promotion.move_pointer, []

    def hooked(store_: Store, **kw: Any) -> Any:
        order.append(kw["task"])
        if kw["task"] == "math":  # the first baseline's write fails (for good: no retry)
            err = StorageError(f"{store.url(math)}/current.json: injected write failure")
            err.permanent = True  # type: ignore[attr-defined]
            raise err
        return real(store_, **kw)

    monkeypatch.setattr(promotion, "move_pointer", hooked)
    state = promote_flow(uri, commit=SHA)
    assert order == ["qa", "math"]  # qa has a baseline to restore: it goes first
    assert state.is_failed() and state.message.startswith("STORAGE ERROR (exit 74): ")
    assert "rolled back: demo/qa/accuracy" in state.message
    assert "HALF PROMOTED" not in state.message
    assert current(store, "qa") == BASE and read_pointer(store, math) == (None, None)
