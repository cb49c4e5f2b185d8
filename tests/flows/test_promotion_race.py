"""Promotion races: of 20 promotions from one base exactly one wins; nothing is ever lost."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

from evalsig_flows.baselines import (
    PromotionRefused,
    baseline_prefix,
    fetch_baseline,
    promote,
    read_pointer,
)
from evalsig_flows.store import open_store

RACERS = 20


def _run(i: int) -> bytes:
    return json.dumps({"run_id": f"r{i}", "items": [{"item_id": "a", "score": i % 2}]}).encode()


def _promote_one(store_uri: str, i: int, base: str | None) -> str:
    """One racer: promote run i on top of `base`; 'won' or 'refused'."""
    try:
        r = promote(open_store(store_uri), suite="s", task="t", metric="m", data=_run(i),
                    ext="json", expected_base=base, decision_id=f"d{i}", source={"i": i})
    except PromotionRefused:
        return "refused"
    return "won" if r.status == "promoted" else r.status


def _race(store_uri: str, base: str | None, first: int, pool: str) -> list[str]:
    ids = range(first, first + RACERS)
    if pool == "threads":
        with ThreadPoolExecutor(RACERS) as ex:
            return list(ex.map(lambda i: _promote_one(store_uri, i, base), ids))
    with ProcessPoolExecutor(8, mp_context=get_context("fork")) as ex:
        return list(ex.map(_promote_one, [store_uri] * RACERS, ids, [base] * RACERS))


@pytest.mark.parametrize("backend", ["file-processes", "s3-threads"])
def test_exactly_one_of_twenty_promotions_wins_per_base_version(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    uri = tmp_path.as_uri() if backend.startswith("file") else request.getfixturevalue("s3_uri")
    pool = backend.split("-")[1]
    store = open_store(uri)
    prefix = baseline_prefix("s", "t", "m")
    assert promote(store, suite="s", task="t", metric="m", data=_run(-1), ext="json",
                   expected_base=None, decision_id="seed", source={}).status == "promoted"
    history = [read_pointer(store, prefix)[0]]
    for round_ in range(2):
        base = history[-1].current.version_sha256
        outcomes = _race(uri, base, 100 * round_, pool)
        assert outcomes.count("won") == 1 and outcomes.count("refused") == RACERS - 1
        pointer, _ = read_pointer(store, prefix)
        assert pointer is not None and pointer.sequence == round_ + 2
        assert pointer.previous == history[-1].current
        history.append(pointer)
    # Every version ever written is still there and intact: the pointers' and those of the
    # losers that passed the checks before the winner moved (a loser refused there writes none).
    versions = [k for k in store.list(prefix + "/versions/") if not k.endswith(".lock")]
    assert {p.current.key for p in history} <= set(versions)
    assert len(versions) <= 1 + 2 * RACERS
    for key in versions:
        assert hashlib.sha256(store.get(key)).hexdigest() == key.rsplit("/", 1)[1][:64]
    _, data = fetch_baseline(store, prefix)
    assert data in [_run(i) for i in (*range(RACERS), *range(100, 100 + RACERS))]


def test_promoting_the_current_version_again_is_a_no_op(tmp_path: Path) -> None:
    store = open_store(tmp_path.as_uri())
    kw: dict[str, Any] = {"suite": "s", "task": "t", "metric": "m", "ext": "json", "source": {}}
    first = promote(store, data=_run(1), expected_base=None, decision_id="a", **kw)
    again = promote(store, data=_run(1), expected_base="whatever", decision_id="a", **kw)
    assert again.status == "already-current" and again.pointer == first.pointer


def test_a_promotion_gated_against_an_old_base_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path.as_uri())
    kw: dict[str, Any] = {"suite": "s", "task": "t", "metric": "m", "ext": "json", "source": {}}
    promote(store, data=_run(1), expected_base=None, decision_id="a", **kw)
    with pytest.raises(PromotionRefused, match="moved since the gate"):
        promote(store, data=_run(2), expected_base="0" * 64, decision_id="b", **kw)


@pytest.mark.parametrize("backend", ["file", "s3"])
def test_a_rollback_restores_the_previous_version_and_never_clobbers_a_later_move(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from evalsig_flows.baselines import roll_back_pointer

    store = open_store(tmp_path.as_uri() if backend == "file"
                       else request.getfixturevalue("s3_uri"))
    kw: dict[str, Any] = {"suite": "s", "task": "t", "metric": "m"}
    first = promote(store, data=_run(1), ext="json", expected_base=None, decision_id="a",
                    source={}, **kw)
    assert roll_back_pointer(store, decision_id="a", rollback_id="x", **kw).status == \
        "first-baseline"  # a created pointer has no earlier version to point at again
    ours = promote(store, data=_run(2), ext="json", decision_id="b", source={},
                   expected_base=first.pointer.current.version_sha256, **kw).pointer
    undone = roll_back_pointer(store, decision_id="b", rollback_id="x", **kw)
    assert undone.status == "rolled-back" and undone.pointer is not None
    assert (undone.pointer.sequence, undone.pointer.previous) == (3, ours.current)
    assert undone.pointer.current.version_sha256 == first.pointer.current.version_sha256
    assert undone.pointer.current.source["rollback_of"] == "b"
    # a retry (its answer lost), or a twin run of decision b rolling back too: nothing new
    again = roll_back_pointer(store, decision_id="b", rollback_id="twin", **kw)
    assert again.status == "rolled-back" and again.pointer == undone.pointer
    assert read_pointer(store, baseline_prefix("s", "t", "m"))[0] == undone.pointer
    # b promoted again (a replay), then c moves it on: a late rollback of b leaves c's
    base = undone.pointer.current.version_sha256
    promote(store, data=_run(2), ext="json", decision_id="b", source={}, expected_base=base,
            **kw)
    later = promote(store, data=_run(3), ext="json", decision_id="c", source={},
                    expected_base=hashlib.sha256(_run(2)).hexdigest(), **kw).pointer
    late = roll_back_pointer(store, decision_id="b", rollback_id="y", **kw)
    assert late.status == "moved-on" and late.pointer == later
    assert read_pointer(store, baseline_prefix("s", "t", "m"))[0] == later


def test_a_rollback_losing_its_conditional_write_leaves_the_winner(tmp_path: Path) -> None:
    """Another promotion lands between the rollback's read and its write (If-Match fails)."""
    from evalsig_flows.baselines import roll_back_pointer
    from tests.flows.test_promotion_safety import _TwinFirst

    inner = open_store(tmp_path.as_uri())
    kw: dict[str, Any] = {"suite": "s", "task": "t", "metric": "m"}
    promote(inner, data=_run(1), ext="json", expected_base=None, decision_id="a",
            source={}, **kw)
    ours = promote(inner, data=_run(2), ext="json", decision_id="b", source={},
                   expected_base=hashlib.sha256(_run(1)).hexdigest(), **kw).pointer
    winner: list[Any] = []

    def third() -> None:
        winner.append(promote(inner, data=_run(3), ext="json", decision_id="c", source={},
                              expected_base=ours.current.version_sha256, **kw).pointer)

    result = roll_back_pointer(_TwinFirst(inner, third), decision_id="b", rollback_id="x",
                               **kw)
    assert result.status == "moved-on" and result.pointer == winner[0]
    assert read_pointer(inner, baseline_prefix("s", "t", "m"))[0] == winner[0]
