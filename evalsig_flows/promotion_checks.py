"""The checks of a promotion set before any pointer moves, and the staging of its versions.

Split from promotion.py (the flow and its pointer moves), which calls these as its first two
steps: `stage_version` for each entry (candidate unchanged since the gate, baseline not moved,
decision not applied and undone before; its version written if the entry has a baseline),
then `check_baselines` for the whole set right before the first pointer write. A first
baseline's pointer that a concurrent first promotion creates meanwhile is a lost race.
"""

from __future__ import annotations

import hashlib

from prefect import task

from evalsig_core import InputNotFoundError

from . import audit_log
from .baselines import (
    PromotionRefused,
    baseline_prefix,
    check_pointer_not_lost,
    extension,
    lost_race,
    put_version,
    read_pointer,
)
from .ci_records import GateRecord
from .store import Store, open_store
from .tasks import IO

__all__ = ["check_baselines", "entry_decision_id", "read_candidate", "stage_version"]


@task(name="stage-baseline-version", **IO)
def stage_version(store_uri: str, record: GateRecord) -> str | None:
    """Before any pointer moves: check one entry and stage its version; returns the version
    key, or None for a first baseline (written by `promote_task`, after its checks).

    Reads the candidate: it must still have its gated SHA-256, the baseline must not have
    moved since the gate, and this decision must not have been applied (and audited) before,
    then undone (a revert). Then writes it as the entry's immutable baseline version
    (content-addressed, If-None-Match), harmless beside a pointer that never names it.
    """
    store = open_store(store_uri)
    data = read_candidate(store, record)
    if not _check_baseline(store, record):
        return None
    prefix = baseline_prefix(record.suite, record.task, record.metric)
    return put_version(store, prefix, data, extension(record.candidate_key or ""))[0]


def read_candidate(store: Store, record: GateRecord) -> bytes:
    """The gated candidate's bytes; refused if they no longer have its gated SHA-256."""
    key = record.candidate_key or ""  # checked by the flow: an ALLOW record names it
    try:
        data = store.get(key)
    except InputNotFoundError:
        raise InputNotFoundError(
            f"object not found: the candidate gated for {record.entry} is gone from the store",
            path=store.url(key), hint="gate the commit again, then promote (stored candidates "
            "expire by the bucket's lifecycle rule, CandidateRetentionDays)") from None
    if hashlib.sha256(data).hexdigest() != record.candidate_sha256:
        raise PromotionRefused(f"{store.url(key)}: content differs from the gated "
                               f"candidate's SHA-256 ({record.entry})",
                               hint="re-run the CI gate")
    return data


@task(name="check-baselines", **IO)
def check_baselines(store_uri: str, records: list[GateRecord]) -> list[bool]:
    """Right before the first pointer moves: each entry's baseline is still the gated one (the
    staging checks again, pointers only); returns which entries have a baseline already.

    Staging reads and writes every candidate, which takes a while: this narrows the window in
    which another promotion can move a baseline of the set to a few reads. Not a lock: a move
    after it is caught by the conditional write, and the set rolled back (see rollback.py).
    """
    store = open_store(store_uri)
    return [_check_baseline(store, rec) for rec in records]


def _check_baseline(store: Store, record: GateRecord) -> bool:
    """Refuse unless the entry's baseline is the one gated against (or the candidate already)
    and this decision was not applied and undone before; whether a pointer exists."""
    prefix = baseline_prefix(record.suite, record.task, record.metric)
    pointer, _ = read_pointer(store, prefix)
    if pointer is None:  # a deleted pointer is refused here, before any pointer of the set moves
        pointer, _ = check_pointer_not_lost(store, prefix, record.candidate_sha256) \
            or (None, None)
        if pointer is None:
            return False
        if pointer.current.version_sha256 not in (record.baseline_sha256,
                                                  record.candidate_sha256):
            # a concurrent first promotion created it while this one was checked
            raise lost_race(store, prefix, None, pointer.current.version_sha256)
    did = entry_decision_id(record)
    if pointer.current.version_sha256 != record.candidate_sha256 \
            and audit_log.claimed(store, did):
        # made and audited before, and the baseline has moved on since (a revert restoring
        # the base it was gated on would pass the check below): never applied twice
        raise PromotionRefused(
            f"{store.url(prefix + '/current.json')}: {record.entry} was already promoted to "
            f"{(record.candidate_sha256 or '')[:12]} by this decision ({did}, audited), and "
            f"the baseline has moved on since (current is "
            f"{pointer.current.version_sha256[:12]})",
            hint="a gate decision is promoted once: to make this candidate the baseline "
                 "again, gate it against the current baseline and promote that decision")
    if pointer.current.version_sha256 not in (
            record.baseline_sha256, record.candidate_sha256):
        raise PromotionRefused(
            f"{store.url(prefix + '/current.json')}: the baseline moved since the gate "
            f"(gated against {(record.baseline_sha256 or 'no baseline')[:12]}, current is "
            f"{pointer.current.version_sha256[:12]})",
            hint="re-run the gate against the current baseline, then promote")
    return True


def entry_decision_id(record: GateRecord) -> str:
    """The promotion of one gate decision of one entry: shared by its replays and its twin
    events (they read the same record), never by a later gate decision of the same commit."""
    entry = hashlib.sha256(  # entry: as keys spell it
        f"{record.entry}|{record.decision_id}".encode()).hexdigest()[:8]
    return f"promote-{record.commit[:12]}-{(record.candidate_sha256 or '')[:12]}-{entry}"

