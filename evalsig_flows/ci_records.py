"""CI gate records: where each decision is stored, and how promotion reads them back.

The CI gate records its decision once per gated entry (suite, task, metric), so that a
repository gating several tasks on one commit (one `ci_gate_flow` run each) keeps them all:
    ci/<owner>/<repo>/commits/<head_sha>/<suite>/<task>/<metric>.json   per commit and entry
    ci/<owner>/<repo>/prs/<number>/<suite>/<task>/<metric>.json         latest per PR and entry
Every segment is validated or escaped (owner/repo as GitHub spells them, never "." or "..";
suite, task and metric by `store.key_segment`, the same escaping the baselines use:
%-escaped to exactly one segment, [A-Za-z0-9._~-] kept, and empty, ".", ".." or over-long
names refused), so a key can neither escape its prefix nor be shared by two entries; a record
must also name the entry its key names, which catches a collision on a case-insensitive file
store. The gate writes a PENDING record first: a gate that fails midway never leaves an older
ALLOW promotable. It then writes its verdict only over its own PENDING record (If-Match): of
two gates of one entry on one commit (a re-run CI job), the one started last decides, however
the two finish. The PENDING record names the decision id the gate will audit and a digest
of its parameters (`params_sha256`): if the verdict record then fails to write, the next run
of that gate (same entry, same parameters: a flow retry, a redelivery, a re-run job) finds the
audited decision (`find_unrecorded`) and records it instead of deciding a second time.

A record of the old layout (`commits/<sha>.json`, one per commit: the last entry gated) is
still read, but it cannot show whether other entries were overwritten, so promotion refuses
it unless narrowed to that entry (or the commit is gated again).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prefect import task
from pydantic import BaseModel, ConfigDict, ValidationError

from evalsig_core import GateReport, InputError, InputNotFoundError, UsageError
from evalsig_core.audit import AuditRecord

from . import audit_log
from .baselines import PromotionRefused
from .store import PreconditionFailed, Store, key_segment, open_store
from .tasks import IO
from .text import quoted

if TYPE_CHECKING:
    from .pipeline import GateOutcome

__all__ = ["GateRecord", "NoGateDecision", "Unrecorded", "check_pr", "check_repo", "check_sha",
           "describe_target", "entry_name", "find_unrecorded",
           "params_digest", "read_records", "record_gate", "record_keys", "verdict_record"]

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


class NoGateDecision(PromotionRefused):
    """No CI gate recorded anything for the commit (or PR): nothing to promote from."""


class GateRecord(BaseModel):
    """What a CI gate decided for one entry of one commit: enough for promotion to act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision_id: str | None
    verdict: str  # ALLOW / REJECT / INCONCLUSIVE / DOCTOR, or PENDING while the gate runs
    repo: str
    pr_number: int | None
    commit: str
    suite: str
    task: str
    metric: str
    candidate_key: str | None = None
    candidate_sha256: str | None = None
    baseline_sha256: str | None = None
    report: str | None = None
    time: datetime  # when the gate started: the time of its decision
    params_sha256: str | None = None  # the gate's parameters (`params_digest`)

    @property
    def entry(self) -> str:
        """`<suite>/<task>/<metric>` as the keys spell it (see `entry_name`)."""
        return entry_name(self.suite, self.task, self.metric)


def check_repo(repo: str) -> str:
    if not _REPO.fullmatch(repo or "") or any(p in (".", "..") for p in repo.split("/")):
        raise UsageError(f"invalid repo {quoted(repo)}: expected owner/name")
    return repo


def check_sha(sha: str) -> str:
    if not _SHA.fullmatch(sha or ""):
        raise UsageError(f"invalid commit SHA {quoted(sha)}: expected 7-64 lowercase hex digits")
    return sha


def check_pr(number: int) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise UsageError(f"invalid PR number {number!r}: expected a positive integer")
    return number


def entry_name(suite: str, task: str, metric: str) -> str:
    """An entry as `<suite>/<task>/<metric>`, each name escaped by key_segment: the form the
    keys use, so two different entries never print (or hash) the same, e.g. suite `a`, task
    `b/c` is `a/b%2Fc/...` while suite `a/b`, task `c` is `a%2Fb/c/...`."""
    return (f"{key_segment('suite', suite)}/{key_segment('task', task)}/"
            f"{key_segment('metric', metric)}")


def _entry_path(suite: str, task: str, metric: str) -> str:
    return entry_name(suite, task, metric) + ".json"


