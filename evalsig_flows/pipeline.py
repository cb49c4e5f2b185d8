"""The gate pipeline shared by `gate_flow` and `ci_gate_flow` (called inside a flow run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect.states import State

from evalsig_core import DoctorReport, EvalsigError, ExitCode, GateReport, Policy, Verdict
from evalsig_core import __version__ as evalsig_version
from evalsig_core.audit import AuditInput, AuditRecord

from .outcome import completed, failed
from .store import check_run_uri, check_store_uri, may_pass, open_store
from .tasks import (
    RunRef,
    audit_task,
    decision_id_for,
    discard_copy,
    doctor_task,
    publish_artifacts,
    publish_report,
    read_report,
    read_task,
    report_key,
    resolve_baseline,
    run_command_task,
    store_candidate,
)

__all__ = ["DEFAULT_STORE", "GateOutcome", "GateParams", "adopt_decision", "audit_fields",
           "failed_from_error", "run_gate"]

DEFAULT_STORE = "file://./.evalsig-store"


def failed_from_error(exc: EvalsigError, note: str = "",
                      extra: dict[str, Any] | None = None, *,
                      decision: str | None = None) -> State[Any]:
    """A Failed state naming the error class and its exit code (storage errors: 74).

    `note` is appended to the one-line message ("<message>; <note>"), `extra` to the data;
    `decision` (an audited refusal: "REFUSED") names the state (outcome.DECIDED_STATE_NAMES).
    """
    label = {ExitCode.IO: "STORAGE ERROR", ExitCode.USAGE: "USAGE ERROR",
             ExitCode.NO_INPUT: "INPUT NOT FOUND", ExitCode.DATA: "INPUT ERROR",
             ExitCode.REJECT: "REFUSED"}.get(exc.exit_code, "ERROR")
    code = int(exc.exit_code)
    line = exc.one_line() + (f"; {note}" if note else "")
    return failed(f"{label} (exit {code}): {line}",
                  {"exit_code": code, "error": line, **(extra or {})}, decision=decision,
                  retry=decision is None and may_pass(exc))


@dataclass(frozen=True)
class GateParams:
    """One gate's inputs; the store URI, run URIs and a candidate command are checked here,
    before anything runs (`store.check_store_uri`, `store.check_run_uri`,
    `command.check_command`). An empty `baseline` is
    no baseline: the store's current one."""

    baseline: str | None
    candidate: str | None
    store: str
    suite: str = "default"
    task: str | None = None
    name: str = "gate"
    filter: str | None = None
    command: list[str] | None = None
    output: str = "*"
    timeout: float = 3600.0

    def __post_init__(self) -> None:
        check_store_uri(self.store)
        if self.baseline:
            check_run_uri("baseline", self.baseline)
        if self.candidate is not None:
            check_run_uri("candidate", self.candidate)
        elif self.command:
            from .command import check_command

            check_command(self.command, self.output, self.timeout)


@dataclass(frozen=True)
class GateOutcome:
    report: GateReport | DoctorReport
    locations: dict[str, str]
    baseline: RunRef
    candidate: RunRef
    result: dict[str, Any] = field(default_factory=dict)

    def state(self, note: str = "", **extra: Any) -> State[Any]:
        """Completed on ALLOW, else Failed; `note` ends the message, `extra` joins the data."""
        r = self.report
        where = self.locations["json"]
        tail = f"; {note}" if note else ""
        result = self.result | extra
        if isinstance(r, DoctorReport):
            first = r.errors[0]
            return failed(f"DOCTOR: {first.code} {first.message} (report: {where}){tail}",
                          result, decision="DOCTOR")
        if r.verdict is Verdict.ALLOW:
            return completed(f"ALLOW: {r.reason}{tail}", result)
        return failed(f"{r.verdict.value}: {r.reason} (report: {where}){tail}", result,
                      decision=r.verdict.value)


def audit_fields(*, decision_id: str, decision: str, now: datetime, report: Any,
                 inputs: list[AuditInput], verdict: str, exit_code: int,
                 locations: dict[str, str], policy: Policy | None = None,
                 context: dict[str, Any] | None = None) -> dict[str, Any]:
    comp = report.comparison if isinstance(report, GateReport) else None
    harness = None
    if isinstance(report, GateReport | DoctorReport) and report.candidate is not None:
        harness = report.candidate.harness
    return {
        "decision_id": decision_id, "decision": decision, "time": now,
        "inputs": [i.model_dump() for i in inputs],
        "policy": policy.model_dump(mode="json") if policy else None,
        "seed": policy.seed if policy else None,
        "method": comp.method if comp else None,
        "versions": {"evalsig": evalsig_version, "harness": harness},
        "verdict": verdict, "exit_code": exit_code,
        "reports": {k: v for k, v in locations.items() if k in ("json", "markdown")},
        "context": context or {},
    }


