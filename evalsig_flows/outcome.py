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
"""

from __future__ import annotations

from typing import Any

from prefect.states import Completed, Failed, State

__all__ = ["DECIDED_STATE_NAMES", "FINAL", "FlowOutcomeError", "completed", "decided", "failed",
           "outcome"]

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


def failed(message: str, result: dict[str, Any], *, decision: str | None = None) -> State[Any]:
    """Failed; with `decision` (a key of DECIDED_STATE_NAMES) the state is named after it."""
    data = FlowOutcomeError(message, result)
    if decision is None:
        return Failed(message=message, data=data)
    return Failed(message=message, data=data, name=DECIDED_STATE_NAMES[decision])


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
