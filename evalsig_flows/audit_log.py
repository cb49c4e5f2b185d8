"""Append to the audit hash chain in a store, race-safely (the model lives in evalsig_core.audit).

Append = read the head (and its ETag) -> write the record under its own key -> move the head
with a conditional write (If-Match the ETag read; If-None-Match for the first record). A writer
that loses the race re-reads the head and re-links its record; its first attempt, never linked,
stays outside the chain under its own slot key. A writer killed between the two writes leaves
a record outside the chain and the head untouched: the chain stays valid, and a replay of the
same decision adopts that record.

A decision that two runs can make at once (the twin promotions of one merge: its push and its
merged-PR event; a replay) is appended with `once=True`: its record is linked at most once.
Before its first attempt a writer claims the decision id, write-once, at
`audit/claims/<decision_id>.json`, holding the head's sequence + 1 at claim time; every
record of that decision is linked at or after it. On each attempt, after reading the head,
the writer walks back from it to that sequence: a record of the decision found there is the
answer (nothing is written). Of two writers, the second to move the head read a head that
already held the first one's record, and so found it. After linking (or finding) it, the
writer leaves `audit/claims/<decision_id>.linked.json` naming the record, which spares later
replays the walk. Both claim files are written once (If-None-Match), never changed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

from evalsig_core import InputError, InputNotFoundError, StorageError, UsageError
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
from evalsig_core.numfmt import counted

from .store import PreconditionFailed, Store

__all__ = ["append_record", "claimed", "find_linked", "read_head", "recent_records"]


def read_head(store: Store) -> tuple[AuditHead | None, str | None]:
    """The head and its ETag (None, None for an empty trail)."""
    info = store.head(AUDIT_HEAD_KEY)
    if info is None:
        return None, None
    # ETag first, bytes second: if the head moves in between, the bytes are newer than the
    # ETag and the conditional write with that ETag fails, so no append is ever lost.
    return parse_head(store.get(AUDIT_HEAD_KEY), store.url(AUDIT_HEAD_KEY)), info.etag


def append_record(store: Store, fields: dict[str, Any], *, once: bool = False,
                  max_attempts: int = 60) -> AuditRecord:
    """Link a new record (every field but sequence/previous_*) at the end of the chain.

    The record goes to its slot key `<decision_id>-<sequence>.json` with If-None-Match. If the
    slot is taken by a record of the same decision built on the same head (a killed or
    concurrent attempt), that record is adopted instead of writing a second one. With `once`,
    a record of this decision already linked since its claim is returned instead of
    appending another (see the module docstring).
    """
    did = fields["decision_id"]
    since = _claim(store, did) if once else None
    if since is not None and (known := _known(store, did)) is not None:
        return known
    for attempt in range(max_attempts):
        head, etag = read_head(store)
        if since is not None and (found := _linked_since(store, head, did, since)):
            _mark(store, did, *found)
            return found[1]
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
        record = parse_record(data, store.url(key))
        if since is not None:
            _mark(store, did, key, record, data)
        return record
    raise StorageError(f"{store.url(AUDIT_HEAD_KEY)}: could not append to the audit trail "
                       f"after {counted(max_attempts, 'attempt')} (too many concurrent writers)",
                       hint="retry the flow run")


def _claim_key(decision_id: str, suffix: str = "") -> str:
    return f"audit/claims/{decision_id}{suffix}.json"


def _claim(store: Store, decision_id: str) -> int:
    """Claim the decision (once); the sequence from which any record of it is linked."""
    key = _claim_key(decision_id)
    head, _ = read_head(store)
    since = (head.sequence + 1) if head else 1
    body = {"decision_id": decision_id, "from_sequence": since}
    for attempt in range(10):
        try:
            store.put(key, (json.dumps(body) + "\n").encode(), if_none_match=True)
            return since
        except PreconditionFailed:
            pass
        try:
            claim = json.loads(store.get(key))
        except InputNotFoundError:  # a concurrent claim still being written (S3 409)
            _backoff(attempt)
            continue
        except ValueError:
            claim = None
        if not (isinstance(claim, dict) and claim.get("decision_id") == decision_id
                and isinstance(claim.get("from_sequence"), int)):
            raise InputError("not the audit claim of this decision", path=store.url(key),
                             hint="claims are written by evalsig only; restore it from the "
                                  "bucket's object versions")
        return int(claim["from_sequence"])
    raise StorageError(f"{store.url(key)}: could not read or write the audit claim",
                       hint="retry the flow run")


def claimed(store: Store, decision_id: str) -> bool:
    """Whether a decision was ever appended with `once=True` (its claim exists)."""
    return store.head(_claim_key(decision_id)) is not None


def find_linked(store: Store, decision_id: str) -> AuditRecord | None:
    """The record of a decision appended with `once=True`, if it is linked; writes nothing.

    None when the decision was never claimed (never audited that way) or its claim holds no
    linked record yet (a writer killed before linking it).
    """
    try:
        claim = json.loads(store.get(_claim_key(decision_id)))
        since = int(claim["from_sequence"])
    except (InputNotFoundError, ValueError, KeyError, TypeError):
        return None
    if (known := _known(store, decision_id)) is not None:
        return known
    head, _ = read_head(store)
    found = _linked_since(store, head, decision_id, since)
    return found[1] if found else None


def _known(store: Store, decision_id: str) -> AuditRecord | None:
    """The record a `.linked` marker names, if there is one and it is intact."""
    try:
        marker = json.loads(store.get(_claim_key(decision_id, ".linked")))
        data = store.get(marker["key"])
    except (InputNotFoundError, UsageError, ValueError, KeyError, TypeError):
        return None  # no marker, or not one evalsig wrote: walk the chain instead
    if sha256_hex(data) != marker.get("sha256"):
        return None  # not the linked bytes: walk the chain instead
    record = parse_record(data, store.url(marker["key"]))
    return record if record.decision_id == decision_id else None


def _linked_since(store: Store, head: AuditHead | None, decision_id: str,
                  since: int) -> tuple[str, AuditRecord] | None:
    """A record of the decision among those linked at sequence >= `since` (newest first)."""
    if head is None or head.sequence < since:
        return None
    for key, record in walk_chain(head, store.get):
        if record.sequence < since:
            return None
        if record.decision_id == decision_id:
            return key, record
    return None


def _mark(store: Store, decision_id: str, key: str, record: AuditRecord,
          data: bytes | None = None) -> None:
    """Leave the `.linked` marker: it only spares a walk, so failing to write it is harmless."""
    try:
        marker = {"decision_id": decision_id, "key": key, "sequence": record.sequence,
                  "sha256": sha256_hex(store.get(key) if data is None else data)}
        store.put(_claim_key(decision_id, ".linked"), (json.dumps(marker) + "\n").encode(),
                  if_none_match=True)
    except (StorageError, InputNotFoundError):  # PreconditionFailed: another writer marked it
        pass


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
