"""E113 (runs on different scales) when neither run lies within [0, 1]: a baseline judged 0-10
against a candidate judged 0-100 passed the doctor and was gated as a huge improvement. Honest
runs on one scale (one run not reaching the top, a better candidate) stay free of it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evalsig_core import EvalRun, read_run
from evalsig_core.doctor import diagnose
from evalsig_core.report import DoctorReport
from tests.conftest import SHARED_FIXTURES

VALUETYPES = SHARED_FIXTURES / "inspect-0.3.285" / "candidate_valuetypes_e1.json"


def _judge(scale: float, seed: int, top: float = 1.0, source: str = "run.json",
           **kw: Any) -> EvalRun:
    """200 items judged on 0..scale (integers of scale / 10), using the range up to top."""
    rng = np.random.default_rng(seed)
    steps = np.round(rng.beta(4, 3, 200) * 10 * top)
    return EvalRun.from_arrays([f"q{i}" for i in range(200)], steps * scale / 10,
                               metric="judge", source=source, **kw)


def _codes(report: DoctorReport) -> list[str]:
    return [f.code for f in report.findings]


def test_a_0_10_baseline_against_a_0_100_candidate_is_an_error_naming_both() -> None:
    b = _judge(10, 1, source="runs/base-judge.json")
    c = _judge(100, 2, source="runs/cand-judge.json")
    report = diagnose(b, c)
    (f,) = [f for f in report.findings if f.code == "E113"]
    assert not report.ok
    assert "runs/base-judge.json" in f.message and "runs/cand-judge.json" in f.message
    lo_b, hi_b, lo_c, hi_c = b.scores.min(), b.scores.max(), c.scores.min(), c.scores.max()
    assert f"from {lo_b:g} to {hi_b:g}" in f.message and f"from {lo_c:g} to {hi_c:g}" in f.message
    assert "divide the candidate's scores by 10" in f.hint


@pytest.mark.parametrize(("b", "c"), [
    # one 0-10 run never reaches the top values
    (lambda: _judge(10, 1, top=0.6), lambda: _judge(10, 2)),
    # a candidate that simply scores higher on the 0-10 scale
    (lambda: _judge(10, 1, top=0.5), lambda: _judge(10, 2, top=1.0)),
    # both 0-100 (percent), one narrower
    (lambda: _judge(100, 3, top=0.4), lambda: _judge(100, 4)),
])
def test_honest_runs_on_one_scale_are_not_flagged(b: Any, c: Any) -> None:
    assert "E113" not in _codes(diagnose(b(), c()))


def test_a_candidate_scoring_higher_on_a_0_1_scale_is_not_flagged() -> None:
    ids = [f"q{i}" for i in range(100)]
    b = EvalRun.from_arrays(ids, np.linspace(0.0, 0.3, 100), metric="score")
    c = EvalRun.from_arrays(ids, np.linspace(0.5, 1.0, 100), metric="score")
    assert "E113" not in _codes(diagnose(b, c))


def test_a_real_inspect_score_rescaled_tenfold_is_flagged_and_its_honest_twin_is_not() -> None:
    # abs_error of the real Inspect log: values -100 .. -0, most of them 0 (README of the
    # fixtures: mean -8.975)
    real = read_run(VALUETYPES, metric="abs_error")
    assert real.scores.min() == -100 and real.scores.max() == 0
    scaled = EvalRun.from_arrays(real.item_ids, real.scores * 10, metric="abs_error",
                                 source="candidate_abs_error_x10.json")
    report = diagnose(real, scaled)
    (f,) = [f for f in report.findings if f.code == "E113"]
    assert str(VALUETYPES) in f.message and "candidate_abs_error_x10.json" in f.message
    # the same scale, errors halved on half of the items: a better candidate, not a new scale
    better = real.scores.copy()
    better[::2] /= 2
    twin = EvalRun.from_arrays(real.item_ids, better, metric="abs_error", source="twin.json")
    assert "E113" not in _codes(diagnose(real, twin))


def test_a_run_scoring_zero_everywhere_is_on_every_scale_and_not_flagged() -> None:
    # a perfect model has abs_error 0 on every item: "within [0, 1]" says nothing about its
    # scale, and the real signed candidate (-100 .. 0) is on the same one; only W208 (constant
    # scores) applies. A constant non-zero run still carries a scale (1.0 = 100 % as a fraction).
    real = read_run(VALUETYPES, metric="abs_error")
    perfect = EvalRun.from_arrays(real.item_ids, np.zeros(len(real.item_ids)),
                                  metric="abs_error", source="perfect.json")
    codes = _codes(diagnose(perfect, real))
    assert "E113" not in codes and "W208" in codes
    ones = EvalRun.from_arrays(real.item_ids, np.ones(len(real.item_ids)), metric="abs_error")
    percent = EvalRun.from_arrays(real.item_ids, np.linspace(0, 100, len(real.item_ids)),
                                  metric="abs_error")
    assert "E113" in _codes(diagnose(ones, percent))


def test_a_run_just_past_1_is_the_same_scale_as_one_within_it() -> None:
    # a reward-like score of up to 1.02 against a run topping out at 0.997 (seeded uniform
    # scores, the candidate +0.02): 1.02x as far from 0, not a fraction against a percent
    rng = np.random.default_rng(0)
    ids = [f"q{i}" for i in range(200)]
    b = EvalRun.from_arrays(ids, rng.random(200), metric="reward")
    c = EvalRun.from_arrays(ids, rng.random(200) + 0.02, metric="reward")
    assert b.scores.max() <= 1 < c.scores.max() < 1.05
    assert "E113" not in _codes(diagnose(b, c))
    # the same candidate as a percent is 100x as far: E113, with the factor
    pct = EvalRun.from_arrays(ids, c.scores * 100, metric="reward")
    (f,) = [f for f in diagnose(b, pct).findings if f.code == "E113"]
    assert "within [0, 1] and the other not" in f.message and "x as far from 0" in f.message
