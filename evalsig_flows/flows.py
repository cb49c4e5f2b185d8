"""Prefect flows. A gate flow publishes first, then ends Failed on REJECT / INCONCLUSIVE."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Completed, Failed, State

from evalsig_core import Policy, Verdict

from .tasks import (
    doctor_task,
    fetch_run,
    gate_task,
    publish_artifacts,
    publish_report,
    read_task,
)

__all__ = ["gate_flow"]

DEFAULT_STORE = "file://./.evalsig-store"


@flow(name="evalsig-gate", log_prints=True)
def gate_flow(
    baseline: str,
    candidate: str,
    min_delta: float,
    metric: str | None = None,
    cluster: str | None = None,
    filter: str | None = None,
    alpha: float = 0.05,
    power: float = 0.80,
    mode: str = "superiority",
    method: str = "auto",
    resamples: int = 10000,
    seed: int = 0,
    store: str = DEFAULT_STORE,
    name: str = "gate",
) -> State[Any]:
    """Fetch both runs, doctor them, gate, store the report and publish artifacts.

    Returns a Completed state carrying the report dict on ALLOW; a Failed state whose
    message starts with the verdict (or DOCTOR for bad input) otherwise, after publishing.
    """
    policy = Policy(min_delta=min_delta, alpha=alpha, power=power, mode=mode, method=method,
                    resamples=resamples, seed=seed, metric=metric, cluster=cluster)
    b = read_task(fetch_run(baseline), metric, cluster, filter)
    c = read_task(fetch_run(candidate), metric, cluster, filter)
    doc = doctor_task(b, c, cluster)
    if not doc.ok:
        where = publish_report(doc, store)
        publish_artifacts(doc, where, name)
        first = doc.errors[0]
        return Failed(message=f"DOCTOR: {first.code} {first.message} (report: {where['json']})",
                      data=doc.model_dump(mode="json"))
    report = gate_task(b, c, policy)
    where = publish_report(report, store)
    publish_artifacts(report, where, name)
    result = {"verdict": report.verdict.value, "exit_code": report.exit_code,
              "report": where, "delta": report.comparison.delta}
    print(f"{name}: {report.verdict.value} ({report.reason}); report: {where['json']}")
    if report.verdict is Verdict.ALLOW:
        return Completed(message=f"ALLOW: {report.reason}", data=result)
    return Failed(message=f"{report.verdict.value}: {report.reason} (report: {where['json']})",
                  data=result)
