"""Minimal examples of the bugs the property tests (tests/stats/test_properties.py,
tests/core/test_gate_properties.py) found, one test each, so each stays fixed by name.

The rule behind most of them: the verdict decides with bounds, a suite's multiplicity
correction (and the report's `significant`) with p-values, so every bound must invert its own
p-value exactly: L > theta0 exactly when p < alpha (README: "L > 0 exactly when p < alpha").
"""

from __future__ import annotations

import numpy as np
import pytest

from evalsig_core import EvalRun, Policy, Verdict, gate
from evalsig_core.stats import PairedSample, permutation
from evalsig_core.stats.bootstrap import percentile_inference
from evalsig_core.stats.wild import WildBootstrap


def test_percentile_lower_bound_is_above_theta0_only_when_p_is_below_alpha() -> None:
    # 199 draws, 10 of them <= 0: p = 10/199 = 0.0503 >= 0.05. np.quantile's interpolated
    # 5% quantile was x[9] + 0.9 (x[10] - x[9]) = -0.5 + 0.9 = 0.4 > 0: L > 0 with p > alpha.
    draws = np.arange(199.0) - 9.5
    r = percentile_inference("paired_bootstrap", draws, 89.5, alpha=0.05, theta0=0.0,
                             df=198.0, seed=0, alpha_allow=None)
    assert r.p_value == 10 / 199
    assert r.lower == -0.5  # the 10th draw: theta0 = 0 is not rejected


def test_percentile_upper_bound_mirrors_the_lower_one() -> None:
    draws = -(np.arange(199.0) - 9.5)
    r = percentile_inference("paired_bootstrap", draws, -89.5, alpha=0.05, theta0=0.0,
                             df=198.0, seed=0, alpha_allow=None)
    assert r.p_value_upper == 10 / 199 and r.upper == 0.5


def test_permutation_does_not_reject_at_p_equal_to_alpha() -> None:
    # 4 clusters: all 16 sign vectors. At theta0 = 0.05 the upper p is 1/16 = alpha exactly;
    # the bound rejected at p <= alpha and put U = 0.0 < theta0 beside p = 0.0625.
    s = PairedSample(np.array([0.0] * 8 + [1.0]), np.zeros(9),
                     np.array([0, 0, 0, 0, 0, 0, 1, 2, 3]))
    r = permutation(s, alpha=0.0625, theta0=0.05)
    assert r.p_value_upper == 0.0625
    assert r.upper >= 0.05


def test_wild_bootstrap_bound_inverts_its_p_value_at_an_exact_tie() -> None:
    # G = 12: all 4096 Rademacher vectors, alpha = 1/16 = 256/4096. On a grid of theta0 two
    # p-values are exactly alpha; the bound rejected them (p <= alpha): L > theta0, p = alpha.
    rng = np.random.default_rng(4)
    S, n = rng.normal(0.1, 1.0, 12), np.full(12, 20.0)
    wb = WildBootstrap.fit(S, n, resamples=9999, seed=0)
    assert wb.plan.enumerated and wb.plan.draws == 4096
    alpha = 0.0625
    low = float(wb.lower(alpha)[0])
    grid = np.linspace(float(wb.delta[0]) - 4 * float(wb.se1[0]), float(wb.delta[0]), 2001)
    p = np.array([float(wb.p_value(t)[0]) for t in grid])
    assert np.count_nonzero(p == alpha) == 2  # the ties this test is about
    far = np.abs(grid - low) > 1e-9 * float(wb.se1[0])  # beyond the bisection's resolution
    assert np.array_equal((low > grid)[far], (p < alpha)[far])


def test_an_inconclusive_gate_with_a_tiny_margin_reports_no_item_count_not_a_traceback() -> None:
    # identical runs, min_delta 1e-302: the extra items (MDE / margin)^2 n overflowed float64
    # (OverflowError: exit 70) instead of "no finite number of extra items"
    ids = [f"q{i}" for i in range(2)]
    run = EvalRun.from_arrays(ids, [0.25, 0.5])
    r = gate(run, EvalRun.from_arrays(ids, [0.25, 0.5]), Policy(min_delta=1e-302))
    assert r.verdict is Verdict.INCONCLUSIVE and r.extra_items_needed is None
    assert "no finite number" in r.suggestion


