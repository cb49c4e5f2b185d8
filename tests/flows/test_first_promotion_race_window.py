"""A check running between a concurrent first promotion's two writes sees the race, not a loss.

A first promotion writes its version, then creates its pointer. Before, a second first
promotion (or the promotion flow's staging check, or a gate fetching the baseline) that looked
in between found that version and no pointer and refused with the deleted-pointer error (65,
"restore current.json"), though nothing was lost: the pointer came a moment later. Now the
check reads the pointer again for up to RACE_WAIT_S: the promotion is refused as having lost
the race (1), the gate reads the new baseline. A version whose pointer never comes (a deleted
pointer, a first promotion killed between its writes) is still the 65 with its fix.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import ExitCode, InputError
from evalsig_flows.baselines import (
    PromotionRefused,
    fetch_baseline,
    promote,
    put_version,
    read_pointer,
)
from evalsig_flows.ci_records import GateRecord
from evalsig_flows.store import Store, open_store
from tests.flows.test_baseline_pointer_lost import KW, PREFIX, _run, _sha

PAUSE = 0.5  # the first promotion's pause between its version and its pointer writes


@pytest.fixture(params=["file", "s3"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return tmp_path.as_uri() if request.param == "file" else request.getfixturevalue("s3_uri")


class _PausedAfterVersion:
    """A store on which a promotion pauses between its version write and its pointer write."""

    def __init__(self, inner: Store, written: threading.Event) -> None:
        self.inner, self.written, self.uri = inner, written, inner.uri

    def put(self, key: str, data: bytes, **kw: Any) -> Any:
        info = self.inner.put(key, data, **kw)
        if "/versions/" in key:
            self.written.set()
            threading.Event().wait(PAUSE)
        return info

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@contextmanager
def _first_promotion_between_its_writes(store: Store) -> Iterator[Callable[[], None]]:
    """Run 1's first promotion in a thread; inside the block its version is written and its
    pointer not yet (for PAUSE seconds). Yields a join that returns once it ended."""
    written, failures = threading.Event(), []

    def first() -> None:
        try:
            promote(_PausedAfterVersion(store, written), data=_run(1), expected_base=None,
                    decision_id="d1", **KW)
        except Exception as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
            written.set()

    thread = threading.Thread(target=first)
    thread.start()
    assert written.wait(30)

    def join() -> None:
        thread.join(30)
        assert not failures, failures

    try:
        yield join
    finally:
        thread.join(30)
    assert store.head(PREFIX + "/current.json") is not None


def test_a_first_promotion_checked_between_anothers_writes_lost_the_race(
        store_uri: str) -> None:
    store = open_store(store_uri)
    with _first_promotion_between_its_writes(store) as join:
        assert read_pointer(store, PREFIX) == (None, None)  # run 1's version, no pointer yet
        with pytest.raises(PromotionRefused) as err:
            promote(store, data=_run(2), expected_base=None, decision_id="d2", **KW)
        join()
    line = err.value.one_line()
    assert err.value.exit_code == ExitCode.REJECT
    assert line == (f"{store.url(PREFIX + '/current.json')}: another promotion won the race "
                    f"from no baseline (current is now {_sha(1)[:12]}) (fix: re-run the gate "
                    "against the new baseline, then promote)")
    pointer, _ = read_pointer(store, PREFIX)
    assert pointer is not None and pointer.current.version_sha256 == _sha(1)
    assert pointer.sequence == 1


def test_the_promotion_flows_check_between_anothers_writes_lost_the_race(
        store_uri: str) -> None:
    """The flow's staging check of a first baseline (gated against an explicit baseline)."""
    from evalsig_flows.promotion import stage_version

    store = open_store(store_uri)
    store.put("candidates/run2.json", _run(2))
    record = GateRecord(
        decision_id="gate-1", verdict="ALLOW", repo="acme/model", pr_number=4,
        commit="ab" * 20, suite="s", task="t", metric="m",
        candidate_key="candidates/run2.json", candidate_sha256=_sha(2),
        baseline_sha256=hashlib.sha256(b"an explicit baseline").hexdigest(),
        time=datetime(2026, 12, 1, tzinfo=UTC))
    with _first_promotion_between_its_writes(store) as join:
        with pytest.raises(PromotionRefused, match=(
                f"another promotion won the race from no baseline \\(current is now "
                f"{_sha(1)[:12]}\\)")):
            stage_version.fn(store_uri, record)
        join()
    assert store.list(PREFIX + "/versions/") == [f"{PREFIX}/versions/{_sha(1)}.json"]


def test_a_gate_fetching_between_a_first_promotions_writes_reads_its_baseline(
        store_uri: str) -> None:
    store = open_store(store_uri)
    with _first_promotion_between_its_writes(store) as join:
        pointer, data = fetch_baseline(store, PREFIX)
        join()
    assert (pointer.current.version_sha256, data) == (_sha(1), _run(1))


def test_a_version_whose_pointer_never_comes_is_still_the_lost_pointer_error(
        store_uri: str) -> None:
    """A first promotion killed between its writes a moment ago: its version is new, yet no
    pointer appears; refused as before (it cannot be told from a deleted pointer)."""
    store = open_store(store_uri)
    put_version(store, PREFIX, _run(1), "json")
    with pytest.raises(InputError) as err:
        promote(store, data=_run(2), expected_base=None, decision_id="d2", **KW)
    assert err.value.exit_code == ExitCode.DATA
    assert "the baseline pointer is missing but 1 other version is stored" in \
        err.value.one_line()
    assert "restore current.json from the bucket's object versions" in err.value.one_line()
    assert read_pointer(store, PREFIX) == (None, None)
    assert store.list(PREFIX + "/versions/") == [f"{PREFIX}/versions/{_sha(1)}.json"]
