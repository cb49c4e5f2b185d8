"""Baselines in a store: immutable versions and a `current.json` pointer moved only conditionally.

    baselines/<suite>/<task>/<metric>/versions/<sha256>.<ext>   immutable run files
    baselines/<suite>/<task>/<metric>/current.json              the pointer

Names are escaped by `store.key_segment`, the escaping the CI records use (`pass@1` ->
`pass%401`, `f1/macro` -> `f1%2Fmacro`): any name a gate accepts has a baseline folder, one
of its own. A pointer names its entry, and one read under another entry's prefix (a
case-insensitive file system folding `QA` onto `qa`, a copied object) is refused, never used.

A promotion checks the pointer, then writes the version (If-None-Match: it never
overwrites), then moves the pointer with If-Match on the ETag it read (If-None-Match for the
first), so of two promotions from the same base exactly one wins, and a promotion killed
between its writes leaves the old pointer (plus an unreferenced immutable version) or the new
one: never a broken baseline. A refused promotion writes no version. The pointer keeps the
previous entry; every version stays readable. `promote` is the whole move in one call;
`put_version` then `move_pointer` lets a caller stage the versions of entries that have a
baseline before it moves any pointer (the promotion flow does); a first baseline is passed to
`move_pointer` as `data` instead and written only there, after the checks. `roll_back_pointer`
undoes one decision's move (the promotion flow's all-or-nothing): a new pointer, sequence + 1,
pointing at the version before it again, written If-Match on the ETag of the pointer that
still names that decision.

A missing pointer means "first promotion" only while no other version is stored: with
`current.json` deleted, a promotion would otherwise restart the sequence at 1, drop the
previous entry and skip the gated-base check, so a stale promotion (a replay, a redelivered
event) could move the baseline back to an older version. Versions are content-addressed and
carry no order, so the pointer cannot be rebuilt from them: promoting (and fetching) refuses
with the file and the fix (restore the pointer from the bucket's object versions). So that a
version never reads as a deleted pointer after a transient failure, a first promotion writes
its version only after that check and right before its pointer create: a refused first
promotion (a set refused or rolled back, a check failing) writes none, and of two racing first
promotions that both passed the check one creates the pointer (the other's version is then an
unreferenced version beside a pointer, as a lost later promotion leaves); a check that runs
between the other's two writes sees its version and no pointer, and reads the pointer again
for up to RACE_WAIT_S: once it appears, the promotion is refused as having lost the race (a
gate reads the new baseline). The version being promoted itself does not count, so a first
promotion killed between its two writes is still completed by a replay; only that kill, not
followed by its replay, leaves a version that blocks the entry (the check's message says so).
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalsig_core import (
    EvalsigError,
    ExitCode,
    InputError,
    InputNotFoundError,
    StorageError,
    UsageError,
)
from evalsig_core.numfmt import counted

from .store import PreconditionFailed, Store, key_segment, put_once
from .text import quoted

__all__ = ["RACE_WAIT_S", "BaselinePointer", "PointerEntry", "PromotionRefused",
           "PromotionResult", "RollbackResult", "baseline_prefix", "check_pointer_not_lost",
           "fetch_baseline", "lost_race", "move_pointer", "promote", "put_version",
           "read_pointer", "roll_back_pointer", "version_key"]

_EXT = re.compile(r"^[a-z0-9]{1,8}(\.[a-z0-9]{1,8})?$")
_SHA256 = re.compile(r"[0-9a-f]{64}")
RACE_WAIT_S = 2.0
"""How long a check that finds versions but no pointer reads the pointer again (a concurrent
first promotion creates it right after its version: milliseconds apart, seconds on retries)."""


class PromotionRefused(EvalsigError):
    """Promotion not allowed: no ALLOW for that commit, or the baseline moved since the gate."""

    exit_code = ExitCode.REJECT


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PointerEntry(_Frozen):
    version_sha256: str
    key: str
    promoted_at: datetime
    decision_id: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)


class BaselinePointer(_Frozen):
    schema_version: str = "1"
    suite: str
    task: str
    metric: str
    sequence: int = Field(ge=1)
    current: PointerEntry
    previous: PointerEntry | None = None

    def encode(self) -> bytes:
        return (self.model_dump_json(indent=2) + "\n").encode()


class PromotionResult(_Frozen):
    status: Literal["promoted", "already-current"]
    pointer: BaselinePointer


class RollbackResult(_Frozen):
    """rolled-back: the pointer names the version before the decision again; moved-on: the
    pointer no longer names the decision (another promotion moved it since: left alone);
    first-baseline: the decision made the entry's first baseline, there is none to restore."""

    status: Literal["rolled-back", "moved-on", "first-baseline"]
    pointer: BaselinePointer | None


