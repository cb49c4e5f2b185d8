"""The audit trail: one append-only record per decision, linked into a SHA-256 hash chain.

Pure: models, canonical bytes and verification over record bytes. Reading the bytes is the
caller's job (a `get(key) -> bytes` function: a directory, or the flows' S3 store), and so is
appending (evalsig_flows.audit_log does it race-safely with a conditional write of the head).

Layout in a store:
    audit/head.json                                    {"sequence", "key", "sha256"} of the newest
    audit/<yyyy>/<mm>/<dd>/<decision_id>-<sequence>.json   one record per decision
    audit/claims/<decision_id>[.linked].json           write-once claims (evalsig_flows.audit_log)
Each record holds `previous_sha256`, the SHA-256 of the previous record's exact bytes, and
`previous_key`, where those bytes are. Verification walks from the head to the first record:
any edited, removed or reordered record breaks a link. (Rewriting the newest records *and* the
head together is not detectable from the store alone: anchor the head elsewhere for that.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError, InputNotFoundError
from .numfmt import counted

__all__ = [
    "AUDIT_HEAD_KEY", "AuditHead", "AuditInput", "AuditRecord", "ChainVerification",
    "encode", "parse_head", "parse_record", "record_key", "sha256_hex", "verify_chain",
    "walk_chain",
]

AUDIT_HEAD_KEY = "audit/head.json"
AUDIT_SCHEMA_VERSION = "1"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AuditInput(_Frozen):
    """One input of a decision: its role (baseline, candidate, suite...), URI and SHA-256."""

    role: str
    uri: str | None = None
    sha256: str | None = None


class AuditRecord(_Frozen):
    """What was decided, from what, how, and the link to the record before it."""

    schema_version: str = AUDIT_SCHEMA_VERSION
    sequence: int = Field(ge=1)
    decision_id: str
    decision: str = Field(description="gate, suite, doctor or promotion")
    time: datetime
    inputs: list[AuditInput] = Field(default_factory=list)
    policy: dict[str, Any] | None = None
    seed: int | None = None
    method: str | None = None
    versions: dict[str, str | None] = Field(default_factory=dict)
    verdict: str
    exit_code: int
    reports: dict[str, str] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    previous_sha256: str | None = None
    previous_key: str | None = None


class AuditHead(_Frozen):
    sequence: int = Field(ge=1)
    key: str
    sha256: str


class ChainVerification(_Frozen):
    """The result of walking the chain: ok, how many records, and every problem found."""

    ok: bool
    n_records: int
    head: AuditHead | None
    problems: list[str] = Field(default_factory=list)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode(model: AuditRecord | AuditHead) -> bytes:
    """Canonical bytes (sorted keys, compact, UTF-8, one trailing newline): what is hashed."""
    return (json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                       ensure_ascii=False, allow_nan=False) + "\n").encode()


def record_key(decision_id: str, time: datetime, sequence: int) -> str:
    """Where a record lives; the sequence in the name gives each chain slot its own key."""
    t = time.astimezone(UTC)
    return f"audit/{t:%Y/%m/%d}/{decision_id}-{sequence}.json"


def _parse(model: type[_Frozen], data: bytes, where: str) -> Any:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "record"
        raise InputError(f"not a valid audit {model.__name__}: {field}: {err['msg']}",
                         path=where, code="E101",
                         hint="audit records are written by evalsig only; restore it from "
                              "the bucket's object versions") from None


def parse_record(data: bytes, where: str) -> AuditRecord:
    rec: AuditRecord = _parse(AuditRecord, data, where)
    return rec


def parse_head(data: bytes, where: str = AUDIT_HEAD_KEY) -> AuditHead:
    head: AuditHead = _parse(AuditHead, data, where)
    return head


Getter = Callable[[str], bytes]


def walk_chain(head: AuditHead, get: Getter,
               problems: list[str] | None = None) -> Iterator[tuple[str, AuditRecord]]:
    """Yield (key, record) from the newest to the first, checking every link on the way.

    A broken link is appended to `problems` (when given) and ends the walk; without a
    `problems` list it raises InputError instead.
    """
    key, want_sha, want_seq = head.key, head.sha256, head.sequence
    while True:
        try:
            data = get(key)
        except InputNotFoundError:
            _problem(problems, f"{key}: record {want_seq} is missing")
            return
        rec = parse_record(data, key)
        got = sha256_hex(data)
        if got != want_sha:
            _problem(problems, f"{key}: SHA-256 {got[:12]}… differs from the link "
                               f"{want_sha[:12]}… (record edited or replaced)")
            return
        if rec.sequence != want_seq:
            _problem(problems, f"{key}: sequence {rec.sequence}, expected {want_seq}")
            return
        yield key, rec
        if rec.sequence == 1:
            if rec.previous_sha256 is not None or rec.previous_key is not None:
                _problem(problems, f"{key}: the first record links to a previous one")
            return
        if rec.previous_sha256 is None or rec.previous_key is None:
            _problem(problems, f"{key}: record {rec.sequence} has no link to record "
                               f"{rec.sequence - 1}")
            return
        key, want_sha, want_seq = rec.previous_key, rec.previous_sha256, rec.sequence - 1


def _problem(problems: list[str] | None, message: str) -> None:
    if problems is None:
        raise InputError(f"audit chain broken: {message}", code="E101")
    problems.append(message)


def verify_chain(head_bytes: bytes | None, get: Getter) -> ChainVerification:
    """Verify the whole chain from its head (None: an empty trail, which verifies)."""
    if head_bytes is None:
        return ChainVerification(ok=True, n_records=0, head=None)
    head = parse_head(head_bytes)
    problems: list[str] = []
    n = sum(1 for _ in walk_chain(head, get, problems))
    if not problems and n != head.sequence:
        problems.append(f"walked {counted(n, 'record')} but the head says {head.sequence}")
    return ChainVerification(ok=not problems, n_records=n, head=head, problems=problems)
