"""The exchangeable-cluster floor (stats/exchangeable.py): its variance and where it binds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalsig_core import EvalRun, Policy, gate
from evalsig_core.stats import ClusterSums, PairedSample, cr2_variance, wild_cluster_bootstrap
from evalsig_core.stats.exchangeable import exchangeable_variance, with_exchangeable_floor


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
    assert s.sums is not None
    inf = wild_cluster_bootstrap(s, alpha=0.05, resamples=999, alpha_allow=0.025)
    assert with_exchangeable_floor(inf, s.sums, alpha=0.05, alpha_allow=0.025) is inf


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
