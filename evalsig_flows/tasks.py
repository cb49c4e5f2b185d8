"""Prefect tasks: a few lines each around evalsig_core and the store. Retries only on I/O tasks.

I/O tasks retry on transient storage errors only (a wrong secret or a missing bucket fails at
once); compute tasks (read, doctor, gate) and the candidate command never retry.

A flow gates, stores and promotes one run file; a HELM run directory (a local path or a
store key prefix) is packed into one HELM run archive first (`run_files`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from prefect import task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from evalsig_core import (
    DoctorReport,
    EvalRun,
    GateReport,
    InputError,
    Policy,
    diagnose,
    gate,
    read_run,
)
from evalsig_core.readers import sha256_file
from evalsig_core.render import code_span, render_doctor, render_gate, render_suite
from evalsig_core.report import SuiteReport, decision_lower

from . import audit_log
from .baselines import baseline_prefix, extension, fetch_baseline
from .run_files import (
    discard_copy,
    fetch,
    local_path,
    one_file,
    renamed,
    run_file_error,
    run_hints,
)
from .store import key_segment, may_pass, open_store, put_once

__all__ = ["RunRef", "artifact_key", "audit_task", "decision_id_for", "discard_copy",
           "doctor_task",
           "fetch_run", "gate_task", "publish_artifacts", "publish_report", "read_report",
           "read_task", "report_key", "resolve_baseline", "run_command_task", "store_candidate"]


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry storage errors that may pass (network, 5xx, timeouts); not a denial or 404."""
    try:
        state.result()
    except Exception as exc:
        return may_pass(exc)
    return False


IO: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [1, 2, 4],
                      "retry_condition_fn": transient, "cache_policy": NO_CACHE}
COMPUTE: dict[str, Any] = {"cache_policy": NO_CACHE}


@dataclass(frozen=True)
class RunRef:
    """A run file made local: where it came from, its SHA-256, and where it is stored."""

    path: str
    uri: str
    sha256: str
    key: str | None = None  # key in the store, when it lives there


@task(name="fetch-run", **IO)
def fetch_run(uri: str) -> str:
    """Make a run available as a local path: local paths and file:// pass through; an object
    store URI (a run file, or a HELM run directory's key prefix) is fetched
    (`run_files.fetch`)."""
    return fetch(uri)


def _write_local(data: bytes, name: str) -> str:
    dest = Path(tempfile.mkdtemp(prefix="evalsig-")) / name
    dest.write_bytes(data)
    return str(dest)


@task(name="resolve-baseline", **IO)
def resolve_baseline(baseline: str | None, store_uri: str, suite: str, task: str | None,
                     metric: str | None) -> RunRef:
    """An explicit baseline URI, or the store's current baseline for (suite, task, metric)."""
    if baseline:
        path = fetch_run.fn(baseline)
        try:
            path = one_file(path, baseline, "baseline")
            return RunRef(path, baseline, sha256_file(Path(path), **run_hints("baseline")))
        except BaseException:
            discard_copy(path, baseline)  # a copy fetched or packed here
            raise
    if not task or not metric:
        from evalsig_core import UsageError

        raise UsageError("without an explicit baseline, task and metric name the stored one")
    store = open_store(store_uri)
    pointer, data = fetch_baseline(store, baseline_prefix(suite, task, metric))
    name = PurePosixPath(pointer.current.key).name
    return RunRef(_write_local(data, name), store.url(pointer.current.key),
                  pointer.current.version_sha256, pointer.current.key)


@task(name="store-candidate", **IO)
def store_candidate(candidate: str, store_uri: str, suite: str,
                    produced: bool = False) -> RunRef:
    """Fetch the candidate; keep a copy under candidates/<suite>/<sha16>/ for promotion.

    A HELM run directory (or store prefix) is kept as its archive, `<run>.helm.tar`.
    `produced`: the candidate is a candidate command's output, in a temporary directory that
    is removed after the gate: the run is then named (`uri`: reports, audit inputs) by its
    stored copy, the only place it can be found again.
    """
    path = fetch_run.fn(candidate)
    try:
        path = one_file(path, candidate, "candidate")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise run_file_error("candidate", path, exc) from None
        sha = hashlib.sha256(data).hexdigest()
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(path).name) or "run"
        if not name.endswith("." + extension(name)):
            name = f"{name}.{extension(name)}"
        store = open_store(store_uri)
        key = f"candidates/{key_segment('suite', suite)}/{sha[:16]}/{name}"
        put_once(store, key, data, what="the object at this candidate key is not the "
                 "candidate run", hint="move that object away, then gate again")
    except BaseException:
        discard_copy(path, candidate)  # a copy fetched here: the caller never sees it
        raise
    return RunRef(path, store.url(key) if produced else candidate, sha, key)


