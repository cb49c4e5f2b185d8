"""Nightly suite gate: map the gate over every entry, collect every outcome, one report.

Runs unchanged on Prefect's default thread pool or on Dask:

    from prefect_dask import DaskTaskRunner
    nightly_gate_flow.with_options(task_runner=DaskTaskRunner(
        cluster_kwargs={"n_workers": 2}))(suite_file="suite.toml", store="s3://...")

The suite verdict and the multiplicity correction come from evalsig_core.suite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, unmapped
from prefect.futures import PrefectFuture, wait
from prefect.states import State

from evalsig_core import EvalsigError, ExitCode, UsageError, Verdict
from evalsig_core.audit import AuditInput
from evalsig_core.report import SuiteEntry, SuiteReport
from evalsig_core.suite import suite_report
from evalsig_core.suite_file import SuiteEntrySpec, SuiteSpec, read_suite_spec

from .baselines import baseline_prefix
from .command import check_command
from .outcome import completed, failed
from .pipeline import DEFAULT_STORE, audit_fields, failed_from_error
from .store import check_run_uri, check_store_uri, key_segment
from .tasks import (
    RunRef,
    audit_task,
    decision_id_for,
    discard_copy,
    gate_task,
    publish_artifacts,
    publish_report,
    read_task,
    resolve_baseline,
    run_command_task,
    store_candidate,
)
from .text import quoted

__all__ = ["nightly_gate_flow"]


def _check_spec(suite_file: str, spec: SuiteSpec) -> None:
    """The usage errors of a suite file the flow can see before anything runs: exit 64 naming
    the file and the entry (they were entry errors, which made the suite INCONCLUSIVE, exit
    2, after every candidate command had run). The suite name is a key segment of every
    stored candidate; an entry without `baseline` names its stored one by task and metric;
    its run URIs must be able to name a run file."""
    try:
        key_segment("suite", spec.name)
    except UsageError as exc:
        raise UsageError(f"{suite_file} [suite]: {exc.message}",
                         hint="rename the suite: it names its folders in the store") from None
    for e in spec.entries:
        try:
            if e.baseline is None:
                if not e.task or not e.metric:
                    raise UsageError("without `baseline`, `task` and `metric` name the stored "
                                     "baseline", hint="set `baseline`, or both `task` and "
                                     "`metric`")
                baseline_prefix(spec.name, e.task, e.metric)
            for role, uri in (("baseline", e.baseline), ("candidate", e.candidate)):
                if uri is not None:
                    check_run_uri(role, uri)
            if e.candidate is None:
                check_command(e.command or [], e.output, e.timeout)
        except UsageError as exc:
            raise UsageError(f"{suite_file} entry {quoted(e.name)}: {exc.message}",
                             hint=exc.hint) from None


def _usage_error(suite_file: str, results: list[SuiteEntry]) -> UsageError | None:
    """An entry that failed on a usage error (a run URI of no known scheme, ...) fails the
    suite with it, as `evalsig suite` does: usage errors never exit 2."""
    bad = next((r for r in results if r.error_code == int(ExitCode.USAGE)), None)
    if bad is None:
        return None
    return UsageError(f"{suite_file} entry {quoted(bad.name)}: {bad.error}")


def _value(fut: PrefectFuture[Any]) -> Any:
    """A stage's result, or None unless it completed: a stage whose upstream failed never ran
    (Prefect leaves it Pending "NotReady", and reading its result raised UnfinishedRun: a
    failing candidate command crashed the whole suite, every other verdict lost)."""
    state = fut.state
    return state.result(raise_on_failure=False) if state.is_completed() else None


def _first_error(stages: list[PrefectFuture[Any]]) -> EvalsigError | Exception | None:
    """The exception of the earliest failed stage of one entry (upstream first)."""
    for fut in stages:
        state = fut.state
        if state.is_failed() or state.is_crashed():
            exc = state.result(raise_on_failure=False)
            return exc if isinstance(exc, Exception) else RuntimeError(str(state.message))
    return None


def _entry(spec: SuiteEntrySpec, stages: list[PrefectFuture[Any]]) -> SuiteEntry:
    final = stages[-1].state
    if final.is_completed():
        return SuiteEntry(name=spec.name, task=spec.task, metric=spec.metric,
                          report=final.result())
    exc = _first_error(stages) or RuntimeError(final.message or "did not complete")
    code = int(exc.exit_code) if isinstance(exc, EvalsigError) else int(ExitCode.SOFTWARE)
    msg = exc.one_line() if isinstance(exc, EvalsigError) else f"{type(exc).__name__}: {exc}"
    return SuiteEntry(name=spec.name, task=spec.task, metric=spec.metric, error=msg,
                      error_code=code)


def _discard_copies(sources: list[Any], refs: list[PrefectFuture[Any]]) -> None:
    """Every entry read (or failed): remove the runs' temporary copies and the commands'
    output directories, so a worker gating every night fills no disk."""
    for fut in refs:
        if isinstance(ref := _value(fut), RunRef):
            discard_copy(ref.path, ref.uri)
    for src in sources:
        if isinstance(src, PrefectFuture) and isinstance(path := _value(src), str):
            discard_copy(path)


@flow(name="evalsig-nightly", log_prints=True)
def nightly_gate_flow(suite_file: str, store: str = DEFAULT_STORE,
                      name: str | None = None) -> State[Any]:
    """Gate every entry of a suite TOML file against its stored (or given) baseline.

    Every entry's outcome is collected (a failed entry is reported, never swallowed); the
    combined SuiteReport is stored, audited and published; then the flow ends Completed on
    ALLOW, Failed "<VERDICT>: ..." otherwise. Data: {verdict, exit_code, decision_id,
    report{json, markdown}, entries{name: verdict or ERROR}}. A usage error (the file's,
    checked before any command runs, or an entry's) ends it "USAGE ERROR (exit 64)" naming
    the file and the entry, with nothing published: usage errors never exit 2.
    """
    now = datetime.now(UTC)
    try:
        spec = read_suite_spec(suite_file)
        policies = [e.policy() for e in spec.entries]
        check_store_uri(store)
        _check_spec(suite_file, spec)
    except EvalsigError as exc:
        return failed_from_error(exc)
    entries = spec.entries
    label = name or spec.name
    baselines = resolve_baseline.map([e.baseline for e in entries], unmapped(store),
                                     unmapped(spec.name), [e.task for e in entries],
                                     [e.metric for e in entries])
    sources: list[Any] = [e.candidate if e.candidate is not None else
                          run_command_task.submit(e.command or [], e.output, e.timeout)
                          for e in entries]
    candidates = store_candidate.map(sources, unmapped(store), unmapped(spec.name),
                                     [e.candidate is None for e in entries])
    # each entry's format and column names too (they were ignored: read with the defaults)
    options = [e.read_options() for e in entries]
    b_runs = read_task.map(baselines, [e.metric for e in entries],
                           [e.cluster for e in entries], [e.filter for e in entries], options)
    c_runs = read_task.map(candidates, [e.metric for e in entries],
                           [e.cluster for e in entries], [e.filter for e in entries], options)
    gates = gate_task.map(b_runs, c_runs, policies)
    every: list[PrefectFuture[Any]] = [*baselines, *candidates, *b_runs, *c_runs, *gates]
    every += [s for s in sources if isinstance(s, PrefectFuture)]
    wait(every)
    results = []
    for i, e in enumerate(entries):
        stages = [s for s in (sources[i],) if isinstance(s, PrefectFuture)]
        stages += [baselines[i], candidates[i], b_runs[i], c_runs[i], gates[i]]
        results.append(_entry(e, stages))
    _discard_copies(sources, [*baselines, *candidates])
    if (usage := _usage_error(suite_file, results)) is not None:
        return failed_from_error(usage)
    try:
        report: SuiteReport = suite_report(results, correction=spec.correction)
        did = decision_id_for(None, now, salt=spec.name)
        where = publish_report(report, store, did, now)
        inputs = [AuditInput(role="suite", uri=suite_file)]
        for i, e in enumerate(entries):
            for role, fut in (("baseline", baselines[i]), ("candidate", candidates[i])):
                if isinstance(ref := _value(fut), RunRef):
                    inputs.append(AuditInput(role=f"{e.name}:{role}", uri=ref.uri,
                                             sha256=ref.sha256))
        audit_task(store, audit_fields(
            decision_id=did, decision="suite", now=now, report=report, inputs=inputs,
            verdict=report.verdict.value, exit_code=report.exit_code, locations=where,
            context={"suite": spec.name, "correction": spec.correction,
                     "entries": {r.name: (r.verdict.value if r.verdict else "ERROR")
                                 for r in report.entries},
                     "policies": {e.name: p.model_dump(mode="json")
                                  for e, p in zip(entries, policies, strict=True)}}))
        publish_artifacts(report, where, label)
    except EvalsigError as exc:
        return failed_from_error(exc)
    data = {"verdict": report.verdict.value, "exit_code": report.exit_code,
            "decision_id": did, "report": where,
            "entries": {r.name: (r.verdict.value if r.verdict else "ERROR")
                        for r in report.entries}}
    print(f"suite {spec.name}: {report.verdict.value} ({report.reason}); "
          f"report: {where['json']}")
    if report.verdict is Verdict.ALLOW:
        return completed(f"ALLOW: {report.reason}", data)
    return failed(f"{report.verdict.value}: {report.reason} (report: {where['json']})", data,
                  decision=report.verdict.value)