def _commit_prefix(repo: str, sha: str) -> str:
    return f"ci/{check_repo(repo)}/commits/{check_sha(sha)}/"


def _pr_prefix(repo: str, number: int) -> str:
    return f"ci/{check_repo(repo)}/prs/{check_pr(number)}/"


def record_keys(record: GateRecord) -> list[str]:
    """Where a gate record is stored: under its commit, and under its PR when there is one."""
    entry = _entry_path(record.suite, record.task, record.metric)
    keys = [_commit_prefix(record.repo, record.commit) + entry]
    if record.pr_number is not None:
        keys.append(_pr_prefix(record.repo, record.pr_number) + entry)
    return keys


def params_digest(params: dict[str, Any]) -> str:
    """SHA-256 of a gate's parameters (JSON, keys sorted): the same gate asked again."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def verdict_record(pending: GateRecord, out: GateOutcome) -> GateRecord:
    """The gate's verdict record: its PENDING record with the decision (the same bytes
    whether the gate wrote it or a later run adopting its audited decision did)."""
    verdict = out.report.verdict.value if isinstance(out.report, GateReport) else "DOCTOR"
    return pending.model_copy(update={
        "decision_id": out.locations["decision_id"], "verdict": verdict,
        "candidate_key": out.candidate.key, "candidate_sha256": out.candidate.sha256,
        "baseline_sha256": out.baseline.sha256, "report": out.locations["json"]})


@dataclass(frozen=True)
class Unrecorded:
    """A gate that decided (audited) but whose verdict record was not written everywhere."""

    pending: GateRecord  # its PENDING record, as stored
    audited: AuditRecord
    replaces: dict[str, str]  # {key: ETag} of the keys still holding that PENDING record
    recorded: list[str]  # keys already holding its verdict record


@task(name="find-unrecorded-ci-gate", **IO)
def find_unrecorded(store_uri: str, pending: GateRecord) -> Unrecorded | None:
    """The earlier run of this gate (same entry, same parameters) that decided, if its
    verdict is still missing under one of the keys (a retry, a redelivery, a re-run job).

    Its PENDING record names the decision id it audited under; a decision never audited (a
    run that failed before the audit) is not found: the gate is then run again.
    """
    store = open_store(store_uri)
    stored: dict[str, tuple[str, GateRecord]] = {}
    for key in record_keys(pending):
        info = store.head(key)  # ETag first: if the record changes after, If-Match fails
        if info is None:
            continue
        try:
            stored[key] = (info.etag, GateRecord.model_validate_json(store.get(key)))
        except (ValidationError, InputNotFoundError):
            continue
    first = stored.get(record_keys(pending)[0])
    if first is None or first[1].params_sha256 != pending.params_sha256 \
            or first[1].decision_id is None:
        return None
    did = first[1].decision_id
    ours = {k: (etag, r) for k, (etag, r) in stored.items() if r.decision_id == did
            and r.params_sha256 == pending.params_sha256}
    waiting = {k: etag for k, (etag, r) in ours.items() if r.verdict == "PENDING"}
    if not waiting:
        return None
    audited = audit_log.find_linked(store, did)
    if audited is None:
        return None
    before = next(r for k, (_, r) in ours.items() if k in waiting)
    return Unrecorded(before, audited, waiting, sorted(set(ours) - set(waiting)))


@task(name="record-ci-gate", **IO)
def record_gate(store_uri: str, record: GateRecord,
                replaces: dict[str, str] | None = None) -> dict[str, str]:
    """Write `record` under each of its keys; returns {key: ETag} of the keys written.

    With `replaces` ({key: ETag} of this gate's PENDING record), only those keys are written,
    each only while it still holds that PENDING record (If-Match): if a later gate of the same
    entry has replaced it, that gate's record stands and the key is left alone, so a gate
    finishing last never overwrites the decision of a gate started after it. A key missing
    from `replaces` (one already holding this verdict, when a later run completes an
    unrecorded decision) is not touched.
    """
    store = open_store(store_uri)
    data = (record.model_dump_json(indent=2) + "\n").encode()
    written: dict[str, str] = {}
    for key in record_keys(record):
        if replaces is None:
            written[key] = store.put(key, data).etag
            continue
        if key not in replaces:
            continue
        try:
            written[key] = store.put(key, data, if_match=replaces[key]).etag
        except PreconditionFailed:
            info = store.head(key)
            if info is not None and store.get(key) == data:  # ours landed, answer lost
                written[key] = info.etag
    return written


# -- reading the records ------------------------------------------------------------------

def _load(store: Store, key: str) -> GateRecord:
    try:
        return GateRecord.model_validate_json(store.get(key))
    except ValidationError as exc:
        raise InputError(f"not a CI gate record: {exc.errors()[0]['msg']}",
                         path=store.url(key), hint="gate the commit again") from None


def _entries_under(store: Store, prefix: str, expect: dict[str, Any]) -> list[GateRecord]:
    """Every record under a commit's (or PR's) prefix, each checked against its own key."""
    out = []
    for key in store.list(prefix):
        rec = _load(store, key) if key.endswith(".json") else None
        if rec is None or key != prefix + _entry_path(rec.suite, rec.task, rec.metric):
            raise InputError("not the CI gate record of the entry its key names",
                             path=store.url(key), hint="remove it; records are "
                             "<suite>/<task>/<metric>.json, written by evalsig-ci-gate")
        if any(getattr(rec, k) != v for k, v in expect.items()):
            raise InputError(f"the record is for {rec.repo} commit {rec.commit} PR "
                             f"{rec.pr_number}, not for its key's", path=store.url(key),
                             hint="remove it and gate the commit again")
        out.append(rec)
    return out


def _legacy(store: Store, key: str, narrow: tuple[str | None, ...]) -> GateRecord | None:
    """A record of the old layout (one per commit), usable only when narrowed to its entry."""
    try:
        rec = _load(store, key)
    except InputNotFoundError:
        return None
    if narrow != (rec.suite, rec.task, rec.metric):
        raise PromotionRefused(
            f"{store.url(key)}: a CI gate record of the old layout (one per commit, the last "
            f"entry gated: {rec.entry}), which cannot show whether other entries were "
            "gated on it", hint="gate the commit again so that every entry is recorded, or "
            f"promote that one entry with suite={rec.suite!r}, task={rec.task!r}, "
            f"metric={rec.metric!r}")
    return rec


@task(name="read-ci-gate-records", **IO)
def read_records(store_uri: str, repo: str, commit: str | None, pr_number: int | None,
                 narrow: tuple[str | None, str | None, str | None]) -> list[GateRecord]:
    """The entries recorded for `commit` (else for the PR), narrowed; refuses if there are none.

    With both (a merged PR), the commit's records are used; the PR's only if the commit has
    none, and then only if the PR was last gated on that commit.
    """
    if not commit and pr_number is None:
        raise UsageError("promotion needs the gated commit SHA or the PR number")
    store = open_store(store_uri)
    found: list[GateRecord] = []
    legacy: GateRecord | None = None
    if commit:
        prefix = _commit_prefix(repo, commit)
        found = _entries_under(store, prefix, {"repo": repo, "commit": commit})
        if not found:
            legacy = _legacy(store, prefix.rstrip("/") + ".json", narrow)
    if not found and legacy is None and pr_number is not None:
        prefix = _pr_prefix(repo, pr_number)
        found = _entries_under(store, prefix, {"repo": repo, "pr_number": pr_number})
        if not found:
            legacy = _legacy(store, prefix.rstrip("/") + ".json", narrow)
    if legacy is not None:
        found = [legacy]
    where = describe_target(commit, pr_number)
    if not found:
        raise NoGateDecision(f"no CI gate decision for {repo} {where}",
                               hint="run the CI gate (evalsig-ci-gate) on the PR first")
    chosen = [r for r in found if all(want is None or want == have for want, have in
                                      zip(narrow, (r.suite, r.task, r.metric), strict=True))]
    if not chosen:
        raise PromotionRefused(
            f"no CI gate decision for {repo} {where} matches suite={narrow[0]!r} "
            f"task={narrow[1]!r} metric={narrow[2]!r}; recorded: "
            f"{', '.join(r.entry for r in found)}", hint="narrow to a recorded entry")
    commits = sorted({r.commit for r in chosen} | ({commit} if commit else set()))
    if len(commits) > 1:
        raise PromotionRefused(
            f"{repo} {where}: the entries were last gated on different commits "
            f"({', '.join(c[:12] for c in commits)})",
            hint="gate every entry on the PR's head commit again, then promote")
    return sorted(chosen, key=lambda r: (r.suite, r.task, r.metric))


def describe_target(commit: str | None, pr_number: int | None) -> str:
    return " ".join(([f"commit {commit}"] if commit else []) +
                    ([f"PR #{pr_number}"] if pr_number is not None else []))
