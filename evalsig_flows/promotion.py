"""Baseline promotion after merge: every entry a CI gate recorded for the commit, or none.

Promotion takes the commit's (or PR's) whole set of recorded entries, optionally narrowed by
`suite`/`task`/`metric`, and promotes it all or nothing: unless every entry was gated ALLOW
(none PENDING, REJECT, INCONCLUSIVE or DOCTOR), every candidate still matches its gated SHA-256
and every baseline is still the one it was gated against, nothing is promoted and the refusal
is audited. Why: the entries of one commit are one release (a model or prompt change shipped
together); promoting its good tasks and leaving the rest would make the stored baselines
describe a build that never existed, and a REJECT on one task means the change is not accepted.
Before any pointer moves (promotion_checks.py), each entry is checked and its candidate read;
an entry that has a baseline gets its candidate staged as an immutable baseline version
(content-addressed; unreferenced if the set is refused); right before the writes every pointer
is checked again (staging takes a while: this narrows the window in which another promotion can
move a baseline of the set to a few reads). A first baseline is not staged (a version without a
pointer reads as a deleted one, blocking the entry): its candidate is read again and written at
its pointer move, after the checks, so a refused set or a lost race leaves none. Each pointer
then moves through the conditional write in baselines.py, one at a time (an object store has no
multi-object transaction). When a write fails after others landed (another promotion moved that
baseline after the checks: a run outside the deployment's concurrency limit, or by hand; a
storage error; a bug), every pointer naming this promotion is rolled back, conditionally, and
audited (rollback.py): the run ends Failed naming them, and any that could not be (moved on
since by another promotion) first, as SET HALF PROMOTED. First baselines are written last: a
created pointer cannot be rolled back. Why a rollback, not a refusal naming what moved: a
replay after such a race is refused too (that baseline moved since the gate), so the set would
stay half promoted for good. After a rollback a replay promotes the set if every baseline is
again the gated one (the race's winner rolled back too; a rolled-back decision was never
audited PROMOTED, so it is not "applied before"), else it is refused.

What remains without a transaction: between two writes the set is briefly half promoted (a
gate reading a baseline then may gate against a version about to be rolled back; its own
promotion is then refused, that baseline having moved since). A run killed between two
writes (no rollback runs) leaves the set so until a replay, which completes it or, if
another promotion moved a remaining entry meanwhile, is refused before any write, leaving
the killed run's moves: a replay rolls back only after a write of its own fails.
An entry promoted and audited before whose baseline has moved on since (e.g. reverted) is
refused, never applied twice (its audit record would not be written again); gated again, it
is a new decision. A PR's entries must all come from one commit (its last gated head), else
promotion refuses: re-gate the head.

Every refusal is a decision and is audited (verdict REFUSED): PromotionRefused (exit 1), and
bad parameters or store contents, UsageError (64) and InputError (65, 66 when an object is
missing). Storage and software failures (74, 70) decide nothing and are not audited (a
rollback they cause is).

A merge sends two events: the merged PR (promoted by its gated head SHA) and the push of the
merge or squash commit, whose new SHA no gate ever decided. A promotion started by a push
(`trigger="push"`) of a commit without any CI gate record is therefore not a refusal: it ends
Completed "NOT GATED" and is audited with verdict NOT-GATED (exit code 0), so a direct push
to the default branch that no gate decided stays visible in the trail without failing every
merge. A push of a gated commit (a fast-forward merge) promotes or is refused as always.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State

from evalsig_core import EvalsigError, InputError, UsageError
from evalsig_core.audit import AuditInput
from evalsig_core.numfmt import counted
from evalsig_core.render import code_span, md_text

from . import audit_log, baselines
from .baselines import (
    PromotionRefused,
    PromotionResult,
    baseline_prefix,
    extension,
    move_pointer,
)
from .ci_records import (
    GateRecord,
    NoGateDecision,
    check_repo,
    describe_target,
    read_records,
)
from .pipeline import (
    DEFAULT_STORE,
    audit_fields,
    failed_from_error,
)
from .promotion_checks import (
    check_baselines,
    entry_decision_id,
    read_candidate,
    stage_version,
)
from .rollback import roll_back_set
from .store import open_store
from .tasks import IO, artifact_key, audit_task

__all__ = ["promote_baseline_flow"]

# A refusal is a decision (audited): the records, names or store contents do not allow the
# promotion. A storage or software failure decides nothing (not audited; a replay decides).
_REFUSALS = (PromotionRefused, UsageError, InputError)


@task(name="promote-baseline", **IO)
def promote_task(store_uri: str, record: GateRecord, version_key: str | None,
                 decision_id: str, now: datetime | None = None) -> PromotionResult:
    """Move the entry's pointer to its staged version (the run is not read again); a first
    baseline (`version_key` None) is read again and written right before its pointer.

    Why again, not carried from staging: the set is staged whole before any pointer moves,
    so carrying the bytes would hold every first baseline's candidate of the set in memory
    until its write (run files and HELM archives run to hundreds of MB) to save one read that
    an entry needs once in its life; this read also checks the SHA-256 right before the write.

    `now` (the promotion's time) is fixed across task retries: a retry that finds the very
    pointer entry it wrote (its answers lost) reports "promoted", not "already-current".
    """
    store = open_store(store_uri)
    sha = record.candidate_sha256 or ""
    data = None
    if version_key is None:
        data = read_candidate(store, record)
        version_key = baselines.version_key(
            baseline_prefix(record.suite, record.task, record.metric), sha,
            extension(record.candidate_key or ""))
    return move_pointer(store, suite=record.suite, task=record.task,
                        metric=record.metric, key=version_key, sha256=sha, data=data,
                        expected_base=record.baseline_sha256, decision_id=decision_id,
                        source={"repo": record.repo, "pr_number": record.pr_number,
                                "commit": record.commit, "gate_decision_id": record.decision_id},
                        now=now)


@task(name="find-audit-records", **IO)
def audited(store_uri: str, decision_ids: list[str], depth: int = 200) -> set[str]:
    """Which of these decision ids are among the newest `depth` records of the chain?"""
    wanted = set(decision_ids)
    return {rec.decision_id for _, rec in audit_log.recent_records(open_store(store_uri),
                                                                    limit=depth)
            if rec.decision_id in wanted}


Trigger = Literal["push", "merged-pr"]


@flow(name="evalsig-promote", log_prints=True)
def promote_baseline_flow(repo: str, commit: str | None = None, pr_number: int | None = None,
                          store: str = DEFAULT_STORE, suite: str | None = None,
                          task: str | None = None, metric: str | None = None,
                          trigger: Trigger | None = None) -> State[Any]:
    """On merge: make every candidate gated ALLOW for `commit` (or PR) the current baseline.

    All or nothing: refuses unless every recorded entry of the commit (narrowed by
    `suite`/`task`/`metric` when given) was gated ALLOW and is still promotable (candidate
    unchanged, baseline not moved since the gate); a pointer write failing after others of
    the set landed (a race, a storage error) rolls those back, audited ROLLED-BACK, and the
    message names them (one moved on since, not rolled back: "SET HALF PROMOTED, NOT ROLLED
    BACK: ..."). Every refusal is audited (verdict REFUSED) and ends Failed with one line
    and its exit code: "REFUSED (exit 1)", or "USAGE ERROR (exit 64)" / "INPUT ERROR (exit
    65)" / "INPUT NOT FOUND (exit 66)" for bad parameters or store contents; if the
    refusal's audit record cannot be written, the line says so. Storage failures (exit 74)
    are not decisions and are not audited. Failed data adds {rolled_back, not_rolled_back}
    when a rollback ran. Idempotent on replay; never overwrites a version, so no baseline is
    ever lost. Completed data:
    {status: promoted|already-current, repo, commit, entries: [{entry, status,
    version_sha256, previous_sha256, pointer, ...}]}.

    `trigger` says what started the run ("push", "merged-pr" from the webhook receiver; None
    by hand) and is kept in the audit context. With "push", a commit no CI gate recorded
    anything for (the merge or squash commit of a PR, or a direct push) is not a refusal:
    Completed "NOT GATED: ...", data {status: not-gated, ...}, audited as NOT-GATED.
    """
    now = datetime.now(UTC)
    narrow = (suite, task, metric)
    records: list[GateRecord] = []
    try:
        check_repo(repo)
        records = read_records(store, repo, commit, pr_number, narrow)
        bad = [r for r in records
               if r.verdict != "ALLOW" or not r.candidate_key or not r.candidate_sha256]
        if bad:
            raise PromotionRefused(
                f"{repo} {describe_target(commit, pr_number)}: "
                + "; ".join(f"{r.entry} was gated {r.verdict}, not ALLOW (report: {r.report})"
                            for r in bad)
                + f"; nothing promoted ({len(bad)} of {counted(len(records), 'entry', 'entries')} "
                  "not ALLOW)",
                hint="a merge promotes all of its gated entries or none: gate them again "
                     "until every one is ALLOW, or narrow with suite/task/metric")
        versions = [stage_version(store, rec) for rec in records]
        has_baseline = check_baselines(store, records)
    except NoGateDecision as exc:
        if trigger == "push" and commit and pr_number is None:
            return _not_gated(store, repo, commit, exc, now)
        return _failed(store, repo, commit, pr_number, exc, now, records, trigger=trigger)
    except EvalsigError as exc:
        return _failed(store, repo, commit, pr_number, exc, now, records, trigger=trigger)
    # first baselines last: a pointer created cannot be rolled back (there is no "none" to
    # point at again), so they go after every entry that can be (sorted order otherwise)
    staged = sorted(zip(records, versions, has_baseline, strict=True), key=lambda s: not s[2])
    return _promote_all(store, repo, [(rec, version) for rec, version, _ in staged], now,
                        trigger)


def _not_gated(store: str, repo: str, commit: str, exc: NoGateDecision,
               now: datetime) -> State[Any]:
    """A pushed commit that no gate decided: a trace in the trail, not a failure.

    If the trace cannot be written the run fails (and a redelivery can write it).
    """
    reason = (f"no CI gate decided {repo} commit {commit}; nothing promoted (a merged pull "
              "request promotes by its head SHA in its own run; a push of a commit no gate "
              "decided, such as a merge or squash commit or a direct push, promotes nothing)")
    did = f"ungated-{commit[:12]}"
    try:
        audit_task(store, audit_fields(
            decision_id=did, decision="promotion", now=now, report=None, inputs=[],
            verdict="NOT-GATED", exit_code=0, locations={},
            context={"repo": repo, "commit": commit, "pr_number": None, "trigger": "push",
                     "reason": reason}), once=True)
    except EvalsigError as audit_exc:
        return failed_from_error(audit_exc, f"not recorded: {reason}")
    print(f"NOT GATED: {reason}")
    return Completed(message=f"NOT GATED: {reason}", data={
        "status": "not-gated", "repo": repo, "commit": commit, "pr_number": None,
        "entries": [], "decision_id": did, "detail": exc.one_line()})


def _promote_all(store: str, repo: str, staged: list[tuple[GateRecord, str | None]],
                 now: datetime, trigger: str | None = None) -> State[Any]:
    records = [rec for rec, _ in staged]
    done: list[tuple[GateRecord, PromotionResult]] = []
    failure: EvalsigError | None = None
    for rec, version in staged:  # every entry was checked: a failure here is a race or I/O
        try:
            done.append((rec, promote_task(store, rec, version, entry_decision_id(rec), now)))
        except EvalsigError as exc:
            failure = exc
            break
        except Exception as exc:  # unforeseen: still roll back what already moved
            failure = EvalsigError(f"{type(exc).__name__}: {exc}")
            break
    if failure is not None:  # all or nothing: undo this decision's moves, then fail
        rollback = roll_back_set(
            store, [(rec, res, entry_decision_id(rec)) for rec, res in done], failure,
            _run_decision_id("rollback", records[0].commit, None, now),
            {"repo": repo, "commit": records[0].commit, "pr_number": records[0].pr_number,
             "trigger": trigger})
        return _failed(store, repo, records[0].commit, records[0].pr_number, failure, now,
                       records, note=rollback.note(), trigger=trigger, extra=rollback.data())
    entries = [_summary(rec, res) for rec, res in done]
    unaudited: EvalsigError | None = None
    try:
        seen = audited(store, [e["decision_id"] for e in entries
                               if e["status"] != "promoted"])
        for (rec, res), e in zip(done, entries, strict=True):
            # already current: audit it only if this promotion moved it (a replay after a
            # run killed before its audit), not if another decision promoted the same bytes;
            # `once` links it at most once (`seen` also covers records written before claims)
            ours = res.pointer.current.decision_id == e["decision_id"]
            if e["status"] == "promoted" or (ours and e["decision_id"] not in seen):
                _audit_promotion(store, rec, e, now, trigger)
    except EvalsigError as exc:  # every pointer moved: the set is whole, only unaudited
        unaudited = exc
    for (rec, _), e in zip(done, entries, strict=True):
        create_markdown_artifact(
            promotion_artifact(repo, rec, e),
            key=artifact_key("evalsig-promotion", rec.suite, rec.task, rec.metric))
        print(f"promotion {e['status']}: {e['pointer']} -> {e['version_key']}")
    if unaudited is not None:
        return _failed(store, repo, records[0].commit, records[0].pr_number, unaudited, now,
                       records, trigger=trigger, note="every entry of the set was promoted "
                       "(promote again: a replay writes the missing audit records)")
    status = "promoted" if any(e["status"] == "promoted" for e in entries) else \
        "already-current"
    summary = {"status": status, "repo": repo, "commit": records[0].commit,
               "pr_number": records[0].pr_number, "entries": entries}
    return Completed(message=f"{status.upper()}: " + "; ".join(
        f"{e['entry']} -> {e['version_key']} ({e['status']})" for e in entries), data=summary)


def promotion_artifact(repo: str, rec: GateRecord, e: dict[str, Any]) -> str:
    """The Markdown artifact of one promoted entry (`e` from `_summary`): the repo, commit,
    entry and pointer names are code spans, so no name from the suite file or the webhook adds
    markup to it."""
    previous = (e["previous_sha256"] or "none")[:12]
    return (f"# evalsig promotion: {md_text(e['status'])}\n\n{code_span(repo)} "
            f"{code_span(rec.commit)} {code_span(rec.entry)} -> baseline "
            f"{code_span(e['version_sha256'][:12])} ({code_span(e['pointer'])}, sequence "
            f"{md_text(e['sequence'])}); previous {code_span(previous)}.\n")


def _summary(rec: GateRecord, result: PromotionResult) -> dict[str, Any]:
    ptr = result.pointer
    return {"entry": rec.entry, "suite": rec.suite, "task": rec.task, "metric": rec.metric,
            "status": result.status, "decision_id": entry_decision_id(rec),
            "version_sha256": ptr.current.version_sha256, "version_key": ptr.current.key,
            "sequence": ptr.sequence,
            "previous_sha256": ptr.previous.version_sha256 if ptr.previous else None,
            "pointer": f"{baseline_prefix(rec.suite, rec.task, rec.metric)}/current.json",
            "gate_decision_id": rec.decision_id}


def _audit_promotion(store: str, rec: GateRecord, e: dict[str, Any], now: datetime,
                     trigger: str | None) -> None:
    audit_task(store, audit_fields(
        decision_id=e["decision_id"], decision="promotion", now=now, report=None,
        inputs=[AuditInput(role="candidate", uri=open_store(store).url(rec.candidate_key or ""),
                           sha256=rec.candidate_sha256),
                AuditInput(role="previous-baseline", uri=None, sha256=e["previous_sha256"])],
        verdict="PROMOTED", exit_code=0, locations={"json": rec.report or ""},
        context={k: v for k, v in e.items() if k != "status"}
        | {"repo": rec.repo, "commit": rec.commit, "pr_number": rec.pr_number,
           "trigger": trigger}), once=True)  # twins (push + merged PR) and replays: one record


def _run_decision_id(kind: str, commit: str | None, pr_number: int | None,
                     now: datetime) -> str:
    """The id of one run's refusal or rollback: its time and its commit (or PR)."""
    target = re.sub(r"[^0-9a-z]+", "", (commit or f"pr{pr_number}").lower())[:12] or "unknown"
    return f"{kind}-{now:%Y%m%dt%H%M%S%f}z-{target}"


def _failed(store: str, repo: str, commit: str | None, pr_number: int | None,
            exc: EvalsigError, now: datetime, records: list[GateRecord],
            note: str = "", trigger: str | None = None,
            extra: dict[str, Any] | None = None) -> State[Any]:
    """The Failed state of a promotion; a refusal is audited first (a decision too).

    If the refusal's audit record cannot be written, the state says so: a refusal is never
    silently missing from the trail.
    """
    extra = extra or {}
    if not isinstance(exc, _REFUSALS):
        return failed_from_error(exc, note, extra)
    did = _run_decision_id("refuse", commit, pr_number, now)
    reason = exc.one_line() + (f"; {note}" if note else "")
    try:
        audit_task(store, audit_fields(
            decision_id=did, decision="promotion", now=now, report=None, inputs=[],
            verdict="REFUSED", exit_code=int(exc.exit_code), locations={},
            context={"repo": repo, "commit": commit, "pr_number": pr_number,
                     "trigger": trigger, "reason": reason,
                     "entries": {r.entry: r.verdict for r in records}}))
    except EvalsigError as audit_exc:
        return failed_from_error(
            exc, "; ".join(filter(None, [note, "this refusal was NOT audited: "
                                         + audit_exc.one_line()])),
            extra | {"audited": False, "audit_error": audit_exc.one_line()})
    return failed_from_error(exc, note, extra | {"audited": True, "decision_id": did},
                             decision="REFUSED")