def test_mcnemar_allow_is_not_demoted_by_a_suite_of_itself() -> None:
    # 4 improved, none regressed of 100 binary items (auto: mcnemar). The Tango bound ALLOWs
    # (McNemar z = 4/2 = 2 > 1.645) but the reported exact p was 1/16 = 0.0625 >= 0.05: the
    # report said "significant": false beside ALLOW, and a suite of this one entry (Holm over
    # a family of one changes nothing) demoted it to INCONCLUSIVE.
    from evalsig_core.suite import SuiteItem, gate_suite

    ids = [f"q{i}" for i in range(100)]
    b, c = np.zeros(100), np.zeros(100)
    c[:4] = 1.0
    runs = (EvalRun.from_arrays(ids, b), EvalRun.from_arrays(ids, c))
    alone = gate(*runs, Policy(min_delta=0.0))
    assert alone.verdict is Verdict.ALLOW and alone.comparison.significant
    suite = gate_suite([SuiteItem(name="a", policy=Policy(min_delta=0.0), load=lambda: runs)])
    assert suite.verdict is Verdict.ALLOW


def test_an_items_epochs_average_the_same_whatever_the_line_order() -> None:
    # summed in file order, (0.1 + 0.2) + 0.3 = 0.6000000000000001 but (0.3 + 0.2) + 0.1 = 0.6:
    # shuffling a file's lines moved the item means (and delta) in the last bit
    from evalsig_core.pairing import item_means

    a = EvalRun.from_arrays(["x"] * 3, [0.1, 0.2, 0.3], epochs=[1, 2, 3])
    b = EvalRun.from_arrays(["x"] * 3, [0.3, 0.2, 0.1], epochs=[3, 2, 1])
    assert item_means(a).means.tolist() == item_means(b).means.tolist()


def test_an_items_cluster_comes_from_its_first_epoch_not_its_first_line() -> None:
    # W204 says "a different label than its item's first epoch", but the label was the first
    # line's: listing epoch 2 first moved item x to cluster B (another G, another verdict)
    from evalsig_core.pairing import item_means

    lines = [("x", 1, "A"), ("x", 2, "B"), ("y", 1, "A"), ("y", 2, "A")]
    for order in (lines, lines[::-1]):
        ids, eps, labels = zip(*order, strict=True)
        run = EvalRun.from_arrays(list(ids), [1.0] * 4, epochs=list(eps), clusters=list(labels))
        means = item_means(run)
        assert means.clusters is not None and means.clusters.tolist() == ["A", "A"]
        assert means.n_cluster_conflicts == 1


def test_the_skewness_of_tiny_cluster_sums_is_a_number_not_nan() -> None:
    # one cluster sum of 1e-155 among zeros: se^3 underflowed to 0 and gamma was 0/0 = NaN
    # (the gate's SE = 0 rule hid it; the library function returned it). gamma is scale-free:
    # the same sums at scale 1 give the same gamma.
    from evalsig_core.stats.exchangeable import skewness

    codes = np.array([0, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0])
    n = np.bincount(codes).astype(float)
    S = np.zeros(7)
    S[0] = 1.0
    g1 = float(skewness(S[None], n, np.array([0.07]))[0])
    tiny = float(skewness(S[None] * 1e-155, n, np.array([0.07e-155]))[0])
    assert tiny == pytest.approx(g1, rel=1e-12) and g1 != 0


def test_the_exact_permutation_p_counts_ties_whatever_the_item_order() -> None:
    # d = (0, 0.5, 0.2648, 0.1392): the sign vector that flips only the zero item ties T_obs,
    # so the exact p is 2/16 (and the upper p 16/16). The tie's numerator N delta - P1 was a
    # rounding residue whose sign followed the item order: p was 1/16 in 8 of the 24 orders.
    d = np.array([0.0, 0.5, 0.26476571, 0.13915644])
    for order in ([0, 1, 2, 3], [0, 2, 1, 3], [3, 2, 0, 1]):
        r = permutation(PairedSample(np.zeros(4), d[order]), alpha=0.05)
        assert (r.p_value, r.p_value_upper) == (2 / 16, 1.0), order