def baseline_prefix(suite: str, task: str, metric: str) -> str:
    """`baselines/<suite>/<task>/<metric>`, each name one escaped segment (UsageError if bad)."""
    return (f"baselines/{key_segment('suite', suite)}/{key_segment('task', task)}/"
            f"{key_segment('metric', metric)}")


def extension(filename: str) -> str:
    """The run file's extension (.json, .jsonl, .eval, .csv, .jsonl.zst, .helm.tar: a HELM run
    archive...) kept for readers."""
    parts = filename.lower().rsplit("/", 1)[-1].split(".")[1:]
    double = len(parts) >= 2 and (parts[-1] in ("zst", "gz") or parts[-2:] == ["helm", "tar"])
    ext = ".".join(parts[-2:]) if double else (parts[-1] if parts else "bin")
    return ext if _EXT.fullmatch(ext) else "bin"


def version_key(prefix: str, sha256: str, ext: str) -> str:
    """The key of the version with this SHA-256 under the entry's `prefix`."""
    return f"{prefix}/versions/{sha256}.{ext}"


def put_version(store: Store, prefix: str, data: bytes, ext: str) -> tuple[str, str]:
    """Write an immutable version (never overwritten); returns (key, sha256).

    The version already there (a replay, the same run promoted before) is accepted only if it
    holds these very bytes: a damaged or foreign object at the key is a StorageError (74).
    """
    sha = hashlib.sha256(data).hexdigest()
    key = version_key(prefix, sha, ext)
    _write_version(store, key, data)
    return key, sha


def _write_version(store: Store, key: str, data: bytes) -> None:
    put_once(store, key, data, what="the object at this baseline version key does not match "
             "the SHA-256 its key names", hint="it is not this version: restore the version "
             "from the bucket's object versions, or move the object away, then promote again")


def read_pointer(store: Store, prefix: str) -> tuple[BaselinePointer | None, str | None]:
    """The pointer and its ETag; (None, None) when nothing was ever promoted."""
    key = f"{prefix}/current.json"
    info = store.head(key)
    if info is None:
        return None, None
    data = store.get(key)  # ETag read first: a newer body only makes our If-Match fail
    try:
        pointer = BaselinePointer.model_validate_json(data)
        names = baseline_prefix(pointer.suite, pointer.task, pointer.metric)
    except (ValidationError, UsageError) as exc:
        why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.message
        raise InputError(f"not a baseline pointer: {why}",
                         path=store.url(key), hint="restore it from the bucket's object "
                         "versions; every baseline version is kept under versions/") from None
    if names != prefix:
        raise InputError(f"the baseline pointer of {pointer.suite}/{pointer.task}/"
                         f"{pointer.metric}, not of the entry its key names",
                         path=store.url(key), hint="remove or restore it (a case-insensitive "
                         "file store folds names that differ only in case: use an S3 store)")
    for role, entry in (("current", pointer.current), ("previous", pointer.previous)):
        if entry is not None and not _is_version_key(prefix, entry.key, entry.version_sha256):
            # another entry's version, or one whose name is not its SHA-256: the bytes would
            # match the pointer's SHA-256 and the gate would decide against the wrong baseline
            raise InputError(f"the {role} entry names {quoted(entry.key)}, not this entry's "
                             f"version {prefix}/versions/{entry.version_sha256[:12]}...",
                             path=store.url(key), hint="restore current.json from the "
                             "bucket's object versions (S3 versioning keeps every pointer)")
    return pointer, info.etag


def _is_version_key(prefix: str, key: str, sha256: str) -> bool:
    """Whether `key` is `prefix/versions/<sha256>.<ext>`, the key `put_version` writes, and
    `sha256` a SHA-256 (64 lowercase hex digits, so it cannot name a path itself)."""
    head = version_key(prefix, sha256, "")
    return (_SHA256.fullmatch(sha256) is not None and key.startswith(head)
            and _EXT.fullmatch(key[len(head):]) is not None)


