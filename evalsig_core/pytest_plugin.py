"""pytest plugin: the `evalsig` fixture gates two runs inside a test suite.

Registered through the `pytest11` entry point, so installing evalsig is enough:

    def test_new_prompt_does_not_regress(evalsig):
        evalsig.assert_no_regression("runs/base.eval", "runs/cand.eval", margin=0.01,
                                     metric="accuracy", cluster="passage_id")

    def test_new_model_is_better(evalsig):
        evalsig.assert_improvement(baseline_run, candidate_run, min_delta=0.005)

A run is an `EvalRun` or a path (read with `metric`, `cluster`, `filter`, `format`). A test
passes only on ALLOW; REJECT, INCONCLUSIVE (unless `allow_inconclusive=True`) and doctor errors
fail it with the Markdown report as the message. The assertions return the `GateReport`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .errors import UsageError
from .gate import DoctorError, gate
from .policy import Mode, Policy, Verdict
from .readers import read_run
from .render import render_doctor, render_gate
from .report import GateReport
from .run import EvalRun

__all__ = ["EvalsigFixture"]

_READ_KEYS = ("metric", "cluster", "filter", "format")


class EvalsigFixture:
    """What the `evalsig` fixture returns: gate two runs and assert the verdict."""

    def gate(self, baseline: EvalRun | str | Path, candidate: EvalRun | str | Path,
             **policy: Any) -> GateReport:
        """Gate with `Policy(**policy)`; doctor errors fail the test with the doctor report."""
        read = {k: policy[k] for k in _READ_KEYS if policy.get(k) is not None}
        p = Policy(**{k: v for k, v in policy.items() if k not in ("filter", "format")})
        b, c = self._run(baseline, read), self._run(candidate, read)
        try:
            return gate(b, c, p)
        except DoctorError as exc:
            doctor = exc.report
        # Fail outside the except block so the report is not chained to the DoctorError.
        pytest.fail("evalsig doctor found errors:\n\n" + render_doctor(doctor, "markdown"),
                    pytrace=False)

    def assert_no_regression(self, baseline: EvalRun | str | Path,
                             candidate: EvalRun | str | Path, *, margin: float,
                             allow_inconclusive: bool = False, **policy: Any) -> GateReport:
        """Non-inferiority: the candidate is proven no worse than baseline − margin."""
        mode = _mode("assert_no_regression", policy.pop("mode", Mode.NON_INFERIORITY),
                     (Mode.NON_INFERIORITY,), "use assert_improvement, or "
                     "evalsig.gate(..., mode=...)")
        report = self.gate(baseline, candidate, min_delta=margin, mode=mode, **policy)
        return self._check(report, allow_inconclusive, "a regression could not be ruled out")

    def assert_improvement(self, baseline: EvalRun | str | Path,
                           candidate: EvalRun | str | Path, *, min_delta: float = 0.0,
                           allow_inconclusive: bool = False, **policy: Any) -> GateReport:
        """Superiority: the candidate is significantly better, by at least `min_delta`.

        `mode` may be superiority (the default) or minimum-effect (proven better by
        `min_delta`: L > min_delta); non-inferiority is refused (`UsageError`): its ALLOW
        only rules out a regression beyond the margin, so a worse candidate would pass."""
        mode = _mode("assert_improvement", policy.pop("mode", Mode.SUPERIORITY),
                     (Mode.SUPERIORITY, Mode.MINIMUM_EFFECT), "use assert_no_regression "
                     "for non-inferiority, or evalsig.gate(..., mode=...)")
        report = self.gate(baseline, candidate, min_delta=min_delta, mode=mode, **policy)
        return self._check(report, allow_inconclusive, "no proven improvement")

    @staticmethod
    def _run(run: EvalRun | str | Path, read: dict[str, Any]) -> EvalRun:
        return run if isinstance(run, EvalRun) else read_run(str(run), **read)

    @staticmethod
    def _check(report: GateReport, allow_inconclusive: bool, what: str) -> GateReport:
        ok = report.verdict is Verdict.ALLOW or (
            allow_inconclusive and report.verdict is Verdict.INCONCLUSIVE)
        if not ok:
            pytest.fail(f"evalsig: {report.verdict.value}: {what}\n\n"
                        + render_gate(report, "markdown"), pytrace=False)
        return report


def _mode(assertion: str, mode: Any, allowed: tuple[Mode, ...], hint: str) -> Mode:
    """`mode` as a `Mode` if `assertion` tests it, else a `UsageError` naming what it tests."""
    try:
        got = Mode(mode)
    except ValueError:
        got = None
    if got is None or got not in allowed:
        tests = " or ".join(m.value for m in allowed)
        raise UsageError(f"{assertion} tests {tests}, not mode {mode!r}", hint=hint)
    return got


@pytest.fixture
def evalsig() -> EvalsigFixture:
    """Gate two eval runs inside a test: `evalsig.assert_no_regression(...)`."""
    return EvalsigFixture()