@task(name="read-run", **COMPUTE)
def read_task(path: RunRef | str, metric: str | None, cluster: str | None,
              filter: str | None = None, options: dict[str, Any] | None = None) -> EvalRun:
    """Read a run; one fetched from a store (a temporary copy) is named by its URI.

    `options`: further `read_run` keywords (a suite entry's format and column names,
    `SuiteEntrySpec.read_options`). The run's `source` (the reports' "file" row) and any
    error's path say where the run is kept, never the temporary copy, which the reader of a
    report or an error cannot find.
    """
    kw = {**(options or {}), "metric": metric, "cluster": cluster, "filter": filter}
    if not isinstance(path, RunRef):
        return read_run(path, **kw)
    local, uri = path.path, path.uri
    copied = local_path(uri) != local
    try:
        run = read_run(local, **kw)
    except InputError as exc:
        if copied:
            raise renamed(exc, local, uri) from None
        raise
    if not copied:
        return run
    return dataclasses.replace(run, meta=run.meta.model_copy(update={"source": uri}))


@task(name="run-candidate-command", **COMPUTE)
def run_command_task(command: list[str], output: str, timeout: float) -> str:
    """Run the configured eval command (never retried: an eval run is not idempotent)."""
    from .command import run_command

    return run_command(command, output, timeout)


@task(name="doctor", **COMPUTE)
def doctor_task(baseline: EvalRun, candidate: EvalRun, cluster: str | None) -> DoctorReport:
    return diagnose(baseline, candidate, cluster=cluster)


@task(name="gate", **COMPUTE)
def gate_task(baseline: EvalRun, candidate: EvalRun, policy: Policy) -> GateReport:
    return gate(baseline, candidate, policy)


def decision_id_for(report: GateReport | DoctorReport | None, now: datetime,
                    salt: str = "") -> str:
    """Time-ordered, unique per inputs: 20261129t174800z-<12 hex of the inputs' sha256>."""
    b = report.baseline.sha256 if report is not None and report.baseline else None
    c = report.candidate.sha256 if report is not None and report.candidate else None
    digest = hashlib.sha256(f"{b}|{c}|{salt}|{now.isoformat()}".encode()).hexdigest()[:12]
    return f"{now:%Y%m%dt%H%M%S}z-{digest}"


# stored file extension -> (renderer output, key in the returned locations)
_FILES = {"json": ("json", "json"), "md": ("markdown", "markdown"), "html": ("html", "html")}
_RENDERERS = ((GateReport, render_gate), (DoctorReport, render_doctor),
              (SuiteReport, render_suite))


def _render(report: GateReport | DoctorReport | SuiteReport, output: str,
            gate: dict[str, str | None] | None = None) -> str:
    """One format of a report, rendered by the core.

    `gate`: for the doctor report of a gate it refused, the marker fields (metric, task) the
    gate's own report would carry: the refusal replaces the PR comment of an earlier verdict
    (render_doctor's `gate`, as the CLI does).
    """
    if isinstance(report, DoctorReport):
        return render_doctor(report, output, gate=gate)
    render: Any = next(fn for kind, fn in _RENDERERS if isinstance(report, kind))
    return str(render(report, output))


@task(name="publish-report", **IO)
def publish_report(report: GateReport | DoctorReport | SuiteReport, store_uri: str,
                   decision_id: str | None = None, now: datetime | None = None,
                   gate: dict[str, str | None] | None = None) -> dict[str, str]:
    """Write report.json, report.md and report.html under reports/yyyy/mm/dd/<decision_id>/.

    `gate`: the marker fields of a gate the doctor refused (see `_render`)."""
    now = now or datetime.now(UTC)
    did = decision_id or decision_id_for(
        report if not isinstance(report, SuiteReport) else None, now)
    store = open_store(store_uri)
    where = {"decision_id": did}
    for ext, (output, name) in _FILES.items():
        store.put(report_key(did, now, ext), _render(report, output, gate).encode())
        where[name] = store.url(report_key(did, now, ext))
    return where