def check_pointer_not_lost(store: Store, prefix: str, own_sha256: str | None = None
                           ) -> tuple[BaselinePointer, str] | None:
    """With no pointer read: None if no version but `own_sha256` is stored (none promoted
    yet); else the pointer (and its ETag) if one appears within RACE_WAIT_S, else InputError.

    A version without a pointer is either left by a deleted pointer (or a first promotion
    killed between its two writes) or written by a concurrent first promotion about to create
    its pointer. Only the pointer appearing tells them apart: a version's age cannot (S3's
    LastModified is the server's clock, and a pointer deleted a second ago leaves a young
    version), so the pointer is read again for a while; one that appears is the race's winner
    and callers treat it as read (a promotion is refused as having lost the race, a gate
    reads it). Nothing is ever written on the strength of the wait: with no pointer after it,
    the check refuses as before (65, with the fix).
    """
    folder = f"{prefix}/versions/"
    others = sorted({k[len(folder):].split(".", 1)[0] for k in store.list(folder)}
                    - {own_sha256})
    if not others:
        return None
    deadline, pause = time.monotonic() + RACE_WAIT_S, 0.05
    while time.monotonic() < deadline:
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
        pointer, etag = read_pointer(store, prefix)
        if pointer is not None and etag is not None:
            return pointer, etag
        pause *= 2
    versions = counted(len(others), "other version is", "other versions are")
    raise InputError(
        f"the baseline pointer is missing but {versions} "
        f"stored under {folder}: either current.json was deleted (its sequence and previous "
        "entry are lost, and a promotion now would skip the check of the base it was gated "
        "against) or a first promotion there wrote its version but not its pointer (killed "
        f"between the two writes, or still between them after {RACE_WAIT_S:g} s; evalsig "
        "before 0.2 also left the versions of refused first promotions there)",
        path=store.url(f"{prefix}/current.json"),
        hint="restore current.json from the bucket's object versions (S3 versioning keeps "
             "every pointer written); if no baseline was ever promoted there, replay that "
             f"promotion (it completes), or move {folder} aside and promote again")


def fetch_baseline(store: Store, prefix: str) -> tuple[BaselinePointer, bytes]:
    """The current baseline's bytes, checked against the pointer's SHA-256.

    None promoted yet: InputNotFoundError (66); a deleted pointer: InputError (65); the
    pointer a first promotion creates while this checks (`check_pointer_not_lost`): read."""
    pointer, _ = read_pointer(store, prefix)
    if pointer is None:  # a first promotion between its two writes: its pointer, once made
        pointer, _ = check_pointer_not_lost(store, prefix) or (None, None)
    if pointer is None:
        raise InputNotFoundError(  # a missing input (66), not bad data (65)
            "no baseline promoted yet", path=store.url(f"{prefix}/current.json"),
            hint="pass an explicit baseline URI or promote one first")
    try:
        data = store.get(pointer.current.key)
    except InputNotFoundError:  # store damage, not a path the user typed: 74 with the fix
        err = StorageError(
            f"{store.url(pointer.current.key)}: missing, though {prefix}/current.json names "
            "this version as the current baseline",
            hint="restore the version (or current.json) from the bucket's object versions")
        err.permanent = True  # type: ignore[attr-defined]  # no retry brings it back
        raise err from None
    if hashlib.sha256(data).hexdigest() != pointer.current.version_sha256:
        err = StorageError(f"{store.url(pointer.current.key)}: content does not match the "
                           "pointer's SHA-256", hint="restore the version from object versions")
        err.permanent = True  # type: ignore[attr-defined]  # a retry reads the same bytes
        raise err
    return pointer, data


def promote(store: Store, *, suite: str, task: str, metric: str, data: bytes, ext: str,
            expected_base: str | None, decision_id: str, source: dict[str, Any],
            now: datetime | None = None) -> PromotionResult:
    """Make `data` the current baseline if the pointer still names `expected_base`.

    `expected_base` is the version SHA-256 the candidate was gated against (ignored for the
    first promotion, when no pointer exists; use it to seed a store). Idempotent: promoting
    the current version again changes nothing. The version is written after the checks,
    right before the pointer: a refused promotion writes nothing.
    """
    sha = hashlib.sha256(data).hexdigest()
    return move_pointer(store, suite=suite, task=task, metric=metric,
                        key=version_key(baseline_prefix(suite, task, metric), sha, ext),
                        sha256=sha, data=data, expected_base=expected_base,
                        decision_id=decision_id, source=source, now=now)