def run_gate(p: GateParams, policy: Policy, context: dict[str, Any], *,
             now: datetime | None = None, decision_id: str | None = None) -> GateOutcome:
    """Baseline -> candidate -> doctor -> gate -> store report -> audit -> artifacts.

    `now` and `decision_id` (the decision's time and id) are chosen here unless given (the CI
    gate names them in its PENDING record before it gates: see `adopt_decision`).
    """
    now = now or datetime.now(UTC)
    b_ref = resolve_baseline(p.baseline, p.store, p.suite, p.task, policy.metric)
    made: list[tuple[str, str | None]] = [(b_ref.path, b_ref.uri)]  # temporary copies
    try:
        source = p.candidate
        if source is None:
            if not p.command:
                from evalsig_core import UsageError

                raise UsageError("give a candidate URI or a candidate command")
            source = run_command_task(p.command, p.output, p.timeout)
            made.append((source, None))  # the command's output directory
        c_ref = store_candidate(source, p.store, p.suite, produced=p.candidate is None)
        made.append((c_ref.path, c_ref.uri))
        b = read_task(b_ref, policy.metric, policy.cluster, p.filter)
        c = read_task(c_ref, policy.metric, policy.cluster, p.filter)
    finally:  # read into memory (or failed): a worker gating for months fills no disk
        for path, uri in made:
            discard_copy(path, uri)
    doc = doctor_task(b, c, policy.cluster)
    report: GateReport | DoctorReport = doc
    if doc.ok:
        from .tasks import gate_task

        report = gate_task(b, c, policy)
    # a refusal goes under the marker the gate's verdict would carry (as the CLI's), so it
    # replaces the PR comment of an earlier verdict of this entry instead of standing beside it
    marker = None if isinstance(report, GateReport) else {
        "metric": policy.metric or b.meta.metric, "task": c.meta.task}
    did = decision_id or decision_id_for(report, now)
    where = publish_report(report, p.store, did, now, marker)
    if isinstance(report, GateReport):
        verdict, code, decision = report.verdict.value, report.exit_code, "gate"
    else:
        verdict, code, decision = "DOCTOR", report.exit_code, "doctor"
    inputs = [AuditInput(role="baseline", uri=b_ref.uri, sha256=b_ref.sha256),
              AuditInput(role="candidate", uri=c_ref.uri, sha256=c_ref.sha256)]
    ctx = {"suite": p.suite, "task": p.task, "name": p.name, "candidate_key": c_ref.key,
           "baseline_key": b_ref.key, **context}
    audit_task(p.store, audit_fields(decision_id=did, decision=decision, now=now,
                                     report=report, inputs=inputs, verdict=verdict,
                                     exit_code=code, locations=where, policy=policy,
                                     context=ctx))
    publish_artifacts(report, where, p.name, marker)
    result: dict[str, Any] = {
        "verdict": verdict, "exit_code": code, "decision_id": did, "report": where,
        "baseline": asdict(b_ref), "candidate": asdict(c_ref),
        "delta": report.comparison.delta if isinstance(report, GateReport) else None,
    }
    if isinstance(report, GateReport):
        print(f"{p.name}: {verdict} ({report.reason}); report: {where['json']}")
    return GateOutcome(report, where, b_ref, c_ref, result)


def adopt_decision(store_uri: str, record: AuditRecord, now: datetime,
                   name: str) -> GateOutcome:
    """The outcome of a gate already decided and audited (`record`, decided at `now`) whose
    run failed before it ended: its stored report is read back and its artifacts published
    again; nothing is gated or audited again, so the decision and its verdict stay one."""
    keys = {ext: report_key(record.decision_id, now, ext) for ext in ("json", "md", "html")}
    report = read_report(store_uri, keys["json"], record.verdict)
    store = open_store(store_uri)
    where = {"decision_id": record.decision_id, "json": store.url(keys["json"]),
             "markdown": store.url(keys["md"]), "html": store.url(keys["html"])}
    refs = {i.role: RunRef(i.uri or "", i.uri or "", i.sha256 or "",
                           record.context.get(f"{i.role}_key")) for i in record.inputs}
    marker = None if isinstance(report, GateReport) else {  # as run_gate's
        "metric": (record.policy or {}).get("metric") or (
            report.baseline.metric if report.baseline else None),
        "task": report.candidate.task if report.candidate else None}
    publish_artifacts(report, where, name, marker)
    result: dict[str, Any] = {
        "verdict": record.verdict, "exit_code": record.exit_code,
        "decision_id": record.decision_id, "report": where,
        "baseline": asdict(refs["baseline"]), "candidate": asdict(refs["candidate"]),
        "delta": report.comparison.delta if isinstance(report, GateReport) else None,
    }
    return GateOutcome(report, where, refs["baseline"], refs["candidate"], result)
