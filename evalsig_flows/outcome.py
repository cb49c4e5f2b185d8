"""How evalsig flows end: Completed with a result dict, or Failed carrying `FlowOutcomeError`.

Prefect raises a Failed state's data when a flow is called directly, so the data must be an
exception: calling `gate_flow(...)` on a REJECT raises `FlowOutcomeError` whose `.result`
holds the same dict an ALLOW returns (verdict, exit_code, report locations, ...). With
`return_state=True`, `outcome(state)` gives that dict for either ending.

A Failed state that carries a decision (a gate or suite verdict REJECT / INCONCLUSIVE, a
DOCTOR refusal, an audited promotion refusal: published and audited) is named after it
(`DECIDED_STATE_NAMES`: "Rejected", "Inconclusive", "DoctorErrors", "Refused"); a failure that
decided nothing (storage, bad parameters before any decision, a bug) keeps Prefect's name
"Failed", as do Crashed and Cancelled runs. The name is what the Prefect API and UI show, so
`decided(state_type, state_name)` tells them apart without parsing messages: the webhook
receiver does not re-run a redelivered event whose run ended with a verdict (`FINAL`: the
same data give the same verdict). A promotion refusal is not final: its cause (a gate still
PENDING when the merge arrived, a gate lost to an outage) can go away, and promotion is
idempotent and audited, so a redelivery of a refused event runs the promotion again.

Flow-level retries (`flow.with_options(retries=N)`, or a flow decorated with them) repeat a
Failed run whatever failed: Prefect's server turns every Failed into AwaitingRetry while
attempts remain, and flows have no retry condition. So every Failed state made here is final
unless it says `retry=True` (`failed_from_error` does for a storage error that may pass,
`store.may_pass`): before it is returned, the flow run's retry budget is cut to the attempts it
has used. Without that a REJECT under `retries=2` was gated three times, with three reports and
three audit records for one decision, and a usage error waited out every retry delay.
"""

from __future__ import annotations

from typing import Any

from prefect.context import FlowRunContext
from prefect.logging import get_run_logger
from prefect.states import Completed, Failed, State

__all__ = ["DECIDED_STATE_NAMES", "FINAL", "FlowOutcomeError", "completed", "decided", "failed",
           "no_more_retries", "outcome"]

DECIDED_STATE_NAMES = {"REJECT": "Rejected", "INCONCLUSIVE": "Inconclusive",
                       "DOCTOR": "DoctorErrors", "REFUSED": "Refused"}
"""The Prefect state name of a Failed run that ended with this decision (published, audited)."""
FINAL = frozenset(DECIDED_STATE_NAMES[d] for d in ("REJECT", "INCONCLUSIVE", "DOCTOR"))
"""The names of the Failed states a redelivery never re-runs: verdicts on the same data."""


class FlowOutcomeError(Exception):
    """A flow ended without ALLOW (REJECT, INCONCLUSIVE, bad input, storage error, ...)."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result
        self.exit_code = int(result.get("exit_code", 70))

    def __reduce__(self) -> tuple[Any, ...]:  # results may be pickled (persisted, Dask)
        return (FlowOutcomeError, (str(self), self.result))


def completed(message: str, result: dict[str, Any]) -> State[Any]:
    return Completed(message=message, data=result)


def failed(message: str, result: dict[str, Any], *, decision: str | None = None,
           retry: bool = False) -> State[Any]:
    """Failed; with `decision` (a key of DECIDED_STATE_NAMES) the state is named after it.

    Final unless `retry`: inside a flow run with retries left, no retry follows it.
    """
    data = FlowOutcomeError(message, result)
    if not retry:
        no_more_retries()
    if decision is None:
        return Failed(message=message, data=data)
    return Failed(message=message, data=data, name=DECIDED_STATE_NAMES[decision])


def no_more_retries() -> None:
    """Cut the current flow run's retry budget to the attempts it has used (no-op outside a
    flow run or without retries). The server's RetryFailedFlows rule lets a Failed state
    through once run_count > retries; the PATCH replaces the whole policy, so it is read first.
    If the API cannot be reached the run keeps its retries (the old behaviour), with a warning.
    """
    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:
        return
    try:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            run = client.read_flow_run(ctx.flow_run.id)
            policy = run.empirical_policy
            used = max(run.run_count, 1)
            if policy.retries is None or policy.retries < used:
                return
            client.update_flow_run(run.id, empirical_policy=policy.model_copy(
                update={"retries": used - 1}))
    except Exception as exc:  # a lost PATCH only costs an extra attempt
        get_run_logger().warning(
            "could not stop the retries of flow run %s (%s): a retry will repeat it",
            ctx.flow_run.id, exc)


def decided(state_type: str | None, state_name: str | None) -> bool:
    """Whether a run in this state (type value, name) ended Failed with a final decision, a
    verdict (`FINAL`); a promotion refusal ("Refused") is not final."""
    return state_type == "FAILED" and state_name in FINAL


def outcome(state: State[Any]) -> dict[str, Any]:
    """The result dict of a finished evalsig flow run, whether it completed or failed."""
    value = state.result(raise_on_failure=False)
    if isinstance(value, FlowOutcomeError):
        return value.result
    if isinstance(value, dict):
        return value
    raise TypeError(f"not an evalsig flow outcome: {state.type.value} {state.message!r}")
