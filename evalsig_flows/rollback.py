"""Undo a promotion's pointer moves when a later entry of its set fails: all or nothing.

An object store has no multi-object transaction, so the promotion flow moves one pointer at a
time. When a write of the set fails (another promotion moved that entry's baseline after the
checks, a storage error, a bug), every pointer that still names this promotion's decision is
rolled back by `baselines.roll_back_pointer`: a new pointer (sequence + 1) pointing at the
version before again, written If-Match on the ETag of the pointer that names our decision,
so a rollback never clobbers a third promotion that moved it meanwhile. Versions are never
deleted. One audit record (verdict ROLLED-BACK, or ROLLBACK-INCOMPLETE) names the entries
rolled back and those that could not be: moved on since by another promotion, the entry's
first baseline (no earlier version to restore: a pointer cannot be un-created), or a failed
rollback write. Those stay promoted, and the run's message says so first, in capitals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect import task

from evalsig_core import EvalsigError

from .baselines import PromotionResult, RollbackResult, roll_back_pointer
from .ci_records import GateRecord
from .pipeline import audit_fields
from .store import open_store
from .tasks import IO, audit_task

__all__ = ["RollbackReport", "roll_back_set"]


@task(name="roll-back-baseline", **IO)
def roll_back_task(store_uri: str, record: GateRecord, decision_id: str,
                   rollback_id: str, now: datetime) -> RollbackResult:
    """Point the entry back at the version before `decision_id`, unless it moved on since."""
    return roll_back_pointer(open_store(store_uri), suite=record.suite, task=record.task,
                             metric=record.metric, decision_id=decision_id,
                             rollback_id=rollback_id, now=now)


@dataclass(frozen=True)
class RollbackReport:
    """What a failed promotion undid (`rolled_back`) and what it could not (`kept`)."""

    rolled_back: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    audit_error: str | None = None

    def note(self) -> str:
        """The Failed message's note: the entries left promoted first, loudly."""
        parts = []
        if self.kept:
            parts.append("SET HALF PROMOTED, NOT ROLLED BACK: " + "; ".join(
                f"{k['entry']} stays at {k['version_sha256'][:12]} ({k['why']})"
                for k in self.kept) + " (check these baselines: the others of the set are "
                "not promoted)")
        if self.rolled_back:
            parts.append("rolled back: " + ", ".join(r["entry"] for r in self.rolled_back)
                         + " (moved by this promotion before the failure, each pointed at "
                           "its previous version again)")
        if self.audit_error:
            parts.append(f"this rollback was NOT audited: {self.audit_error}")
        elif self.rolled_back or self.kept:
            parts.append("audited ROLLED-BACK" if not self.kept else
                         "audited ROLLBACK-INCOMPLETE")
        return "; ".join(parts)

    def data(self) -> dict[str, Any]:
        return {"rolled_back": self.rolled_back, "not_rolled_back": self.kept}


_WHY = {"moved-on": "another promotion moved it since: current is {current}",
        "first-baseline": "its first baseline: there is no earlier version to restore"}


def roll_back_set(store: str, done: list[tuple[GateRecord, PromotionResult, str]],
                  failure: EvalsigError, rollback_id: str,
                  context: dict[str, Any]) -> RollbackReport:
    """Roll back every entry of `done` (record, its move's result, its decision id) whose
    pointer this decision moved, in this run or in an earlier run of it killed between its
    writes; then audit what was rolled back and what was not. Another decision that promoted
    the same bytes is not ours to undo."""
    now = datetime.now(UTC)
    rolled: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for rec, res, did in done:
        if res.pointer.current.decision_id != did:
            continue
        entry = {"entry": rec.entry, "decision_id": did,
                 "version_sha256": res.pointer.current.version_sha256}
        try:
            rb = roll_back_task(store, rec, did, rollback_id, now)
        except EvalsigError as exc:
            kept.append(entry | {"why": f"the rollback failed: {exc.one_line()}"})
            continue
        except Exception as exc:  # unforeseen: the entry stays promoted, say so
            kept.append(entry | {"why": f"the rollback failed: {type(exc).__name__}: {exc}"})
            continue
        current = rb.pointer.current.version_sha256 if rb.pointer else None
        if rb.status == "rolled-back":
            rolled.append(entry | {"restored_sha256": current,
                                   "sequence": rb.pointer.sequence if rb.pointer else None})
        else:
            kept.append(entry | {"why": _WHY[rb.status].format(
                current=(current or "none")[:12])})
    report = RollbackReport(rolled, kept)
    if not rolled and not kept:
        return report
    try:
        audit_task(store, audit_fields(
            decision_id=rollback_id, decision="promotion", now=now, report=None, inputs=[],
            verdict="ROLLBACK-INCOMPLETE" if kept else "ROLLED-BACK",
            exit_code=int(failure.exit_code), locations={},
            context=context | {"reason": failure.one_line(), **report.data()}))
    except EvalsigError as exc:
        return RollbackReport(rolled, kept, exc.one_line())
    return report
