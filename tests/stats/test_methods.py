"""Each inference method against a hand derivation or an independent brute-force reference."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy import optimize as so
from scipy import stats as sps

from evalsig_core.stats import (
    METHODS,
    ClusterSums,
    PairedSample,
    cluster_bootstrap,
    cr1_variance,
    mcnemar,
    paired_bootstrap,
    permutation,
    wild_cluster_bootstrap,
)
from evalsig_core.stats.mcnemar import tango_score
from evalsig_core.stats.wild import WildBootstrap
from evalsig_core.stats.wild_draws import WEBB, wild_plan


def _clustered(seed: int, G: int, n: int = 400) -> PairedSample:
    rng = np.random.default_rng(seed)
    codes = np.sort(rng.integers(0, G, n))
    codes = np.unique(codes, return_inverse=True)[1]
    b = (rng.random(n) < 0.6).astype(float)
    c = b.copy()
    flip = rng.random(n) < 0.2 + 0.1 * rng.normal(size=G)[codes]
    c[flip] = 1 - c[flip]
    return PairedSample(b, c, codes)


def _wcr_brute_force_p(S: np.ndarray, n: np.ndarray, theta: float,
                       weights: list[np.ndarray]) -> float:
    """Reference: rebuild y* for every weight vector and refit delta* and its CR1 SE."""
    G, N = len(S), n.sum()
    delta = S.sum() / N
    t_obs = (delta - theta) / math.sqrt(cr1_variance(ClusterSums(S, n)))
    hits = 0
    for v in weights:
        y = theta * n + v * (S - theta * n)
        t = (y.sum() / N - theta) / math.sqrt(cr1_variance(ClusterSums(y, n)))
        hits += t >= t_obs - 1e-12
    assert len(n) == G
    return hits / len(weights)


def test_wcr_two_clusters_by_hand() -> None:
    # G = 2, n = (1, 1), S = (1, 0), theta = 0: u = (1, 0); a draw gives residuals
    # u*_1 = -u*_2 = (v1 u1 - v2 u2)/2, V* = 2 sum u*^2 / 4 = (v1)^2/4, so t* = v1/|v1| = +-1.
    # Observed: delta = 1/2, residuals (1/2, -1/2), V = 2 (1/2)/4 = 1/4, t_obs = 1.
    # p = P(t* >= 1) = P(v1 > 0) = 1/2 (Webb's law is symmetric; all 36 vectors enumerated).
    wb = WildBootstrap.fit(np.array([1.0, 0.0]), np.array([1.0, 1.0]), resamples=999, seed=0)
    assert wb.plan.weights == "webb" and wb.plan.enumerated and wb.plan.draws == 36
    assert wb.p_value(0.0)[0] == 0.5


def test_wcr_rademacher_enumeration_equals_brute_force_at_g_12() -> None:
    s = _clustered(4, 12)
    assert s.sums is not None
    plan = wild_plan(12, 999)
    assert plan.weights == "rademacher" and plan.enumerated and plan.draws == 4096
    wb = WildBootstrap.fit(s.sums.S, s.sums.n, resamples=999, seed=0)
    vs = [np.array(v, dtype=float) for v in itertools.product((-1.0, 1.0), repeat=12)]
    for theta in (0.0, -0.05, 0.02):
        ref = _wcr_brute_force_p(s.sums.S, s.sums.n, theta, vs)
        assert wb.p_value(theta)[0] == pytest.approx(ref, abs=1e-12)


def test_wcr_webb_enumeration_equals_brute_force_at_g_5() -> None:
    s = _clustered(5, 5, 60)
    assert s.sums is not None
    wb = WildBootstrap.fit(s.sums.S, s.sums.n, resamples=9999, seed=0)
    assert wb.plan.draws == 6**5
    vs = [np.array(v) for v in itertools.product(WEBB, repeat=5)]
    ref = _wcr_brute_force_p(s.sums.S, s.sums.n, 0.01, vs)
    assert wb.p_value(0.01)[0] == pytest.approx(ref, abs=1e-12)


def test_wcr_bounds_invert_the_test() -> None:
    s = _clustered(6, 40, 800)
    r = wild_cluster_bootstrap(s, alpha=0.05, resamples=999, seed=3)
    wb = WildBootstrap.fit(s.sums.S, s.sums.n, resamples=999, seed=3)  # type: ignore[union-attr]
    # just inside the bound the test accepts, just outside it rejects
    eps = 1e-6
    assert wb.p_value(r.lower + eps)[0] > 0.05 >= wb.p_value(r.lower - eps)[0]
    assert wb.p_value(r.upper - eps, upper=True)[0] > 0.05 >= wb.p_value(r.upper + eps,
                                                                           upper=True)[0]
    assert r.two_sided[0] < r.lower < r.delta < r.upper < r.two_sided[1]


def test_wcr_far_theta_arithmetic_counts_the_draws_the_in_place_one_counts() -> None:
    # From |theta| > 1e100 the test runs in units of |theta| (theta^2 Q3 overflowed at 1e200):
    # where both are finite the two must count the same draws, on both sides.
    s = _clustered(6, 40, 800)
    wb = WildBootstrap.fit(s.sums.S, s.sums.n, resamples=999, seed=3)  # type: ignore[union-attr]
    se = float(wb.se1[0])
    for k in (-300.0, -3.0, -0.5, 0.0, 0.7, 2.0, 40.0, 1e6):
        th = np.array([float(wb.delta[0]) + k * se])
        for upper in (False, True):
            assert wb._exceed_far(th, upper)[0] == wb._exceed(th, upper)[0], (k, upper)


def test_wcr_p_value_at_a_margin_of_1e200_is_the_limit_without_overflow() -> None:
    s = _clustered(6, 40, 800)
    wb = WildBootstrap.fit(s.sums.S, s.sums.n, resamples=999, seed=3)  # type: ignore[union-attr]
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is exact: 0
        assert wb.p_value(-1e200)[0] == wb.p_value(-1.7e308)[0] == 0.0
        assert wb.p_value(1e200)[0] == wb.p_value(1.7e308)[0] == 1.0
        assert wb.p_value(1e200, upper=True)[0] == 0.0


def test_tango_score_beyond_minus_one_one_is_infinite_without_overflow() -> None:
    # a difference of proportions outside [-1, 1] is a null no data can support
    with np.errstate(all="raise"):
        got = tango_score(np.array(3.0), np.array(1.0), np.array(50.0),
                          np.array([-1e200, -1.0001, 1.0001, 1.7e308]))
    assert list(got) == [np.inf, np.inf, -np.inf, -np.inf]


def test_wcr_batch_equals_the_library_call() -> None:
    s1, s2 = _clustered(7, 30, 500), _clustered(8, 30, 500)
    n = s1.sums.n  # type: ignore[union-attr]
    S2 = np.bincount(s1.cluster_codes, weights=s2.d, minlength=30)  # type: ignore[arg-type]
    wb = WildBootstrap.fit(np.stack([s1.sums.S, S2]), n, resamples=499, seed=0)  # type: ignore
    one = wild_cluster_bootstrap(s1, alpha=0.05, resamples=499, seed=0)
    assert wb.lower(0.05)[0] == pytest.approx(one.lower, abs=1e-12)


@pytest.mark.parametrize("name", ["wild_cluster_bootstrap", "cluster_bootstrap",
                                  "paired_bootstrap", "permutation"])
def test_random_methods_are_reproducible_bit_for_bit(name: str) -> None:
    s = _clustered(9, 60, 600)
    fn = METHODS[name]
    a = fn(s, alpha=0.05, theta0=0.0, resamples=999, seed=11)
    b = fn(s, alpha=0.05, theta0=0.0, resamples=999, seed=11)
    c = fn(s, alpha=0.05, theta0=0.0, resamples=999, seed=12)
    assert (a.lower, a.upper, a.p_value, a.distribution) == (
        b.lower, b.upper, b.p_value, b.distribution)
    assert a.distribution != c.distribution


def test_cluster_bootstrap_draws_are_cluster_resamples() -> None:
    # With one item per cluster every draw mean is a mean of G values of d: its support is
    # within [min d, max d] and its SD is close to sd(d) sqrt((G-1)/G) / sqrt(G).
    rng = np.random.default_rng(1)
    d = rng.normal(size=200)
    s = PairedSample(np.zeros(200), d, np.arange(200))
    r = cluster_bootstrap(s, alpha=0.05, resamples=4000, seed=0)
    assert r.se == pytest.approx(np.std(d) / math.sqrt(200), rel=0.05)


def test_paired_bootstrap_multinomial_path_matches_index_resampling() -> None:
    # binary d has 3 distinct values: the multinomial shortcut; its SE equals the plug-in SD.
    rng = np.random.default_rng(2)
    d = rng.choice([-1.0, 0.0, 1.0], p=[0.1, 0.7, 0.2], size=5000)
    s = PairedSample(np.zeros(5000), d)
    r = paired_bootstrap(s, alpha=0.05, resamples=4000, seed=0)
    assert r.se == pytest.approx(np.std(d) / math.sqrt(5000), rel=0.05)
    assert r.lower < r.delta < r.upper


def test_permutation_exact_by_hand() -> None:
    # d = (1, 2, 3), theta0 = 0: T_obs = 6 and of the 8 sign vectors only (+,+,+) reaches 6,
    # so p = 1/8. The lower bound at alpha = 0.2: c_j = (6 - P1)/(3 - P2) over the 7 others;
    # (-,+,+): (6-4)/(3-1) = 1; (+,-,+): 2/1... p(theta) = (1 + #{c_j <= theta})/8 > 0.2
    # needs one c_j <= theta; the smallest c_j is 1 (d_1 flipped), so L = 1.
    s = PairedSample(np.zeros(3), np.array([1.0, 2.0, 3.0]))
    r = permutation(s, alpha=0.2, resamples=999)
    assert r.p_value == 1 / 8
    assert r.lower == 1.0
    assert "all 8" in r.notes[0]


def test_permutation_sign_flip_matches_brute_force_enumeration() -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(0.2, 1, 10)
    s = PairedSample(np.zeros(10), d)
    r = permutation(s, alpha=0.05, theta0=0.1, resamples=999)
    x = d - 0.1
    T = [np.dot(e, x) for e in itertools.product((-1, 1), repeat=10)]
    assert r.p_value == pytest.approx(np.mean(np.array(T) >= x.sum() - 1e-12), abs=1e-12)


def test_mcnemar_p_is_the_score_test_its_bounds_invert_with_the_exact_p_in_a_note() -> None:
    # 8 improved, 2 regressed, 40 ties: McNemar's z = (8 - 2) / sqrt(10) = 1.897, p = 0.0289;
    # the Tango lower bound at 95% is above 0 (z > 1.645), so the p-value must be below 0.05.
    # The exact conditional p, P(X >= 8 | X ~ Bin(10, 1/2)) = (45 + 10 + 1) / 1024 = 0.0547,
    # is stated in the note (as the p-value it stood beside an L > 0).
    b = np.array([0.0] * 8 + [1.0] * 2 + [1.0] * 40)
    c = np.array([1.0] * 8 + [0.0] * 2 + [1.0] * 40)
    r = mcnemar(PairedSample(b, c), alpha=0.05)
    assert r.p_value == pytest.approx(sps.norm.sf(6 / math.sqrt(10)), rel=1e-9)
    assert r.lower > 0 and r.p_value < 0.05
    assert f"exact conditional p = {56 / 1024:.4g}" in r.notes[0]
    assert r.delta == pytest.approx(6 / 50)


def test_tango_restricted_mle_equals_numeric_maximisation() -> None:
    # maximise the multinomial log-likelihood of (b, c, rest) under p_b - p_c = D directly.
    b, c, N, D = 30.0, 12.0, 200.0, 0.05

    def nll(pc: float) -> float:
        pb = pc + D
        return -(b * math.log(pb) + c * math.log(pc) + (N - b - c) * math.log(1 - pb - pc))

    pc = so.minimize_scalar(nll, bounds=(1e-9, (1 - D) / 2 - 1e-9), method="bounded",
                            options={"xatol": 1e-12}).x
    ref = (b - c - N * D) / math.sqrt(N * (2 * pc + D * (1 - D)))
    got = float(tango_score(np.array(b), np.array(c), np.array(N), np.array(D)))
    assert got == pytest.approx(ref, rel=1e-6)


def test_mcnemar_interval_covers_the_estimate_and_is_inside_minus_one_one() -> None:
    b = np.array([0.0] * 3 + [1.0] * 47)
    c = np.array([1.0] * 3 + [1.0] * 47)
    r = mcnemar(PairedSample(b, c), alpha=0.05)
    assert -1 < r.two_sided[0] < r.lower < r.delta == 0.06 < r.upper < r.two_sided[1] < 1


@pytest.mark.parametrize("name", ["clustered_t", "wild_cluster_bootstrap", "cluster_bootstrap"])
def test_cluster_methods_refuse_a_missing_cluster_key(name: str) -> None:
    from evalsig_core.errors import InputError

    with pytest.raises(InputError, match="cluster"):
        METHODS[name](PairedSample(np.zeros(5), np.ones(5)), alpha=0.05, theta0=0.0,
                      resamples=99, seed=0)


def test_the_exact_mcnemar_p_in_the_note_equals_scipy_binomtest() -> None:
    b = np.array([0.0] * 9 + [1.0] * 3 + [0.0] * 20)
    c = np.array([1.0] * 9 + [0.0] * 3 + [0.0] * 20)
    r = mcnemar(PairedSample(b, c), alpha=0.05)
    ref = sps.binomtest(9, 12, 0.5, alternative="greater").pvalue
    assert f"exact conditional p = {ref:.4g}" in r.notes[0]


def test_paired_bootstrap_resamples_items_by_index_when_d_is_continuous() -> None:
    # 3,000 distinct values (> MAX_DISTINCT): each item is its own resampling unit.
    rng = np.random.default_rng(5)
    d = rng.normal(0.1, 1.0, 3000)
    r = paired_bootstrap(PairedSample(np.zeros(3000), d), alpha=0.05, resamples=2000, seed=0)
    assert r.se == pytest.approx(np.std(d) / math.sqrt(3000), rel=0.06)
    assert r.two_sided[0] < r.lower < d.mean() < r.upper < r.two_sided[1]


def test_cluster_bootstrap_type_shortcut_has_the_index_paths_distribution() -> None:
    # Binary d in clusters of 1-3 items: few (S, n) types, so the multinomial-over-types path
    # runs; appending distinct jitter forces the index path on the same clusters.
    from evalsig_core.stats.bootstrap import bootstrap_draws

    rng = np.random.default_rng(6)
    n = rng.integers(1, 4, 3000).astype(float)
    S = np.array([rng.choice([-1.0, 0.0, 1.0], p=[0.2, 0.5, 0.3], size=int(k)).sum()
                  for k in n])
    fast = bootstrap_draws(S, n, resamples=6000, seed=0)
    slow = bootstrap_draws(S + rng.normal(0, 1e-9, 3000), n, resamples=6000, seed=0)
    assert np.std(fast) == pytest.approx(np.std(slow), rel=0.05)
    assert np.mean(fast) == pytest.approx(np.mean(slow), abs=0.1 * np.std(slow))


@pytest.mark.parametrize("method", [paired_bootstrap, cluster_bootstrap, wild_cluster_bootstrap])
def test_random_resampling_never_reports_p_zero(method: Any) -> None:
    # +0.3 on every one of 40 clusters: no draw falls on the null side, yet 999 draws cannot
    # show p below 1/1000 (Davison & Hinkley); p was 0.0 and read "< 0.0001".
    rng = np.random.default_rng(3)
    codes = np.repeat(np.arange(40), 10)
    base = rng.random(400) * 0.5
    s = PairedSample(base, base + 0.3 + rng.normal(0, 0.01, 400), codes)
    r = method(s, alpha=0.05, resamples=999, seed=0)
    assert r.p_value == pytest.approx(1 / 1000) and r.lower > 0
    assert r.p_value_upper == pytest.approx(1.0, abs=1e-3)