def report_key(decision_id: str, now: datetime, ext: str) -> str:
    """Where `publish_report` stores a decision's report (ext: json, md or html)."""
    return f"reports/{now:%Y/%m/%d}/{decision_id}/report.{ext}"


@task(name="read-report", **IO)
def read_report(store_uri: str, key: str, verdict: str) -> GateReport | DoctorReport:
    """A gate's (or, for verdict DOCTOR, the doctor's) stored JSON report."""
    store = open_store(store_uri)
    kind: Any = DoctorReport if verdict == "DOCTOR" else GateReport
    try:
        report: GateReport | DoctorReport = kind.model_validate_json(store.get(key))
    except ValueError:
        raise InputError(f"not a stored {verdict} report", path=store.url(key),
                         hint="gate the commit again") from None
    return report


@task(name="audit", **IO)
def audit_task(store_uri: str, fields: dict[str, Any], once: bool = True) -> dict[str, Any]:
    """Append one record to the audit hash chain; returns {sequence, decision_id}.

    `once` (default): the decision is linked at most once (a record of it already linked is
    returned). A task retry needs it: when the head write landed but every answer to it was
    lost, the retry would otherwise link a second record of the same decision. Decision ids
    are unique per decision (time to the microsecond in their digest), so nothing else is
    merged.
    """
    rec = audit_log.append_record(open_store(store_uri), fields, once=once)
    return {"sequence": rec.sequence, "decision_id": rec.decision_id}


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key ([a-z0-9-] only) that two different `parts` never share.

    Parts that already are lowercase [a-z0-9] words joined by single '-' keep their readable
    key; any other spelling (pass@1, QA, spaces, unicode, a long name) is slugged and ends
    with 10 hex digits of the SHA-256 of the exact parts, so `pass@1` and `pass-1` (or `QA`
    and `qa`) keep separate "latest" artifacts.
    """
    joined = "-".join(parts)
    slug = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", joined.lower())).strip("-")
    if slug == joined and len(slug) <= 100:
        return slug
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{slug[:89].rstrip('-') or 'evalsig'}-{digest[:10]}"


def entry_row(name: str, report: GateReport) -> dict[str, Any]:
    """One row of the entries table: the headline CI's lower bound and, beside it, the bound
    ALLOW compared and its one-sided level (auto's alpha/2 when clustered), so a reader can
    check the verdict from the row (ci_lower -0.44 against a margin -0.5 is not an ALLOW when
    the decision bound is -0.52)."""
    c = report.comparison
    return {"entry": name, "verdict": report.verdict.value, "delta": round(c.delta, 6),
            "ci_lower": c.ci.lower,
            "decision_lower": decision_lower(c),
            "decision_alpha": report.allow_level, "p_value": c.p_value,
            "mde": round(c.mde, 6), "n_pairs": c.n_pairs, "method": c.method}


def report_artifact(markdown: str, json_uri: str) -> str:
    """The Markdown artifact: the report, then where it is stored. The URI (store, bucket and
    key names from settings and the entry's names) is a code span, not a link whose text and
    target were Markdown; the link artifact beside it is the one to click."""
    return f"{markdown}\n\nStored report: {code_span(json_uri)}\n"


@task(name="publish-artifacts", **COMPUTE)
def publish_artifacts(report: GateReport | DoctorReport | SuiteReport,
                      locations: dict[str, str], name: str,
                      gate: dict[str, str | None] | None = None) -> None:
    """Markdown report, a table of entries and a link to the stored report.

    `gate`: the marker fields of a gate the doctor refused (see `_render`)."""
    md = _render(report, "markdown", gate)
    if isinstance(report, GateReport):
        rows = [entry_row(name, report)]
    elif isinstance(report, SuiteReport):
        rows = [entry_row(e.name, e.report) | {"verdict": e.verdict.value if e.verdict else
                                              "ERROR", "p_adjusted": e.p_value_adjusted}
                if e.report is not None else
                {"entry": e.name, "verdict": "ERROR", "error": e.error} for e in report.entries]
    else:
        rows = []
    if rows:
        create_table_artifact(rows, key=artifact_key("evalsig-entries", name),
                              description="evalsig gate entries")
    create_markdown_artifact(report_artifact(md, locations["json"]),
                             key=artifact_key("evalsig-report", name),
                             description=f"evalsig decision {locations['decision_id']}")
    create_link_artifact(locations["json"], link_text="stored report (JSON)",
                         key=artifact_key("evalsig-link", name),
                         description=f"evalsig decision {locations['decision_id']}")
