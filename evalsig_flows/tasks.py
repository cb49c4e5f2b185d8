"""Prefect tasks: a few lines each around evalsig_core. Retries only on I/O tasks."""

from __future__ import annotations

import hashlib
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from evalsig_core import (
    DoctorReport,
    EvalRun,
    GateReport,
    Policy,
    diagnose,
    gate,
    read_run,
)
from evalsig_core.render import render_doctor, render_gate

from .store import open_store

__all__ = ["decision_id_for", "doctor_task", "fetch_run", "gate_task", "publish_artifacts",
           "publish_report", "read_task"]


def _split_object_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/a/b/file.json -> (s3://bucket, a/b/file.json)."""
    parsed = urlparse(uri)
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")


@task(name="fetch-run", retries=2, retry_delay_seconds=1)
def fetch_run(uri: str, workdir: str | None = None) -> str:
    """Make a run available as a local path: local paths and file:// pass through."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme == "file" else uri
    store_uri, key = _split_object_uri(uri)
    data = open_store(store_uri).get(key)
    dest = Path(workdir or tempfile.mkdtemp(prefix="evalsig-")) / PurePosixPath(key).name
    dest.write_bytes(data)
    return str(dest)


@task(name="read-run")
def read_task(path: str, metric: str | None, cluster: str | None,
              filter: str | None = None) -> EvalRun:
    return read_run(path, metric=metric, cluster=cluster, filter=filter)


@task(name="doctor")
def doctor_task(baseline: EvalRun, candidate: EvalRun, cluster: str | None) -> DoctorReport:
    return diagnose(baseline, candidate, cluster=cluster)


@task(name="gate")
def gate_task(baseline: EvalRun, candidate: EvalRun, policy: Policy) -> GateReport:
    return gate(baseline, candidate, policy)


def decision_id_for(report: GateReport | DoctorReport, now: datetime) -> str:
    """Time-ordered, unique per inputs: 20261129t174800z-<12 hex of the inputs' sha256>."""
    b = report.baseline.sha256 if report.baseline else None
    c = report.candidate.sha256 if report.candidate else None
    digest = hashlib.sha256(f"{b}|{c}|{now.isoformat()}".encode()).hexdigest()[:12]
    return f"{now:%Y%m%dt%H%M%S}z-{digest}"


@task(name="publish-report", retries=3, retry_delay_seconds=2)
def publish_report(report: GateReport | DoctorReport, store_uri: str) -> dict[str, str]:
    """Write report.json and report.md under reports/yyyy/mm/dd/<decision_id>/."""
    now = datetime.now(UTC)
    did = decision_id_for(report, now)
    prefix = f"reports/{now:%Y/%m/%d}/{did}"
    store = open_store(store_uri)
    if isinstance(report, GateReport):
        md = render_gate(report, "markdown")
        js = report.to_json() + "\n"
    else:
        md = render_doctor(report, "markdown")
        js = report.model_dump_json(indent=2) + "\n"
    store.put(f"{prefix}/report.json", js.encode())
    store.put(f"{prefix}/report.md", md.encode())
    return {"decision_id": did, "json": store.url(f"{prefix}/report.json"),
            "markdown": store.url(f"{prefix}/report.md")}


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow only [a-z0-9-]."""
    key = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return re.sub(r"-{2,}", "-", key)[:100] or "evalsig"


@task(name="publish-artifacts")
def publish_artifacts(report: GateReport | DoctorReport, locations: dict[str, str],
                      name: str) -> None:
    if isinstance(report, GateReport):
        md = render_gate(report, "markdown")
        c = report.comparison
        rows = [{"entry": name, "verdict": report.verdict.value, "delta": round(c.delta, 6),
                 "ci_lower": c.ci.lower, "p_value": c.p_value, "mde": round(c.mde, 6),
                 "n_pairs": c.n_pairs, "method": c.method}]
        create_table_artifact(rows, key=artifact_key("evalsig-entries", name),
                              description="evalsig gate entries")
    else:
        md = render_doctor(report, "markdown")
    md += f"\n\nStored report: [{locations['json']}]({locations['json']})\n"
    create_markdown_artifact(md, key=artifact_key("evalsig-report", name),
                             description=f"evalsig decision {locations['decision_id']}")
