"""CI gate on a pull request: gate each entry and record its decision for promotion.

The gate records each decision through ci_records.py (one record per gated entry); the
promotion after merge (promotion.py) reads those records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.states import State

from evalsig_core import (
    EvalsigError,
    Policy,
)

from .ci_records import (
    GateRecord,
    find_unrecorded,
    params_digest,
    record_gate,
    record_keys,
    verdict_record,
)
from .pipeline import (
    DEFAULT_STORE,
    GateParams,
    adopt_decision,
    failed_from_error,
    run_gate,
)
from .tasks import decision_id_for

__all__ = ["GateRecord", "ci_gate_flow", "record_keys"]

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

    A HELM run directory (a path, or a store key prefix) is gated, recorded and later promoted
    as its HELM run archive, `<run>.helm.tar` (`run_files`).

    Records the decision under ci/<repo>/commits/<head_sha>/<suite>/<task>/<metric>.json (and
    prs/<pr_number>/...) for `promote_baseline_flow`: one record per entry, so several gates
    on one commit never overwrite each other; PENDING first, then the verdict, written only
    over that PENDING record: if a gate of the same entry started later replaced it, this
    verdict is not recorded there (the message says so; data `superseded` lists the keys,
    `recorded` those written). Completed on ALLOW; Failed with the verdict (after
    publishing) otherwise. A gate whose verdict record failed to write after its decision
    was audited is not gated again by a retry, a redelivery or a re-run with the same
    parameters: while its PENDING record (which names the decision id) stands, that run
    records the audited decision and ends with its verdict.
    """
    try:
        # every parameter but where and how long (locals(): nothing else is defined yet)
        same = params_digest({k: v for k, v in locals().items()
                              if k not in ("store", "timeout")})
        ident: dict[str, Any] = {"repo": repo, "pr_number": pr_number, "commit": head_sha,
                                 "suite": suite, "task": task, "metric": metric}
        now = datetime.now(UTC)  # the decision's time and id are named before it is made
        pending = GateRecord(decision_id=decision_id_for(None, now, same), verdict="PENDING",
                             time=now, params_sha256=same, **ident)
        record_keys(pending)  # validates every name before anything runs or is written
        policy = Policy(min_delta=min_delta, alpha=alpha, power=power, mode=mode,
                        method=method, resamples=resamples, seed=seed, metric=metric,
                        cluster=cluster)
        # one Prefect artifact key per gated entry (suite, task, metric): several entries
        # gated on one PR each keep their own "latest" report (artifact_key never merges two)
        # a gate without a PR (a push to a branch) is named by its commit, not "pr-None"
        change = f"pr-{pr_number}" if pr_number is not None else f"commit-{head_sha[:12]}"
        name = "-".join(("ci", repo.replace("/", "-"), change, suite, task, metric))
        params = GateParams(baseline=baseline, candidate=candidate, command=command,
                            output=output, timeout=timeout, filter=filter, store=store,
                            suite=suite, task=task, name=name)
        ctx = {"repo": repo, "pr_number": pr_number, "commit": head_sha, "metric": metric}
        earlier = find_unrecorded(store, pending)
        if earlier is not None:
            # this gate decided in an earlier run whose verdict record failed to write (a
            # flow retry, a redelivery, a re-run job): record that decision, make no second
            pending, mine = earlier.pending, earlier.replaces
            out = adopt_decision(store, earlier.audited, pending.time, name)
        else:
            # PENDING first: a gate that fails midway never leaves an older ALLOW promotable.
            mine = record_gate(store, pending)
            out = run_gate(params, policy, context=ctx, now=now,
                           decision_id=pending.decision_id)
        # the verdict goes only over our own PENDING: a gate started later decides
        written = record_gate(store, verdict_record(pending, out), replaces=mine)
    except EvalsigError as exc:
        return failed_from_error(exc)
    superseded = sorted(set(mine) - set(written))
    recorded = sorted(set(written) | set(earlier.recorded if earlier else ()))
    if not superseded:
        return out.state(recorded=recorded)
    return out.state(f"not recorded under {', '.join(superseded)}: a gate of this entry "
                     "started later replaced this gate's PENDING record, and its decision "
                     "stands for promotion", recorded=recorded, superseded=superseded)