def move_pointer(store: Store, *, suite: str, task: str, metric: str, key: str, sha256: str,
                 expected_base: str | None, decision_id: str, source: dict[str, Any],
                 now: datetime | None = None, data: bytes | None = None) -> PromotionResult:
    """Point (suite, task, metric) at the version `key` (SHA-256 `sha256`).

    The conditional write and the refusals of `promote`. Without `data` the version must be
    written already (put_version) and the run is not read; with it, `data` is written as the
    version after the checks, right before the pointer write (how a first baseline is
    written: never a version without its pointer, unless killed between the two writes).
    """
    prefix = baseline_prefix(suite, task, metric)
    if not key.startswith(f"{prefix}/versions/{sha256}.") or (
            data is not None and hashlib.sha256(data).hexdigest() != sha256):
        raise UsageError(f"{quoted(key)} is not a version of {prefix} with SHA-256 "
                         f"{sha256[:12]}")
    pointer, etag = read_pointer(store, prefix)
    raced = pointer is None  # a pointer that appears while checked: a concurrent first one's
    if pointer is None:
        pointer, etag = check_pointer_not_lost(store, prefix, sha256) or (None, None)
    entry = PointerEntry(version_sha256=sha256, key=key, promoted_at=now or datetime.now(UTC),
                         decision_id=decision_id, source=source)
    if pointer is not None and pointer.current == entry:
        # this very move landed before (a retried task whose answers were lost: same `now`)
        return PromotionResult(status="promoted", pointer=pointer)
    if pointer is not None and pointer.current.version_sha256 == sha256:
        return PromotionResult(status="already-current", pointer=pointer)
    base = pointer.current.version_sha256 if pointer else None
    # The first promotion has nothing to lose; later ones need the base they were gated on.
    if pointer is not None and base != expected_base:
        if raced:
            raise lost_race(store, prefix, None, base)
        raise PromotionRefused(
            f"{store.url(prefix + '/current.json')}: the baseline moved since the gate "
            f"(gated against {_short(expected_base)}, current is {_short(base)})",
            hint="re-run the gate against the current baseline, then promote")
    new = BaselinePointer(suite=suite, task=task, metric=metric,
                          sequence=(pointer.sequence + 1) if pointer else 1, current=entry,
                          previous=pointer.current if pointer else None)
    target = f"{prefix}/current.json"
    if data is not None:  # after every refusal: a refused promotion leaves no version
        _write_version(store, key, data)
    try:
        if etag is None:
            store.put(target, new.encode(), if_none_match=True)
        else:
            store.put(target, new.encode(), if_match=etag)
    except PreconditionFailed:
        now_ptr, _ = read_pointer(store, prefix)
        if now_ptr is not None and now_ptr.current == entry:  # our write landed, answer lost
            return PromotionResult(status="promoted", pointer=now_ptr)
        if now_ptr is not None and now_ptr.current.version_sha256 == sha256:
            # a twin (the push and the merged-PR event of one merge) won with the same version
            return PromotionResult(status="already-current", pointer=now_ptr)
        raise lost_race(store, prefix, base,
                        now_ptr.current.version_sha256 if now_ptr else None) from None
    return PromotionResult(status="promoted", pointer=new)


def lost_race(store: Store, prefix: str, base: str | None, now: str | None) -> PromotionRefused:
    """The refusal of a promotion from `base` that another one beat to the pointer (now at
    version `now`): its conditional write failed, or the pointer of a concurrent first
    promotion appeared while its check ran."""
    return PromotionRefused(
        f"{store.url(prefix + '/current.json')}: another promotion won the race from "
        f"{_short(base)} (current is now {_short(now)})",
        hint="re-run the gate against the new baseline, then promote")


def roll_back_pointer(store: Store, *, suite: str, task: str, metric: str, decision_id: str,
                      rollback_id: str, now: datetime | None = None) -> RollbackResult:
    """Undo `decision_id`'s move of the (suite, task, metric) pointer, if it is still current.

    Writes a new pointer (sequence + 1) whose current is the version before the decision again
    (decision id `rollback_id`, source naming the decision undone and the entry restored) and
    whose previous is the decision's entry, If-Match on the ETag of the pointer read: a pointer
    that another promotion moved since is never clobbered (moved-on), and nothing is deleted.
    A retry whose earlier write landed (its answer lost) finds its own rollback: rolled-back.
    """
    prefix = baseline_prefix(suite, task, metric)
    pointer, etag = read_pointer(store, prefix)
    if pointer is not None and _undoes(pointer.current, decision_id):
        return RollbackResult(status="rolled-back", pointer=pointer)
    if pointer is None or etag is None or pointer.current.decision_id != decision_id:
        return RollbackResult(status="moved-on", pointer=pointer)
    if pointer.previous is None:
        return RollbackResult(status="first-baseline", pointer=pointer)
    restored = pointer.previous.model_copy(update={
        "promoted_at": now or datetime.now(UTC), "decision_id": rollback_id,
        "source": {"rollback_of": decision_id, "restores": pointer.previous.model_dump(
            mode="json", include={"decision_id", "promoted_at", "source"})}})
    new = BaselinePointer(suite=suite, task=task, metric=metric, sequence=pointer.sequence + 1,
                          current=restored, previous=pointer.current)
    try:
        store.put(f"{prefix}/current.json", new.encode(), if_match=etag)
    except PreconditionFailed:
        now_ptr, _ = read_pointer(store, prefix)
        if now_ptr is not None and _undoes(now_ptr.current, decision_id):
            return RollbackResult(status="rolled-back", pointer=now_ptr)  # answer lost
        return RollbackResult(status="moved-on", pointer=now_ptr)
    return RollbackResult(status="rolled-back", pointer=new)


def _undoes(entry: PointerEntry, decision_id: str) -> bool:
    return entry.source.get("rollback_of") == decision_id


def _short(sha: str | None) -> str:
    return "no baseline" if sha is None else sha[:12]
