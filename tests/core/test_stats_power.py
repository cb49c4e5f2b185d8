"""Power: MDE against the exact noncentral t, required N with a design effect (statsmodels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize as so
from scipy import stats as sps

from evalsig_core import EvalRun, Policy, UsageError, Verdict, gate
from evalsig_core.stats import design_effect, extra_items_needed, icc_anova, required_n
from evalsig_core.stats.power import bound_mde, minimum_detectable_effect, power_analysis


@pytest.mark.parametrize("nu", [9, 15, 30, 100])
@pytest.mark.parametrize("alpha", [0.05, 0.025])
def test_mde_is_within_one_percent_of_the_exact_noncentral_t(nu: int, alpha: float) -> None:
    # exact: the effect (in SE units) whose one-sided t test rejects with probability 0.8
    exact = so.brentq(lambda e: sps.nct.sf(sps.t.ppf(1 - alpha, nu), nu, e) - 0.8, 0.1, 20)
    approx = minimum_detectable_effect(1.0, alpha=alpha, power=0.8, df=nu)
    assert abs(approx / exact - 1) < 0.01


def test_required_n_with_a_design_effect_equals_statsmodels_times_deff() -> None:
    smp = pytest.importorskip("statsmodels.stats.power")
    sd, delta, deff = 0.45, 0.03, 1.9
    nobs = smp.NormalIndPower().solve_power(effect_size=delta / sd, alpha=0.05, power=0.8,
                                            ratio=0, alternative="larger")
    assert required_n(sd, delta, deff=deff) == math.ceil(nobs * deff)


def test_design_effect_by_hand() -> None:
    # sizes (2, 4, 6): m = 4, Var = 8/3, CV^2 = 1/6; DEFF = 1 + ((7/6) 4 - 1) 0.1 = 1.3667
    assert design_effect(np.array([2.0, 4.0, 6.0]), 0.1) == pytest.approx(1 + (14 / 3 - 1) / 10)


def test_icc_anova_by_hand() -> None:
    # two clusters of two: (1, 1 | 0, 0): MSB = 2 * 2 * 0.25 / 1 = 1, MSW = 0, n0 = 2
    # ICC = (MSB - MSW) / (MSB + (n0 - 1) MSW) = 1.
    assert icc_anova(np.array([1.0, 1.0, 0.0, 0.0]), np.array([0, 0, 1, 1])) == 1.0
    # identical cluster means: MSB = 0 -> clipped at 0
    assert icc_anova(np.array([1.0, 0.0, 1.0, 0.0]), np.array([0, 0, 1, 1])) == 0.0


def test_extra_items_needed_by_hand() -> None:
    # SE ~ 1/sqrt(N): to halve the MDE at N = 100 needs 400 items, i.e. 300 more.
    assert extra_items_needed(100, 0.02, 0.01) == 300
    assert extra_items_needed(100, 0.01, 0.02) == 0


def test_bound_mde_reduces_to_the_t_formula_for_a_t_bound() -> None:
    se, df = 0.01, 12.0
    lower = 0.05 - sps.t.ppf(0.95, df) * se
    assert bound_mde(0.05, lower, se, df, 0.8) == pytest.approx(
        minimum_detectable_effect(se, df=df), rel=1e-12)


def test_power_analysis_reports_mde_and_required_n_together() -> None:
    res = power_analysis(0.4, n=900, delta=0.02, icc=0.05, cluster_size=10)
    assert res.design_effect == pytest.approx(1.45)
    assert res.required_n == required_n(0.4, 0.02, deff=1.45)
    # 900 items in clusters of 10: t on 90 - 1 df, as `evalsig power` plans it
    assert res.mde == pytest.approx(minimum_detectable_effect(0.4 * math.sqrt(1.45 / 900),
                                                              df=89))


def test_inconclusive_reports_the_extra_items_needed() -> None:
    rng = np.random.default_rng(0)
    n = 200
    b = (rng.random(n) < 0.6).astype(float)
    c = b.copy()
    c[rng.random(n) < 0.05] = 1.0
    ids = [str(i) for i in range(n)]
    r = gate(EvalRun.from_arrays(ids, b), EvalRun.from_arrays(ids, c),
             Policy(min_delta=0.01))
    assert r.verdict is Verdict.INCONCLUSIVE
    assert r.extra_items_needed is not None and r.extra_items_needed > 0


@pytest.mark.parametrize(("sd", "delta"), [(0.5, 1e-300), (1e300, 1e-10), (0.5, 0.0),
                                            (0.5, math.inf), (0.5, math.nan)])
def test_required_n_that_is_not_a_finite_number_is_a_usage_error(sd: float, delta: float) -> None:
    # 1e-300 divided by zero (delta^2 underflows) and 1e300 overflowed: raw Python errors
    with pytest.raises(UsageError):
        required_n(sd, delta)


@pytest.mark.parametrize("delta", [1e200, 1.7e308])
def test_required_n_for_a_huge_effect_is_one_item_not_an_underflowed_zero(delta: float) -> None:
    # (z sd / delta)^2 underflowed to 0.0: "required_n": 0 for a positive sd
    assert required_n(0.5, delta) == 1
    assert required_n(0.0, 0.1) == 0  # no variance: nothing to collect


def test_power_analysis_plans_at_the_allow_level() -> None:
    res = power_analysis(0.3, n=400, delta=0.05, alpha=0.05, icc=0.1, cluster_size=8,
                         allow_alpha=0.025)
    deff = 1 + (8 - 1) * 0.1
    assert res.alpha == 0.05 and res.allow_alpha == 0.025
    assert res.mde == pytest.approx(
        minimum_detectable_effect(0.3 * math.sqrt(deff / 400), alpha=0.025, power=0.8, df=49))
    assert res.required_n == required_n(0.3, 0.05, alpha=0.025, power=0.8, deff=deff)
    assert power_analysis(0.3, n=400).allow_alpha == 0.05  # default: alpha
    with pytest.raises(ValueError, match="allow_alpha"):
        power_analysis(0.3, n=400, alpha=0.05, allow_alpha=0.1)
