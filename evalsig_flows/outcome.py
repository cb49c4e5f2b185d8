"""How evalsig flows end: Completed with a result dict, or Failed carrying `FlowOutcomeError`.

Prefect raises a Failed state's data when a flow is called directly, so the data must be an
exception: calling `gate_flow(...)` on a REJECT raises `FlowOutcomeError` whose `.result`
holds the same dict an ALLOW returns (verdict, exit_code, report locations, ...). With
`return_state=True`, `outcome(state)` gives that dict for either ending.
"""

from __future__ import annotations

from typing import Any

from prefect.states import Completed, Failed, State

__all__ = ["FlowOutcomeError", "completed", "failed", "outcome"]


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


def failed(message: str, result: dict[str, Any]) -> State[Any]:
    return Failed(message=message, data=FlowOutcomeError(message, result))


def outcome(state: State[Any]) -> dict[str, Any]:
    """The result dict of a finished evalsig flow run, whether it completed or failed."""
    value = state.result(raise_on_failure=False)
    if isinstance(value, FlowOutcomeError):
        return value.result
    if isinstance(value, dict):
        return value
    raise TypeError(f"not an evalsig flow outcome: {state.type.value} {state.message!r}")
