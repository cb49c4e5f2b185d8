"""Append to the audit hash chain in a store, race-safely (the model lives in evalsig_core.audit).

Append = read the head (and its ETag) -> write the record under its own key -> move the head
with a conditional write (If-Match the ETag read; If-None-Match for the first record). A writer
that loses the race re-reads the head and re-links its record; its first attempt, never linked,
stays outside the chain under its own slot key. A writer killed between the two writes leaves
a record outside the chain and the head untouched: the chain stays valid, and a replay of the
same decision adopts that record.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

from evalsig_core import StorageError
from evalsig_core.audit import (
    AUDIT_HEAD_KEY,
    AuditHead,
    AuditRecord,
    encode,
    parse_head,
    parse_record,
    record_key,
    sha256_hex,
    walk_chain,
)

from .store import PreconditionFailed, Store

__all__ = ["append_record", "read_head", "recent_records"]


def read_head(store: Store) -> tuple[AuditHead | None, str | None]:
    """The head and its ETag (None, None for an empty trail)."""
    info = store.head(AUDIT_HEAD_KEY)
    if info is None:
        return None, None
    # ETag first, bytes second: if the head moves in between, the bytes are newer than the
    # ETag and the conditional write with that ETag fails, so no append is ever lost.
    return parse_head(store.get(AUDIT_HEAD_KEY)), info.etag


def append_record(store: Store, fields: dict[str, Any], *, max_attempts: int = 60) -> AuditRecord:
    """Link a new record (every field but sequence/previous_*) at the end of the chain.

    The record goes to its slot key `<decision_id>-<sequence>.json` with If-None-Match. If the
    slot is taken by a record of the same decision built on the same head (a killed or
    concurrent attempt), that record is adopted instead of writing a second one.
    """
    for attempt in range(max_attempts):
        head, etag = read_head(store)
        seq = (head.sequence + 1) if head else 1
        key = record_key(fields["decision_id"], fields["time"], seq)
        data = encode(AuditRecord(**fields, sequence=seq,
                                  previous_sha256=head.sha256 if head else None,
                                  previous_key=head.key if head else None))
        try:
            store.put(key, data, if_none_match=True)
        except PreconditionFailed:
            existing = store.get(key)
            other = parse_record(existing, store.url(key))
            if other.previous_sha256 != (head.sha256 if head else None):
                _backoff(attempt)  # the head moved meanwhile: start again
                continue
            data = existing  # same decision, same slot, same link: adopt it
        sha = sha256_hex(data)
        new_head = encode(AuditHead(sequence=seq, key=key, sha256=sha))
        try:
            if etag is None:
                store.put(AUDIT_HEAD_KEY, new_head, if_none_match=True)
            else:
                store.put(AUDIT_HEAD_KEY, new_head, if_match=etag)
        except PreconditionFailed:
            # Lost the race, or won it and lost the answer (a retried request): check.
            now, _ = read_head(store)
            if now is None or now.key != key or now.sha256 != sha:
                _backoff(attempt)
                continue
        return parse_record(data, store.url(key))
    raise StorageError(f"{store.url(AUDIT_HEAD_KEY)}: could not append to the audit trail "
                       f"after {max_attempts} attempts (too many concurrent writers)",
                       hint="retry the flow run")


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0.005, 0.05) * min(attempt + 1, 10))


def recent_records(store: Store, limit: int | None = None) -> Iterator[tuple[str, AuditRecord]]:
    """The chain from the newest record backwards, links verified (raises if broken)."""
    head, _ = read_head(store)
    if head is None:
        return
    for n, item in enumerate(walk_chain(head, store.get)):
        if limit is not None and n >= limit:
            return
        yield item
