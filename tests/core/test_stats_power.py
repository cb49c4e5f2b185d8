"""Power: MDE against the exact noncentral t, required N with a design effect (statsmodels)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import optimize as so
from scipy import stats as sps

from evalsig_core import EvalRun, Policy, UsageError, Verdict, gate
from evalsig_core.stats import _dist, design_effect, extra_items_needed, icc_anova, required_n
from evalsig_core.stats import power as power_module
from evalsig_core.stats.power import (
    bound_mde,
    c4,
    minimum_detectable_effect,
    power_analysis,
    t_test_effect,
)


@pytest.mark.parametrize("nu", [2, 4, 9, 15, 30, 100])
@pytest.mark.parametrize("alpha", [0.05, 0.025])
def test_mde_is_the_exact_noncentral_t_effect(nu: int, alpha: float) -> None:
    # exact: the effect (in SE units) whose one-sided t test rejects with probability 0.8
    exact = so.brentq(lambda e: sps.nct.sf(sps.t.ppf(1 - alpha, nu), nu, e) - 0.8, 0.1, 20,
                      xtol=1e-14)
    assert minimum_detectable_effect(1.0, alpha=alpha, power=0.8, df=nu) == pytest.approx(
        exact, rel=1e-9)
    # STATS.md's (t_{1-alpha} + t_power) SE is within 1% of it from 9 df
    if nu >= 9:
        assert abs((sps.t.ppf(1 - alpha, nu) + sps.t.ppf(0.8, nu)) / exact - 1) < 0.01


@pytest.mark.parametrize("nobs", [5, 10, 40])
def test_mde_equals_statsmodels_t_test_power(nobs: int) -> None:
    # statsmodels solves nct.sf(t_{1-alpha, n-1}, n-1, d sqrt(n)) = power for the effect size
    # d (in sd units); with SE = sd / sqrt(n) the MDE is d sd (its solver: about 1e-6)
    smp = pytest.importorskip("statsmodels.stats.power")
    sd = 0.5
    d = smp.TTestPower().solve_power(nobs=nobs, alpha=0.05, power=0.8, alternative="larger")
    assert minimum_detectable_effect(sd / math.sqrt(nobs), df=nobs - 1) == pytest.approx(
        d * sd, rel=1e-5)


def test_t_test_effect_at_infinite_df_is_the_normal_formula_and_keeps_infinities() -> None:
    # (z_0.95 + z_0.8) = 1.644854 + 0.841621 (scipy.stats.norm.ppf)
    assert float(t_test_effect(1.644854, math.inf, 0.8)) == pytest.approx(2.486475, abs=1e-6)
    lam = t_test_effect(np.array([np.inf, -np.inf, np.nan, 1.0]), 4.0, 0.8)
    assert lam[0] == np.inf and lam[1] == -np.inf and np.isnan(lam[2]) and np.isfinite(lam[3])
    assert np.isnan(t_test_effect(1.0, 0.0, 0.8))


@pytest.mark.parametrize(("nu", "crit"), [(0.5, 100.0), (1.0, 40.0), (2.0, -2.0)])
def test_t_test_effect_widens_its_bracket_where_the_t_formula_is_far_off(
        nu: float, crit: float) -> None:
    # at 0.5 df and crit 100 the root is near 120, against a t + t guess of about 103
    exact = so.brentq(lambda e: sps.nct.sf(crit, nu, e) - 0.8, -60, 400, xtol=1e-13)
    assert float(t_test_effect(crit, nu, 0.8)) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("power", [0.5, 0.8, 0.95])
def test_t_test_effect_is_scipys_noncentral_t_root_in_a_few_evaluations(
        power: float, monkeypatch: pytest.MonkeyPatch) -> None:
    # the reference: scipy.stats.nct.sf solved by brentq in a bracket holding every root of
    # the grid (they lie between -3 and 2.9 |crit|); the solve takes at most 7 nct_sf calls
    # on the whole grid at once (the bisection it replaced took about 140)
    calls: list[int] = []

    def spy(*args: Any) -> Any:
        calls.append(np.size(args[0]))
        return _dist.nct_sf(*args)

    monkeypatch.setattr(power_module, "nct_sf", spy)
    crit, df = np.meshgrid([-3.0, -1.0, 0.0, 0.5, 1.0, 1.645, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0],
                           [0.5, 1.0, 2.0, 4.0, 9.0, 30.0, 1e3, 1e6])
    lam = t_test_effect(crit, df, power)
    assert len(calls) <= 8 and sum(calls) <= 8 * crit.size
    for c, nu, got in zip(crit.ravel(), df.ravel(), lam.ravel(), strict=True):
        exact = so.brentq(lambda e, c=c, nu=nu: sps.nct.sf(c, nu, e) - power, -10.0,
                          10.0 + 3.0 * abs(c), xtol=1e-13)
        assert got == pytest.approx(exact, rel=1e-9), (c, nu)


@pytest.mark.parametrize("nu", [0.001, 0.01, 0.05, 0.5, 4.0, 1e6])
@pytest.mark.parametrize("power", [0.8, 0.95])
def test_t_test_effect_at_crit_zero_is_z_power_on_any_df(nu: float, power: float) -> None:
    # P(T' > 0) = P(Z + lambda > 0) = Phi(lambda) whatever the chi: lambda = z_power. The
    # bisection centred its bracket on crit + t_power(df) (3e38 at 0.01 df and power 0.8):
    # it gave 2.6e14 there, and 1.64484726 (4e-6 off) at 0.05 df and power 0.95
    assert float(t_test_effect(0.0, nu, power)) == pytest.approx(sps.norm.ppf(power),
                                                                 rel=1e-12)


def test_c4_by_hand() -> None:
    # c4(nu) = sqrt(2 / nu) Gamma((nu + 1) / 2) / Gamma(nu / 2):
    # nu = 4: sqrt(1/2) * Gamma(2.5) / Gamma(2) = 0.7071068 * 1.3293404 / 1 = 0.9399856
    # nu = 9: sqrt(2/9) * Gamma(5) / Gamma(4.5) = 0.4714045 * 24 / 11.6317284 = 0.9726593
    assert float(c4(4.0)) == pytest.approx(0.9399856, abs=1e-7)
    assert float(c4(9.0)) == pytest.approx(0.9726593, abs=1e-7)
    assert float(c4(math.inf)) == 1.0 and math.isnan(float(c4(0.0)))


def test_the_reported_mde_is_unbiased_and_detected_with_the_asked_power() -> None:
    # 400000 seeded normal samples of 5 differences (t on 4 df). The plug-in MDE
    # lambda * SE averages c4(4) = 0.94 of the design's lambda * sigma, so at that mean the
    # one-sided t test passed with power 0.765, not 0.80; bound_mde divides by c4.
    rng = np.random.default_rng(0)
    n, alpha = 5, 0.05
    x = rng.standard_normal((400_000, n))
    mean, se = x.mean(axis=1), x.std(axis=1, ddof=1) / math.sqrt(n)
    q = sps.t.ppf(1 - alpha, n - 1)
    # a t bound's MDE is a fixed multiple of its SE (bound_mde is elementwise: one call)
    mde = float(bound_mde(0.0, -q, 1.0, n - 1, 0.8)) * se
    true = minimum_detectable_effect(1 / math.sqrt(n), alpha=alpha, df=n - 1)
    assert mde.mean() / true == pytest.approx(1.0, abs=0.003)
    # power at delta = mean MDE: the sample shifted by it passes the t bound (MC error 0.0006)
    assert np.mean(mean + mde.mean() - q * se > 0) == pytest.approx(0.80, abs=0.003)
    plug_in = mde * float(c4(n - 1))
    assert np.mean(mean + plug_in.mean() - q * se > 0) < 0.77


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


def test_bound_mde_of_a_t_bound_is_the_t_mde_over_c4() -> None:
    se, df = 0.01, 12.0
    lower = 0.05 - sps.t.ppf(0.95, df) * se
    assert bound_mde(0.05, lower, se, df, 0.8) == pytest.approx(
        minimum_detectable_effect(se, df=df) / c4(df), rel=1e-12)
    # SE 0 (a constant difference): the distance to the bound, whatever df
    assert bound_mde(0.05, 0.03, 0.0, df, 0.8) == pytest.approx(0.02)
    # per-sample df (the exchangeable floor gives some samples G - 1 df)
    both = bound_mde(np.array([0.05, 0.05]), np.array([lower, lower]), se,
                     np.array([df, math.inf]), 0.8)
    assert both[0] == pytest.approx(bound_mde(0.05, lower, se, df, 0.8), rel=1e-12)
    assert both[1] == pytest.approx((0.05 - lower) + sps.norm.ppf(0.8) * se, rel=1e-12)


def test_a_pilot_estimate_of_sd_is_corrected_as_the_gate_corrects_its_se() -> None:
    known = power_analysis(0.4, n=100)
    pilot = power_analysis(0.4, n=100, sd_df=99)
    assert pilot.mde == pytest.approx(known.mde / c4(99), rel=1e-12) and pilot.sd_df == 99
    assert pilot.required_n == known.required_n  # s^2 is unbiased: N needs no correction


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


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("nu", [1.0, 4.0, 30.0, 1e6])
def test_t_test_effect_far_out_in_ses_is_continuous_and_warns_nothing(nu: float) -> None:
    # boost's noncentral-t series stops converging near 1e5 SEs ("Series did not converge"
    # warnings from a hypothesis-generated gate); beyond 1e4 lambda = crit * s_power, with
    # s_power the power quantile of sqrt(chi^2_nu / nu): the ratio lambda / crit carries on
    near, far = t_test_effect(9e3, nu, 0.8) / 9e3, t_test_effect(1.1e4, nu, 0.8) / 1.1e4
    assert far == pytest.approx(near, rel=2e-4)
    assert np.isfinite(t_test_effect(np.array([1e8, 1e300]), nu, 0.8)).all()
