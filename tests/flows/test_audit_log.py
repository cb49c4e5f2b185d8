"""Appending to the audit chain in a store: linked, race-safe, verifiable, file and S3."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evalsig_core.audit import AUDIT_HEAD_KEY, verify_chain
from evalsig_flows.audit_log import append_record, recent_records
from evalsig_flows.store import Store, open_store


def _fields(i: int) -> dict[str, object]:
    return {"decision_id": f"d-{i}", "decision": "gate", "time": datetime.now(UTC),
            "verdict": "ALLOW", "exit_code": 0}


def _verify(store: Store) -> tuple[bool, int]:
    head = store.get(AUDIT_HEAD_KEY) if store.head(AUDIT_HEAD_KEY) else None
    result = verify_chain(head, store.get)
    return result.ok, result.n_records


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "file":
        return open_store(tmp_path.as_uri())
    return open_store(request.getfixturevalue("s3_uri"))


def test_appends_are_linked_in_order(store: Store) -> None:
    for i in range(3):
        append_record(store, _fields(i))
    assert _verify(store) == (True, 3)
    assert [r.decision_id for _, r in recent_records(store)] == ["d-2", "d-1", "d-0"]


def test_concurrent_appends_all_land_in_one_valid_chain(store: Store) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: append_record(store, _fields(i)), range(8)))
    ok, n = _verify(store)
    assert ok and n == 8
    assert sorted(r.decision_id for _, r in recent_records(store)) == [f"d-{i}"
                                                                      for i in range(8)]


def test_a_replay_adopts_the_unlinked_record_a_killed_run_left(store: Store) -> None:
    from evalsig_core.audit import AuditRecord, encode, record_key

    fields = _fields(0)
    orphan = encode(AuditRecord(**fields, sequence=1))  # type: ignore[arg-type]
    store.put(record_key("d-0", fields["time"], 1), orphan)  # type: ignore[arg-type]
    append_record(store, fields | {"context": {"attempt": 2}})
    assert _verify(store) == (True, 1)
    (key, rec), = list(recent_records(store))
    assert store.get(key) == orphan and rec.context == {}


def test_concurrent_appends_of_one_decision_keep_the_chain_valid(store: Store) -> None:
    fields = _fields(0)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: append_record(store, fields), range(4)))
    ok, n = _verify(store)
    assert ok and 1 <= n <= 4


def _decisions(store: Store) -> list[str]:
    return [r.decision_id for _, r in recent_records(store)][::-1]


def test_a_decision_appended_once_is_linked_once_among_concurrent_appends(store: Store) -> None:
    """Twins of one decision interleaved with other writers: the chain holds it once."""
    twin = _fields(0)
    jobs = [(twin, True)] * 4 + [(_fields(i), False) for i in range(1, 5)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda job: append_record(store, job[0], once=job[1]), jobs))
    assert _verify(store) == (True, 5)
    assert sorted(_decisions(store)) == ["d-0", "d-1", "d-2", "d-3", "d-4"]
    assert len({(r.sequence, r.decision_id) for r in got[:4]}) == 1  # every twin got the one


def test_a_decision_appended_once_again_later_returns_the_linked_record(store: Store) -> None:
    first = append_record(store, _fields(0), once=True)
    append_record(store, _fields(1))
    again = append_record(store, _fields(0) | {"context": {"replay": True}}, once=True)
    assert again == first and _decisions(store) == ["d-0", "d-1"]
    store.put("audit/claims/d-0.linked.json", b"{}")  # without the marker: found by a walk
    assert append_record(store, _fields(0), once=True) == first
    assert _decisions(store) == ["d-0", "d-1"]


def test_a_claim_left_by_a_killed_writer_does_not_stop_the_replay(store: Store) -> None:
    append_record(store, _fields(1))
    store.put("audit/claims/d-0.json", b'{"decision_id": "d-0", "from_sequence": 2}\n')
    append_record(store, _fields(2))
    rec = append_record(store, _fields(0), once=True)
    assert rec.sequence == 3 and _decisions(store) == ["d-1", "d-2", "d-0"]
    assert _verify(store) == (True, 3)


def test_a_damaged_head_is_refused_naming_the_store_it_is_in(store: Store) -> None:
    """The error said "audit/head.json: not a valid audit AuditHead", which of a worker's
    stores it was in left out; nothing is appended onto it."""
    from evalsig_core import InputError

    store.put(AUDIT_HEAD_KEY, b"garbage")
    with pytest.raises(InputError) as info:
        append_record(store, _fields(1))
    assert str(info.value).startswith(f"{store.url(AUDIT_HEAD_KEY)}: not a valid audit")
    assert store.get(AUDIT_HEAD_KEY) == b"garbage"
