"""CI gate on a pull request, and baseline promotion after merge.

The CI gate records its decision per commit and per PR:
    ci/<owner>/<repo>/commits/<head_sha>.json      the latest gate of that commit
    ci/<owner>/<repo>/prs/<number>.json            the latest gate of that PR
Promotion reads that record: it promotes only a candidate gated ALLOW, only if the baseline
has not moved since the gate, with a conditional pointer write (see baselines.py). Replaying
a promotion is a no-op that completes any audit record a killed run did not write.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State
from pydantic import BaseModel, ConfigDict

from evalsig_core import EvalsigError, GateReport, Policy, StorageError, UsageError
from evalsig_core.audit import AuditInput

from . import audit_log
from .baselines import PromotionRefused, PromotionResult, baseline_prefix, extension, promote
from .pipeline import DEFAULT_STORE, GateParams, audit_fields, failed_from_error, run_gate
from .store import open_store
from .tasks import IO, artifact_key, audit_task

__all__ = ["GateRecord", "ci_gate_flow", "promote_baseline_flow"]

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


class GateRecord(BaseModel):
    """What a CI gate decided for one commit: enough for promotion to act on it alone."""

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
    time: datetime


def _check_repo(repo: str) -> str:
    if not _REPO.match(repo):
        raise UsageError(f"invalid repo {repo!r}: expected owner/name")
    return repo


def _check_sha(sha: str) -> str:
    if not _SHA.match(sha or ""):
        raise UsageError(f"invalid commit SHA {sha!r}: expected 7-64 lowercase hex digits")
    return sha


@task(name="record-ci-gate", **IO)
def record_gate(store_uri: str, record: GateRecord) -> None:
    store = open_store(store_uri)
    data = (record.model_dump_json(indent=2) + "\n").encode()
    store.put(f"ci/{record.repo}/commits/{record.commit}.json", data)
    if record.pr_number is not None:
        store.put(f"ci/{record.repo}/prs/{record.pr_number}.json", data)


@flow(name="evalsig-ci-gate", log_prints=True)
def ci_gate_flow(
    repo: str,
    pr_number: int | None,
    head_sha: str,
    task: str,
    metric: str,
    min_delta: float,
    candidate: str | None = None,
    command: list[str] | None = None,
    output: str = "*",
    timeout: float = 3600.0,
    baseline: str | None = None,
    cluster: str | None = None,
    filter: str | None = None,
    alpha: float = 0.05,
    power: float = 0.80,
    mode: str = "superiority",
    method: str = "auto",
    resamples: int = 10000,
    seed: int = 0,
    suite: str = "default",
    store: str = DEFAULT_STORE,
) -> State[Any]:
    """Gate a PR's candidate (a URI, or `command` run with `timeout`) against the stored baseline.

    Records the decision under ci/<repo>/commits/<head_sha>.json for `promote_baseline_flow`.
    Completed on ALLOW; Failed with the verdict (after publishing) otherwise.
    """
    try:
        _check_repo(repo)
        _check_sha(head_sha)
        policy = Policy(min_delta=min_delta, alpha=alpha, power=power, mode=mode,
                        method=method, resamples=resamples, seed=seed, metric=metric,
                        cluster=cluster)
        name = f"ci-{repo.replace('/', '-')}-pr-{pr_number}"
        params = GateParams(baseline=baseline, candidate=candidate, command=command,
                            output=output, timeout=timeout, filter=filter, store=store,
                            suite=suite, task=task, name=name)
        ctx = {"repo": repo, "pr_number": pr_number, "commit": head_sha, "metric": metric}
        ident: dict[str, Any] = {"repo": repo, "pr_number": pr_number, "commit": head_sha,
                                 "suite": suite, "task": task, "metric": metric}
        # PENDING first: a gate that fails midway never leaves an older ALLOW promotable.
        record_gate(store, GateRecord(decision_id=None, verdict="PENDING",
                                      time=datetime.now(UTC), **ident))
        out = run_gate(params, policy, context=ctx)
        verdict = (out.report.verdict.value if isinstance(out.report, GateReport)
                   else "DOCTOR")
        record_gate(store, GateRecord(
            decision_id=out.locations["decision_id"], verdict=verdict,
            candidate_key=out.candidate.key, candidate_sha256=out.candidate.sha256,
            baseline_sha256=out.baseline.sha256, report=out.locations["json"],
            time=datetime.now(UTC), **ident))
    except EvalsigError as exc:
        return failed_from_error(exc)
    return out.state()


def _read_record(store_uri: str, repo: str, commit: str | None,
                 pr_number: int | None) -> GateRecord:
    from evalsig_core import InputNotFoundError

    store = open_store(store_uri)
    keys = []
    if commit:
        keys.append(f"ci/{repo}/commits/{_check_sha(commit)}.json")
    if pr_number is not None:
        keys.append(f"ci/{repo}/prs/{int(pr_number)}.json")
    if not keys:
        raise UsageError("promotion needs the gated commit SHA or the PR number")
    for key in keys:
        try:
            return GateRecord.model_validate_json(store.get(key))
        except InputNotFoundError:
            continue
    raise PromotionRefused(f"no CI gate decision for {repo} "
                           f"{'commit ' + commit if commit else ''}"
                           f"{' PR #' + str(pr_number) if pr_number is not None else ''}",
                           hint="run the CI gate (evalsig-ci-gate) on the PR first")


@task(name="promote-baseline", **IO)
def promote_task(store_uri: str, record: GateRecord, decision_id: str) -> PromotionResult:
    store = open_store(store_uri)
    key = record.candidate_key or ""  # checked by the flow: an ALLOW record names it
    data = store.get(key)
    if hashlib.sha256(data).hexdigest() != record.candidate_sha256:
        raise StorageError(f"{store.url(key)}: content differs from the "
                           "gated candidate's SHA-256", hint="re-run the CI gate")
    return promote(store, suite=record.suite, task=record.task, metric=record.metric,
                   data=data, ext=extension(key),
                   expected_base=record.baseline_sha256, decision_id=decision_id,
                   source={"repo": record.repo, "pr_number": record.pr_number,
                           "commit": record.commit, "gate_decision_id": record.decision_id})


@task(name="find-audit-record", **IO)
def audited(store_uri: str, decision_id: str, depth: int = 200) -> bool:
    """Is a record with this decision id among the newest `depth` of the chain?"""
    for _, rec in audit_log.recent_records(open_store(store_uri), limit=depth):
        if rec.decision_id == decision_id:
            return True
    return False


@flow(name="evalsig-promote", log_prints=True)
def promote_baseline_flow(repo: str, commit: str | None = None, pr_number: int | None = None,
                          store: str = DEFAULT_STORE) -> State[Any]:
    """On merge: make the candidate gated ALLOW for `commit` (or PR) the current baseline.

    Refuses (Failed "REFUSED ...") without an ALLOW gate or if the baseline moved since the
    gate; idempotent on replay; never overwrites a version, so no baseline is ever lost.
    Completed data: {status: promoted|already-current, version_sha256, previous_sha256, ...}.
    """
    now = datetime.now(UTC)
    try:
        _check_repo(repo)
        record = _read_record(store, repo, commit, pr_number)
        if record.verdict != "ALLOW" or not record.candidate_key or not record.candidate_sha256:
            raise PromotionRefused(f"{repo} commit {record.commit} was gated "
                                   f"{record.verdict}, not ALLOW (report: {record.report})")
        did = f"promote-{record.commit[:12]}-{record.candidate_sha256[:12]}"
        result = promote_task(store, record, did)
    except EvalsigError as exc:
        _audit_refusal(store, repo, commit, pr_number, exc, now)
        return failed_from_error(exc)
    ptr = result.pointer
    summary: dict[str, Any] = {"status": result.status, "decision_id": did, "repo": repo,
               "commit": record.commit, "version_sha256": ptr.current.version_sha256,
               "version_key": ptr.current.key, "sequence": ptr.sequence,
               "previous_sha256": ptr.previous.version_sha256 if ptr.previous else None,
               "pointer": f"{baseline_prefix(record.suite, record.task, record.metric)}"
                          "/current.json"}
    try:
        if result.status == "promoted" or not audited(store, did):
            audit_task(store, audit_fields(
                decision_id=did, decision="promotion", now=now, report=None,
                inputs=[AuditInput(role="candidate",
                                   uri=open_store(store).url(record.candidate_key or ""),
                                   sha256=record.candidate_sha256),
                        AuditInput(role="previous-baseline", uri=None,
                                   sha256=summary["previous_sha256"])],
                verdict="PROMOTED", exit_code=0, locations={"json": record.report or ""},
                context={k: v for k, v in summary.items() if k != "status"}
                | {"gate_decision_id": record.decision_id, "suite": record.suite,
                   "task": record.task, "metric": record.metric}))
    except EvalsigError as exc:
        return failed_from_error(exc)
    create_markdown_artifact(
        f"# evalsig promotion: {result.status}\n\n{repo} `{record.commit}` -> baseline "
        f"`{ptr.current.version_sha256[:12]}` ({summary['pointer']}, sequence "
        f"{ptr.sequence}); previous `{(summary['previous_sha256'] or 'none')[:12]}`.\n",
        key=artifact_key("evalsig-promotion", record.suite, record.task, record.metric))
    print(f"promotion {result.status}: {summary['pointer']} -> {ptr.current.key}")
    return Completed(message=f"{result.status.upper()}: {ptr.current.key}", data=summary)


def _audit_refusal(store: str, repo: str, commit: str | None, pr_number: int | None,
                   exc: EvalsigError, now: datetime) -> None:
    """A refusal is a decision too; storage failures are not (nothing to record)."""
    if not isinstance(exc, PromotionRefused):
        return
    did = f"refuse-{now:%Y%m%dt%H%M%S%f}z-{(commit or str(pr_number))[:12]}"
    with contextlib.suppress(EvalsigError):  # the flow state reports the refusal anyway
        audit_task(store, audit_fields(
            decision_id=did, decision="promotion", now=now, report=None, inputs=[],
            verdict="REFUSED", exit_code=int(exc.exit_code), locations={},
            context={"repo": repo, "commit": commit, "pr_number": pr_number,
                     "reason": exc.one_line()}))
