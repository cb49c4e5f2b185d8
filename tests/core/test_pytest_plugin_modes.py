"""The pytest fixture's assertions test their own claim: an "improvement" is proven better
(superiority or minimum-effect), never a non-inferiority ALLOW that a worse candidate passes."""

from __future__ import annotations

import numpy as np
import pytest

from evalsig_core import EvalRun, UsageError, Verdict
from evalsig_core.pytest_plugin import EvalsigFixture

IDS = [f"q{i}" for i in range(400)]
BASE = (np.random.default_rng(0).random(400) < 0.6).astype(float)


def _worse() -> EvalRun:
    """A candidate 3 points worse: non-inferior at margin 0.2, not an improvement."""
    c = BASE.copy()
    c[np.flatnonzero(BASE == 1)[:12]] = 0.0
    return EvalRun.from_arrays(IDS, c, metric="accuracy")


BASELINE = EvalRun.from_arrays(IDS, BASE, metric="accuracy")


def test_improvement_refuses_non_inferiority_a_worse_candidate_would_pass() -> None:
    fx = EvalsigFixture()
    # the same gate in non-inferiority mode ALLOWs the worse candidate
    assert fx.gate(BASELINE, _worse(), min_delta=0.2,
                   mode="non-inferiority").verdict is Verdict.ALLOW
    with pytest.raises(UsageError, match="assert_improvement tests superiority or "
                       "minimum-effect, not mode 'non-inferiority'") as exc:
        fx.assert_improvement(BASELINE, _worse(), min_delta=0.2, mode="non-inferiority")
    assert "assert_no_regression" in (exc.value.hint or "")


@pytest.mark.parametrize("mode", ["superiority", "minimum-effect"])
def test_improvement_accepts_the_modes_that_prove_better(mode: str) -> None:
    better = BASE.copy()
    better[np.flatnonzero(BASE == 0)[:60]] = 1.0
    report = EvalsigFixture().assert_improvement(
        BASELINE, EvalRun.from_arrays(IDS, better, metric="accuracy"), min_delta=0.01,
        mode=mode)
    assert report.mode.value == mode and report.verdict is Verdict.ALLOW


@pytest.mark.parametrize("assertion", ["assert_improvement", "assert_no_regression"])
def test_an_unknown_mode_is_a_usage_error_not_a_value_error(assertion: str) -> None:
    kw = {"min_delta": 0.0} if assertion == "assert_improvement" else {"margin": 0.01}
    with pytest.raises(UsageError, match=f"{assertion} tests .*, not mode 'better'"):
        getattr(EvalsigFixture(), assertion)(BASELINE, BASELINE, mode="better", **kw)
