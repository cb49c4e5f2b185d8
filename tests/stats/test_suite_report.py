"""`suite_report` combines entries gated elsewhere (the nightly flow gates them in parallel)."""

from __future__ import annotations

import numpy as np

from evalsig_core import EvalRun, Policy, gate
from evalsig_core.report import SuiteEntry
from evalsig_core.suite import suite_report


def _report(shift: float) -> object:
    rng = np.random.default_rng(0)
    ids = [f"i{k}" for k in range(400)]
    base = (rng.random(400) < 0.5).astype(float)
    cand = np.where(rng.random(400) < abs(shift), 1.0 - base, base) if shift else base.copy()
    if shift > 0:
        cand = np.maximum(base, cand)
    elif shift < 0:
        cand = np.minimum(base, cand)
    return gate(EvalRun.from_arrays(ids, base), EvalRun.from_arrays(ids, cand),
                Policy(min_delta=0.0))


def test_any_reject_rejects_the_suite_and_an_error_is_never_allow() -> None:
    good, bad = _report(0.3), _report(-0.3)
    assert suite_report([SuiteEntry(name="a", report=good),  # type: ignore[arg-type]
                         SuiteEntry(name="b", report=bad)]).verdict.value == "REJECT"  # type: ignore[arg-type]
    errored = suite_report([SuiteEntry(name="a", report=good),  # type: ignore[arg-type]
                            SuiteEntry(name="c", error="missing", error_code=66)])
    assert errored.verdict.value == "INCONCLUSIVE" and errored.exit_code == 2
    assert suite_report([SuiteEntry(name="a", report=good)]).verdict.value == "ALLOW"  # type: ignore[arg-type]
