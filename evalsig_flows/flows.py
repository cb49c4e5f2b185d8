"""Prefect flows. A gate flow publishes first, then ends Failed on REJECT / INCONCLUSIVE.

Flows (names `evalsig-<noun>`; parameters are JSON-friendly for deployments):
- `gate_flow(baseline, candidate, min_delta, ...)`                         evalsig-gate
- `nightly_gate_flow(suite_file, store=...)`                                evalsig-nightly
- `ci_gate_flow(repo, pr_number, head_sha, candidate=None, command=None, ...)` evalsig-ci-gate
- `promote_baseline_flow(repo, commit=None, pr_number=None, store=..., trigger=None)`
                                                                             evalsig-promote
  (every entry gated on that commit, all ALLOW, or nothing; `suite`/`task`/`metric` narrow it;
  `trigger="push"`: a pushed commit no gate decided ends Completed "NOT GATED", audited)

Every flow returns a State: Completed carries a result dict; Failed carries a message that
starts with the verdict (REJECT / INCONCLUSIVE), DOCTOR, REFUSED, or the error class with its
exit code (e.g. "STORAGE ERROR (exit 74): ...") and a `FlowOutcomeError` whose `.result` is the
dict (with `exit_code`). Called directly, a failed flow raises that error; with
`return_state=True`, `evalsig_flows.outcome.outcome(state)` returns the dict either way.
A Failed state that carries a decision (REJECT, INCONCLUSIVE, DOCTOR, an audited REFUSED) is
named after it ("Rejected", "Inconclusive", "DoctorErrors", "Refused"; see
`outcome.DECIDED_STATE_NAMES`); one that decided nothing keeps the name "Failed".
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import State

from evalsig_core import EvalsigError, Policy

from .ci import ci_gate_flow
from .nightly import nightly_gate_flow
from .pipeline import DEFAULT_STORE, GateParams, failed_from_error, run_gate
from .promotion import promote_baseline_flow

__all__ = ["DEFAULT_STORE", "ci_gate_flow", "failed_from_error", "gate_flow",
           "nightly_gate_flow", "promote_baseline_flow"]


@flow(name="evalsig-gate", log_prints=True)
def gate_flow(
    baseline: str | None,
    candidate: str | None,
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
    suite: str = "default",
    task: str | None = None,
    command: list[str] | None = None,
    output: str = "*",
    timeout: float = 3600.0,
) -> State[Any]:
    """Fetch baseline -> ingest candidate -> doctor -> gate -> store report -> audit -> artifacts.

    `baseline`: a path/URI, or None for the store's current baseline of (suite, task, metric).
    `candidate`: a path/URI, or None with `command` (run with `timeout`; the newest file
    matching `output` in `{output_dir}` is ingested). The candidate is kept in the store.
    A HELM run directory (a path, or a store key prefix) is gated and kept as its HELM run
    archive, `<run>.helm.tar` (`run_files`).
    Returns Completed with {verdict, exit_code, delta, decision_id, report{json, markdown},
    baseline{uri, sha256}, candidate{uri, sha256, key}} on ALLOW; Failed otherwise.
    """
    try:
        policy = Policy(min_delta=min_delta, alpha=alpha, power=power, mode=mode,
                        method=method, resamples=resamples, seed=seed, metric=metric,
                        cluster=cluster)
        params = GateParams(baseline=baseline, candidate=candidate, command=command,
                            output=output, timeout=timeout, filter=filter, store=store,
                            suite=suite, task=task, name=name)
        outcome = run_gate(params, policy, context={})
    except EvalsigError as exc:
        return failed_from_error(exc)
    return outcome.state()
