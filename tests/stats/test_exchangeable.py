"""The exchangeable-cluster floor (stats/exchangeable.py): its variance and where it binds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from evalsig_core import EvalRun, Policy, gate
from evalsig_core.stats import ClusterSums, PairedSample, cr2_variance, wild_cluster_bootstrap
from evalsig_core.stats.exchangeable import (
    GAMMA_CAP,
    _t_bound_p,
    exchangeable_variance,
    skewness,
    with_exchangeable_floor,
)


def test_equal_sizes_give_exactly_cr2() -> None:
    rng = np.random.default_rng(3)
    d = rng.choice([-1.0, 0.0, 1.0], size=120)
    sums = ClusterSums.from_items(d, np.arange(120) % 6)
    assert sums.Q is not None
    v = float(exchangeable_variance(sums.S, sums.Q, sums.n))
    assert v == pytest.approx(cr2_variance(sums), rel=1e-12)


def test_variance_by_hand_on_two_unequal_clusters() -> None:
    # Clusters {1, 1} and {0, 0, 0, 1}: N = 6, delta = 3/6 = 0.5, G = 2.
    # means 1 and 0.25; MSB = (2 (0.5)^2 + 4 (0.25)^2) / 1 = 0.75;
    # MSW = (0 + (4 * 0.25 - 4 * 0.0625... i.e. sum (d - 0.25)^2 = 3 * 0.0625 + 0.5625 = 0.75)
    #       / (6 - 2) = 0.1875;  n0 = (6 - (4 + 16) / 6) / 1 = 8/3;
    # a = ((2/6)^2 + (4/6)^2) / n0 = (5/9) / (8/3) = 5/24;
    # V = a MSB + (1/6 - a) MSW = 0.15625 - 0.0078125 = 0.1484375.
    d = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    sums = ClusterSums.from_items(d, np.array([0, 0, 1, 1, 1, 1]))
    assert sums.Q is not None
    assert float(exchangeable_variance(sums.S, sums.Q, sums.n)) == pytest.approx(0.1484375)


def test_variance_matches_the_random_effects_law_by_simulation() -> None:
    # Var(delta) = sigma_b^2 sum w^2 + sigma_w^2 / N under exchangeable effects: the mean of
    # V_RE over replications equals the Monte Carlo variance of delta (within 5 %).
    rng = np.random.default_rng(11)
    n = np.array([300, 40, 30, 25, 20, 20, 15, 10, 10, 10, 8, 6, 6])
    codes = np.repeat(np.arange(len(n)), n)
    R = 4000
    m = rng.normal(0, 0.3, size=(R, len(n)))[:, codes]
    d = m + rng.normal(0, 1.0, size=m.shape)
    starts = np.r_[0, np.cumsum(n)[:-1]]
    S = np.add.reduceat(d, starts, axis=1)
    Q = np.add.reduceat(d * d, starts, axis=1)
    v = exchangeable_variance(S, Q, n.astype(float))
    w = n / n.sum()
    truth = 0.09 * np.sum(w * w) + 1.0 / n.sum()
    assert float(v.mean()) == pytest.approx(truth, rel=0.05)
    assert float((S.sum(axis=1) / n.sum()).var()) == pytest.approx(truth, rel=0.05)


def _dominated(big_shift: float) -> PairedSample:
    # one cluster with a third of the items sits at the mean; 30 small clusters swing by +-0.5
    rng = np.random.default_rng(5)
    sizes = [150] + [10] * 30  # Kish: 450^2 / (150^2 + 30 * 100) = 7.9 effective clusters
    codes = np.repeat(np.arange(len(sizes)), sizes)
    shift = np.r_[big_shift, rng.choice([-0.5, 0.5], 30)][codes]
    base = 0.25 + 0.5 * rng.random(len(codes))
    cand = np.clip(base + shift + rng.normal(0, 0.1, len(codes)), 0.0, 1.0)
    return PairedSample(base, cand, codes)


def test_the_floor_widens_a_bound_a_quiet_big_cluster_made_too_tight() -> None:
    s = _dominated(0.0)
    assert s.sums is not None
    inf = wild_cluster_bootstrap(s, alpha=0.05, resamples=999, alpha_allow=0.025)
    out = with_exchangeable_floor(inf, s.sums, alpha=0.05, alpha_allow=0.025)
    assert out.se > inf.se and out.df == 30.0
    assert out.lower < inf.lower and out.upper > inf.upper
    assert out.decision_lower <= min(inf.decision_lower, out.lower)
    assert out.two_sided[0] <= inf.two_sided[0] and out.two_sided[1] >= inf.two_sided[1]
    assert out.p_value >= inf.p_value
    assert any("exchangeable-cluster floor" in n for n in out.notes)


def test_the_floor_leaves_balanced_clusters_alone() -> None:
    rng = np.random.default_rng(2)
    codes = np.arange(400) % 20
    s = PairedSample((rng.random(400) < 0.5).astype(float),
                     (rng.random(400) < 0.6).astype(float), codes)
    assert s.sums is not None and s.sums.Q is not None
    inf = wild_cluster_bootstrap(s, alpha=0.05, resamples=999, alpha_allow=0.025)
    out = with_exchangeable_floor(inf, s.sums, alpha=0.05, alpha_allow=0.025)
    assert out.se == inf.se and not any("floor" in n for n in out.notes)


def test_skewness_is_the_shrunk_k_statistic_of_cluster_means_scaled_to_delta() -> None:
    # kappa_3(delta) = sum_g w_g^3 kappa_3(ybar_g); scipy's kstat(., 3) is the unbiased k3,
    # kstat(., 2) the unbiased k2; |k3| is shrunk by sqrt(6/G) k2^(3/2) (noise of a symmetric
    # law's sample skewness).
    rng = np.random.default_rng(4)
    n = np.array([12.0, 30, 7, 20, 20, 9, 15, 25])
    ybar = rng.exponential(1.0, 8)  # right-skewed cluster means
    S = ybar * n
    se = 0.9
    k2, k3 = sps.kstat(ybar, 2), sps.kstat(ybar, 3)
    shrunk = np.sign(k3) * max(abs(k3) - np.sqrt(6 / 8) * k2**1.5, 0.0)
    expect = shrunk * float(np.sum((n / n.sum()) ** 3)) / se**3
    assert 0 < expect < GAMMA_CAP
    assert float(skewness(S[None, :], n, np.array([se]))[0]) == pytest.approx(expect, rel=1e-12)


def test_noise_alone_moves_no_bound() -> None:
    # 8 symmetric cluster means whose sample skewness is within sqrt(6/8) of 0
    ybar = np.array([-1.0, -0.5, -0.2, 0.0, 0.1, 0.3, 0.4, 0.9])
    n = np.full(8, 10.0)
    assert abs(sps.skew(ybar, bias=False)) < np.sqrt(6 / 8)
    assert float(skewness((ybar * n)[None, :], n, np.array([0.1]))[0]) == 0.0


def test_a_few_large_cluster_regressions_lower_the_allow_bound() -> None:
    # 30 clusters of 20 items: 27 improve by +0.1, 3 regress by -0.5 (negative skew)
    rng = np.random.default_rng(8)
    shift = np.r_[np.full(27, 0.1), np.full(3, -0.5)]
    codes = np.repeat(np.arange(30), 20)
    base = 0.3 + 0.4 * rng.random(600)
    cand = np.clip(base + shift[codes] + rng.normal(0, 0.05, 600), 0, 1)
    s = PairedSample(base, cand, codes)
    assert s.sums is not None and s.sums.Q is not None
    inf = wild_cluster_bootstrap(s, alpha=0.05, resamples=999, alpha_allow=0.025)
    out = with_exchangeable_floor(inf, s.sums, alpha=0.05, alpha_allow=0.025)
    assert float(skewness(s.sums.S[None, :], s.sums.n, np.array([out.se]))[0]) < -0.3
    assert out.decision_lower < inf.decision_lower  # the ALLOW bound moves down
    # the one-sided L carries the correction (its p-value does); the two-sided interval not
    assert out.two_sided == inf.two_sided and out.lower < inf.lower
    assert out.upper == inf.upper and out.p_value > inf.p_value
    assert any("skewed" in n for n in out.notes)


def test_gate_reports_the_floor_and_its_se() -> None:
    s = _dominated(0.0)
    assert s.cluster_codes is not None
    ids = [str(i) for i in range(s.n)]
    cl = [f"c{g}" for g in s.cluster_codes]
    r = gate(EvalRun.from_arrays(ids, s.baseline, clusters=cl),
             EvalRun.from_arrays(ids, s.candidate, clusters=cl),
             Policy(min_delta=0.0, cluster="k", resamples=999))
    c = r.comparison
    assert any("exchangeable-cluster floor" in n for n in c.notes)
    assert s.sums is not None and s.sums.Q is not None
    se_re = math.sqrt(float(exchangeable_variance(s.sums.S, s.sums.Q, s.sums.n)))
    assert c.se == pytest.approx(se_re) and c.df == 30.0


def _skewed_designs(count: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(baseline, candidate, cluster codes): 6-40 clusters, equal or unequal sizes, rare large
    cluster regressions (the designs where the floor and the skewness correction bind)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        G = int(rng.choice([6, 8, 10, 15, 20, 40]))
        sizes = (rng.integers(2, 30, G) if rng.random() < 0.5
                 else np.full(G, int(rng.integers(3, 20))))
        codes = np.repeat(np.arange(G), sizes)
        n = len(codes)
        m = np.where(rng.random(G) < 0.15, -0.4, 0.07)[codes]
        b = (rng.random(n) < 0.5).astype(float)
        c = np.where(rng.random(n) < 0.3, (rng.random(n) < 0.55 + m).astype(float), b)
        out.append((b, c, codes))
    return out


def test_p_values_agree_with_the_floored_skew_corrected_bounds() -> None:
    # L > 0 exactly when p < alpha, and ALLOW's bound > 0 exactly when p < its level. Designs
    # 47 (40 unequal clusters) and 93 (8 clusters, the floor and the correction binding) gave
    # L > 0 with p = 0.055 (the lower L lacked the correction its p carried), or p from a
    # tail formula the Cornish-Fisher bound does not invert.
    designs = _skewed_designs(94)
    skewed = 0
    for k in [*range(0, 94, 6), 47, 93]:
        b, c, codes = designs[k]
        sample = PairedSample(b, c, codes)
        assert sample.sums is not None
        r = with_exchangeable_floor(
            wild_cluster_bootstrap(sample, alpha=0.05, resamples=999, seed=k, alpha_allow=0.025),
            sample.sums, alpha=0.05, alpha_allow=0.025)
        assert r.lower_allow is not None
        assert (r.lower > 0) == (r.p_value < 0.05), (k, r.lower, r.p_value)
        assert (r.lower_allow > 0) == (r.p_value < 0.025), (k, r.lower_allow, r.p_value)
        assert (r.upper < 0) == (r.p_value_upper < 0.05), (k, r.upper, r.p_value_upper)
        skewed += any("skewed" in note for note in r.notes)
    assert skewed >= 3  # the correction did bind in some of them


def test_t_bound_p_inverts_the_cornish_fisher_bound() -> None:
    # lower bound at level a: delta - SE h(t_{1-a,df}), h(q) = q + |g| (2 q^2 + 1) / 6 (g < 0)
    df, g = 7.0, -0.6
    for a in (0.2, 0.05, 0.01):
        q = sps.t.ppf(1 - a, df)
        z = q + abs(g) * (2 * q * q + 1) / 6  # the bound sits exactly at theta0
        assert _t_bound_p(z, df, g) == pytest.approx(a, rel=1e-9)
    assert _t_bound_p(1.3, df, 0.4) == pytest.approx(sps.t.sf(1.3, df), rel=1e-12)
    assert _t_bound_p(-50.0, df, -1.0) == 1.0  # no level puts the bound above theta0
