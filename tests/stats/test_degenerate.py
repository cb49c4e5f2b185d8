"""Every paired difference equal (SE = 0): distribution-free bounds, never a certain verdict."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from evalsig_core import EvalRun, Policy, Verdict, gate
from evalsig_core.report import GateReport
from evalsig_core.stats.degenerate import degenerate_bounds

N = 1000
IDS = [str(i) for i in range(N)]
SCORES = np.random.default_rng(0).random(N) * 0.8  # continuous scores in [0, 0.8]


def _gate(base: np.ndarray, cand: np.ndarray, **kw: Any) -> GateReport:
    cl = kw.pop("clusters", None)
    return gate(EvalRun.from_arrays(IDS, base, clusters=cl),
                EvalRun.from_arrays(IDS, cand, clusters=cl), Policy(**kw))


def test_rule_of_three_by_hand() -> None:
    # U = 1000 units all at c = 0, w = 1: p = 1 - 0.05^(1/1000) = 0.0029912 (about 3/1000).
    lo, up = degenerate_bounds(0.0, 1000, 0.05, 1.0)
    assert lo == pytest.approx(-(1 - 0.05 ** (1 / 1000))) and up == pytest.approx(-lo)
    assert lo == pytest.approx(-0.0029912, abs=1e-7)
    # c = 0.1: the mean can only fall towards -1 (distance 1.1) or rise towards +1 (0.9).
    lo, up = degenerate_bounds(0.1, 1000, 0.05, 1.0)
    assert lo == pytest.approx(0.1 - 0.0029912 * 1.1, abs=1e-7)
    assert up == pytest.approx(0.1 + 0.0029912 * 0.9, abs=1e-7)


def test_identical_runs_reject_superiority_with_a_real_detectable_effect() -> None:
    r = _gate(SCORES, SCORES.copy(), min_delta=0.005)
    assert r.verdict is Verdict.REJECT
    assert r.comparison.mde == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-6)  # = delta - L
    assert "could detect 0.0030" in r.reason
    assert any("SE = 0" in n and "1000 items" in n for n in r.comparison.notes)


def test_identical_runs_are_non_inferior() -> None:
    r = _gate(SCORES, SCORES.copy(), min_delta=0.005, mode="non-inferiority")
    assert r.verdict is Verdict.ALLOW


def test_a_constant_offset_is_bounded_not_certain() -> None:
    # c + x - x is not exactly c in floating point: the SE is ~1e-17, not 0
    r = _gate(SCORES, SCORES + 0.1, min_delta=0.005)
    c = r.comparison
    assert r.verdict is Verdict.ALLOW
    assert c.ci.lower == pytest.approx(0.1 - (1 - 0.05 ** (1 / 1000)) * 1.1, rel=1e-6)
    # the p-value is the alpha at which the lower bound reaches 0: (1 - 0.1/1.1)^1000
    assert c.p_value == pytest.approx((1 - 0.1 / 1.1) ** 1000, rel=1e-6)


def test_identical_clustered_runs_count_clusters_not_items() -> None:
    cl = [f"c{i % 20}" for i in range(N)]
    r = _gate(SCORES, SCORES.copy(), min_delta=0.005, cluster="k", clusters=cl)
    assert r.verdict is Verdict.INCONCLUSIVE
    # ALLOW bound at alpha/2 from 20 clusters: 1 - 0.025^(1/20) = 0.1684
    assert r.comparison.allow_lower == pytest.approx(-(1 - 0.025 ** (1 / 20)), rel=1e-6)
    assert any("20 clusters" in n for n in r.comparison.notes)


def test_scores_outside_zero_one_have_no_distribution_free_bound() -> None:
    # The bound needs the scale's width; the observed span is only a lower bound of it (and
    # made a constant +2 on scores within [40, 60] an ALLOW: tests/core/test_gate_inputs.py).
    base = SCORES * 100  # percent scale, span about 80
    r = _gate(base, base.copy(), min_delta=0.5)
    assert r.verdict is Verdict.INCONCLUSIVE
    assert r.comparison.ci.lower is None and r.comparison.upper_bound is None
    assert math.isinf(r.comparison.mde)
