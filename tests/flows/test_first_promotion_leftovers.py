"""A refused or raced first promotion leaves nothing that blocks the entry's next one.

Before: a first promotion (no `current.json` yet) wrote its version under `versions/` before
its checks and its pointer create. Refused after that (its set refused or rolled back), or
raced by another first promotion (each saw the other's version: "pointer missing"), it left a
version without a pointer, which reads as a deleted pointer: every later promotion and gate of
the entry was refused until someone moved `versions/` aside by hand. Now a first baseline's
version is written after the checks, right before its pointer create. A deleted pointer is
still refused (test_baseline_pointer_lost.py).
"""

from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import EvalsigError, InputNotFoundError
from evalsig_flows.baselines import PromotionRefused, fetch_baseline, promote, read_pointer
from evalsig_flows.store import Store, open_store
from tests.conftest import EXAMPLES
from tests.flows.test_baseline_pointer_lost import KW, PREFIX, _run


@pytest.fixture(params=["file", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")


class _InStep:
    """A store on which two racing first promotions go in step: each one's listing of
    `versions/` (the lost-pointer check) and each one's version write wait for the other's."""

    def __init__(self, inner: Store, barrier: threading.Barrier) -> None:
        self.inner, self.barrier, self.uri = inner, barrier, inner.uri

    def list(self, prefix: str) -> list[str]:
        keys = self.inner.list(prefix)
        if prefix.endswith("/versions/"):
            self._step()
        return keys

    def put(self, key: str, data: bytes, **kw: Any) -> Any:
        info = self.inner.put(key, data, **kw)
        if "/versions/" in key:
            self._step()
        return info

    def _step(self) -> None:
        # broken: the other racer stopped before this step (refused, or won already)
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=20)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_of_two_racing_first_promotions_one_wins_and_a_third_promotes(store_uri: str) -> None:
    inner = open_store(store_uri)
    barrier = threading.Barrier(2)

    def first(i: int) -> str:
        try:
            promote(_InStep(inner, barrier), data=_run(i),
                    expected_base=None, decision_id=f"d{i}", **KW)
        except PromotionRefused as exc:
            return f"refused: {exc.one_line()}"
        except EvalsigError as exc:  # before: each saw the other's version, "pointer missing"
            return f"error: {exc.one_line()}"
        return "won"

    with ThreadPoolExecutor(2) as ex:
        outcomes = list(ex.map(first, (1, 2)))
    assert sorted(o.split(":")[0] for o in outcomes) == ["refused", "won"], outcomes
    assert "another promotion won the race" in next(o for o in outcomes if o != "won")
    winner, _ = read_pointer(inner, PREFIX)
    assert winner is not None and winner.sequence == 1
    # the third, gated against the winner: promoted on top of it
    third = promote(inner, data=_run(3), expected_base=winner.current.version_sha256,
                    decision_id="d3", **KW)
    assert (third.status, third.pointer.sequence) == ("promoted", 2)
    assert third.pointer.previous == winner.current
    assert fetch_baseline(inner, PREFIX)[1] == _run(3)


@pytest.mark.usefixtures("prefect_api")
def test_a_refused_first_promotion_leaves_nothing_that_blocks_the_next(
        store_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A set of `qa` (with a baseline) and `math` (its first) is refused after staging: qa's
    baseline moved. Then math is gated again with another candidate and promoted alone."""
    import evalsig_flows.promotion as promotion
    from tests.flows.test_ci_multi_entry import ALLOW, REJECT, SHA, prefix, promote_flow
    from tests.flows.test_promotion_all_or_nothing import move_elsewhere
    from tests.flows.test_promotion_safety import seed

    store = open_store(store_uri)
    seed(store, task="qa")  # math has no baseline: gated against an explicit one
    assert _gate(store_uri, "qa", ALLOW, SHA).is_completed()
    assert _gate(store_uri, "math", ALLOW, SHA, explicit=True).is_completed()
    real = promotion.check_baselines

    def moved(uri: str, records: list[Any]) -> list[bool]:
        move_elsewhere(store, "qa", REJECT.read_bytes(), "elsewhere")
        return real(uri, records)

    monkeypatch.setattr(promotion, "check_baselines", moved)
    refused = promote_flow(store_uri, commit=SHA)
    assert refused.is_failed() and "the baseline moved since the gate" in refused.message
    monkeypatch.undo()
    math = prefix("math")
    assert read_pointer(store, math) == (None, None)
    assert store.list(f"{math}/versions/") == []  # nothing staged for a first baseline
    with pytest.raises(InputNotFoundError, match="no baseline promoted yet"):
        fetch_baseline(store, math)  # a gate against the store: nothing yet, not "deleted"

    other = tmp_path / "candidate-2.json"  # another ALLOW candidate: other bytes
    other.write_text(json.dumps(json.loads(ALLOW.read_text()) | {"run_id": "second-run"}))
    sha2 = "fedcba9876543210fedcba9876543210fedcba98"
    assert _gate(store_uri, "math", other, sha2, explicit=True).is_completed()
    state = promote_flow(store_uri, commit=sha2)
    assert state.is_completed(), state.message
    assert fetch_baseline(store, math)[1] == other.read_bytes()


def _gate(uri: str, task: str, candidate: Path, sha: str, explicit: bool = False) -> Any:
    from evalsig_flows.flows import ci_gate_flow

    return ci_gate_flow(repo="acme/model", pr_number=5, head_sha=sha, task=task,
                        metric="accuracy", cluster="passage_id", min_delta=0.005,
                        candidate=str(candidate), suite="demo", store=uri, resamples=2000,
                        baseline=str(EXAMPLES / "baseline.json") if explicit else None,
                        return_state=True)
