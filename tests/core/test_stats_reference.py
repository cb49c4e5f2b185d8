"""t-based methods and power against independent references (scipy, statsmodels, by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize as so
from scipy import stats as sps

from evalsig_core.stats import (
    ClusterSums,
    PairedSample,
    bell_mccaffrey_df,
    clustered_t,
    cr1_variance,
    cr2_variance,
    minimum_detectable_effect,
    paired_t,
    required_n,
)


def _data(seed: int, n: int, G: int, balanced: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(G), n // G) if balanced else np.sort(rng.integers(0, G, n))
    shift = rng.normal(0, 0.2, G)[codes]
    b = (rng.random(n) < 0.6).astype(float)
    c = np.clip(b + shift + rng.normal(0, 0.5, n), 0, 1)
    return b, c, codes


def test_paired_t_equals_scipy_ttest_rel() -> None:
    b, c, _ = _data(1, 300, 30, True)
    res = paired_t(PairedSample(b, c), alpha=0.05)
    ref = sps.ttest_rel(c, b, alternative="greater")
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.df == ref.df
    ci = sps.ttest_rel(c, b).confidence_interval(0.90)  # two 5% tails = one-sided 95% bounds
    assert (res.lower, res.upper) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_cr1_equals_statsmodels_clustered_ols() -> None:
    sm = pytest.importorskip("statsmodels.api")
    b, c, codes = _data(2, 517, 40, False)
    codes = np.unique(codes, return_inverse=True)[1]
    d = c - b
    fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="cluster", cov_kwds={"groups": codes})
    se = math.sqrt(cr1_variance(ClusterSums.from_items(d, codes)))
    assert se == pytest.approx(float(fit.bse[0]), abs=1e-10)


def test_cr2_equals_cr1_and_df_is_g_minus_1_on_balanced_clusters() -> None:
    b, c, codes = _data(3, 400, 40, True)
    sums = ClusterSums.from_items(c - b, codes)
    assert cr2_variance(sums) == pytest.approx(cr1_variance(sums), rel=1e-12)
    assert bell_mccaffrey_df(sums.n) == pytest.approx(39.0, rel=1e-12)
    res = clustered_t(PairedSample(b, c, codes), alpha=0.05)
    assert res.df == pytest.approx(39.0) and res.method == "clustered_t"


def test_bell_mccaffrey_df_by_hand_for_sizes_1_1_2() -> None:
    # n = (1, 1, 2), N = 4. w_g = 1/(N^2 (1 - n_g/N)) = (1/12, 1/12, 1/8).
    # A_gg = n_g - n_g^2/N = (3/4, 3/4, 1); A_12 = -1/4, A_13 = A_23 = -1/2.
    # numerator (sum w_g A_gg)^2 = (1/16 + 1/16 + 1/8)^2 = 1/16.
    # denominator = 2 (1/144)(9/16) + (1/64)(1) + 2[(1/144)(1/16) + 2 (1/96)(1/4)] = 5/144.
    # nu = (1/16) / (5/144) = 9/5.
    assert bell_mccaffrey_df(np.array([1.0, 1.0, 2.0])) == pytest.approx(1.8, rel=1e-12)


def test_bell_mccaffrey_closed_form_equals_the_matrix_definition() -> None:
    n = np.array([3.0, 7.0, 1.0, 12.0, 5.0, 5.0, 2.0])
    N = n.sum()
    w = 1 / (N**2 * (1 - n / N))
    A = np.diag(n) - np.outer(n, n) / N
    ref = (w @ np.diag(A)) ** 2 / np.sum(np.outer(w, w) * A**2)
    assert bell_mccaffrey_df(n) == pytest.approx(ref, rel=1e-12)


def test_cr2_by_hand_for_two_unequal_clusters() -> None:
    # d = (1 | 0, 0, 1): S = (1, 1), n = (1, 3), N = 4, delta = 1/2.
    # u = S - delta n = (1/2, -1/2); CR2 V = [(1/4)/(3/4) + (1/4)/(1/4)] / 16 = (4/3)/16 = 1/12.
    sums = ClusterSums(np.array([1.0, 1.0]), np.array([1.0, 3.0]))
    assert cr2_variance(sums) == pytest.approx(1 / 12, rel=1e-12)


def test_mde_and_required_n_equal_statsmodels_normal_power() -> None:
    smp = pytest.importorskip("statsmodels.stats.power")
    sd, n = 0.4, 900
    eff = smp.NormalIndPower().solve_power(nobs1=n, alpha=0.05, power=0.8, ratio=0,
                                           alternative="larger")
    assert minimum_detectable_effect(sd / math.sqrt(n)) == pytest.approx(eff * sd, rel=1e-6)
    nobs = smp.NormalIndPower().solve_power(effect_size=0.02 / sd, alpha=0.05, power=0.8,
                                            ratio=0, alternative="larger")
    assert required_n(sd, 0.02) == math.ceil(nobs)


def test_mde_uses_the_noncentral_t_with_finite_df() -> None:
    # exact power of the one-sided t test at 9 df: nct.sf(t_0.95,9, 9, lambda) = 0.8
    se, df = 0.01, 9.0
    lam = so.brentq(lambda e: sps.nct.sf(sps.t.ppf(0.95, df), df, e) - 0.8, 0.1, 20,
                    xtol=1e-14)
    assert minimum_detectable_effect(se, df=df) == pytest.approx(lam * se, rel=1e-9)
    # within 1% of STATS.md's (t_{1-alpha} + t_power) SE
    approx = (sps.t.ppf(0.95, df) + sps.t.ppf(0.8, df)) * se
    assert abs(minimum_detectable_effect(se, df=df) / approx - 1) < 0.01


def test_zero_variance_is_reported_not_hidden() -> None:
    b = np.zeros(50)
    res = paired_t(PairedSample(b, b), alpha=0.05)
    assert res.se == 0 and res.p_value == 1.0
    assert any("SE is 0" in n for n in res.notes)
