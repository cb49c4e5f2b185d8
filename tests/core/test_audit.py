"""The audit hash chain: canonical bytes, links verified record by record, tampering found."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evalsig_core import InputError
from evalsig_core.audit import (
    AuditHead,
    AuditRecord,
    encode,
    record_key,
    sha256_hex,
    verify_chain,
    walk_chain,
)

T0 = datetime(2026, 11, 29, 17, 48, tzinfo=UTC)


def _chain(n: int) -> tuple[dict[str, bytes], bytes]:
    """n linked records in a dict store, and the head's bytes."""
    blobs: dict[str, bytes] = {}
    prev_key = prev_sha = None
    for i in range(1, n + 1):
        rec = AuditRecord(sequence=i, decision_id=f"d{i}", decision="gate", time=T0,
                          verdict="ALLOW", exit_code=0, previous_sha256=prev_sha,
                          previous_key=prev_key)
        key = record_key(rec.decision_id, rec.time, i)
        blobs[key] = encode(rec)
        prev_key, prev_sha = key, sha256_hex(blobs[key])
    assert prev_key and prev_sha
    return blobs, encode(AuditHead(sequence=n, key=prev_key, sha256=prev_sha))


def test_an_intact_chain_verifies_and_walks_newest_first() -> None:
    blobs, head = _chain(4)
    result = verify_chain(head, blobs.__getitem__)
    assert result.ok and result.n_records == 4 and result.problems == []
    head_model = AuditHead.model_validate_json(head)
    assert [r.sequence for _, r in walk_chain(head_model, blobs.__getitem__)] == [4, 3, 2, 1]


def test_an_empty_trail_verifies() -> None:
    empty: dict[str, bytes] = {}
    assert verify_chain(None, empty.__getitem__).ok


def test_encoding_is_canonical_and_stable() -> None:
    rec = AuditRecord(sequence=1, decision_id="d", decision="gate", time=T0, verdict="ALLOW",
                      exit_code=0)
    assert encode(rec) == encode(AuditRecord.model_validate_json(encode(rec)))
    assert encode(rec).endswith(b"}\n") and b" " not in encode(rec)


def test_an_edited_record_breaks_the_chain() -> None:
    blobs, head = _chain(3)
    key = record_key("d2", T0, 2)
    blobs[key] = blobs[key].replace(b'"ALLOW"', b'"REJECT"')
    result = verify_chain(head, blobs.__getitem__)
    assert not result.ok and "edited" in result.problems[0]


def test_a_removed_record_breaks_the_chain() -> None:
    blobs, head = _chain(3)
    del blobs[record_key("d1", T0, 1)]

    def get(key: str) -> bytes:
        from evalsig_core import InputNotFoundError

        if key not in blobs:
            raise InputNotFoundError("missing", path=key)
        return blobs[key]

    result = verify_chain(head, get)
    assert not result.ok and "missing" in result.problems[0]


def test_walking_a_broken_chain_without_a_problem_list_raises() -> None:
    blobs, head = _chain(2)
    blobs[record_key("d1", T0, 1)] += b" "
    with pytest.raises(InputError, match="audit chain broken"):
        list(walk_chain(AuditHead.model_validate_json(head), blobs.__getitem__))
