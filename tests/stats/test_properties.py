"""Properties every inference method must have, checked by hypothesis on generated samples.

Each test states one property of the methods in `evalsig_core.stats` (STATS.md, DESIGN.md).
Where a property holds only in part, the test checks the part that holds and its docstring says
why the rest does not (by design, not by accident). The minimal examples of the bugs these
properties found are pinned in test_property_regressions.py.

Settings: `derandomize=True` and no example database, so `make test` is deterministic; the
example counts keep the whole file to a few seconds per test on 2 cores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalsig_core.stats import METHODS, Inference, PairedSample
from evalsig_core.stats.exchangeable import exchangeable_variance, skewness
from evalsig_core.stats.power import (
    bound_mde,
    c4,
    extra_items_needed,
    minimum_detectable_effect,
    required_n,
)
from evalsig_core.stats.t_methods import cr2_variance
from evalsig_core.stats.wild_draws import wild_plan
from tests.strategies import SCORES, props

RESAMPLES = 199
T_METHODS = ("paired_t", "clustered_t")
PERCENTILE = ("paired_bootstrap", "cluster_bootstrap")




@st.composite
def samples(draw: st.DrawFn, *, kinds: tuple[str, ...] = ("binary", "grid", "float"),
            clustered: bool | None = None, max_n: int = 40, max_g: int = 20) -> PairedSample:
    n = draw(st.integers(2, max_n))
    el = SCORES[draw(st.sampled_from(kinds))]
    b = np.array(draw(st.lists(el, min_size=n, max_size=n)))
    c = np.array(draw(st.lists(el, min_size=n, max_size=n)))
    if clustered is None:
        clustered = draw(st.booleans())
    if not clustered:
        return PairedSample(b, c)
    g = draw(st.integers(2, max(2, min(n, max_g))))
    # every cluster non-empty: the first g items seed them, the rest fall anywhere
    rest = draw(st.lists(st.integers(0, g - 1), min_size=n - g, max_size=n - g))
    codes = np.array(list(range(g)) + rest)
    return PairedSample(b, c, codes)


def methods_for(s: PairedSample) -> list[str]:
    """The methods that apply to a sample (the others refuse it with an InputError)."""
    out = ["paired_t", "paired_bootstrap", "permutation"]
    if s.sums is not None:
        out += ["clustered_t", "wild_cluster_bootstrap", "cluster_bootstrap"]
    elif s.is_binary:
        out.append("mcnemar")
    return out


def run(name: str, s: PairedSample, **kw: Any) -> Inference:
    kw.setdefault("alpha", 0.05)
    kw.setdefault("resamples", RESAMPLES)
    kw.setdefault("seed", 1)
    return METHODS[name](s, **kw)


def swapped(s: PairedSample) -> PairedSample:
    return PairedSample(s.candidate, s.baseline, s.cluster_codes)


def units(s: PairedSample) -> int:
    return s.G if s.G is not None else s.n


ALPHAS = st.sampled_from([0.05, 0.1, 0.0625, 0.2])


@props(150)
@given(samples(), ALPHAS)
def test_every_method_reports_finite_statistics_and_nested_bounds(s: PairedSample,
                                                                   alpha: float) -> None:
    """No NaN anywhere; SE >= 0; p-values in [0, 1]; the two-sided (1 - alpha) interval
    contains both one-sided (1 - alpha) bounds; each bound is on its side of delta."""
    for name in methods_for(s):
        r = run(name, s, alpha=alpha, alpha_allow=alpha / 2)
        values = (r.delta, r.se, r.lower, r.upper, *r.two_sided, r.p_value, r.p_value_upper)
        assert not any(math.isnan(v) for v in values), (name, r)
        assert r.se >= 0 and 0 <= r.p_value <= 1 and 0 <= r.p_value_upper <= 1, (name, r)
        assert r.two_sided[0] <= r.lower <= r.delta <= r.upper <= r.two_sided[1], (name, r)
        # ALLOW's stricter bound (t methods leave it to the gate: None = `lower`)
        assert r.decision_lower <= r.lower, (name, r)


def _clear(bound: float, theta0: float, scale: float) -> bool:
    """Bound and theta0 apart by more than a bisection's resolution."""
    return abs(bound - theta0) > 1e-9 * max(scale, 1e-300)


@props(200)
@given(samples(), ALPHAS, st.sampled_from([0.0, -0.05, 0.05, 0.125]),
       st.sampled_from([99, 199, 999]))
def test_every_bound_inverts_its_own_p_value(s: PairedSample, alpha: float, theta0: float,
                                             resamples: int) -> None:
    """L > theta0 exactly when p < alpha, U < theta0 exactly when the upper p < alpha, and
    ALLOW's stricter bound clears theta0 exactly when p < alpha_allow: the verdict decides with
    bounds, `significant` and a suite's correction with p-values, so the two must agree (found:
    percentile quantiles, ties p = alpha in permutation and the wild bootstrap, McNemar's exact
    p beside Tango's bounds)."""
    for name in methods_for(s):
        r = run(name, s, alpha=alpha, theta0=theta0, resamples=resamples,
                alpha_allow=alpha / 2)
        if r.se == 0:
            continue  # every difference equal: the gate replaces the bounds (degenerate.py)
        scale = max(r.se, 1e-12)
        if _clear(r.lower, theta0, scale):
            assert (r.lower > theta0) == (r.p_value < alpha), (name, r)
        if _clear(r.upper, theta0, scale):
            assert (r.upper < theta0) == (r.p_value_upper < alpha), (name, r)
        if r.lower_allow is not None and _clear(r.lower_allow, theta0, scale):
            assert (r.lower_allow > theta0) == (r.p_value < alpha / 2), (name, r)


EXACT_MIRROR = ("paired_t", "clustered_t", "wild_cluster_bootstrap")


@props(120)
@given(samples(), st.sampled_from([0.05, 0.1]))
def test_swapping_the_runs_mirrors_every_analytic_and_wild_result_exactly(
        s: PairedSample, alpha: float) -> None:
    """delta -> -delta, [L, U] -> [-U, -L], two-sided CI mirrored, p <-> p_upper, bit for bit:
    t methods, the wild bootstrap with the same seed (its draws project the negated sums to
    the negated values), and the exact permutation test (at most 14 units).

    By design not bit for bit: random-draw permutation and the percentile bootstraps (the same
    seed draws counts per distinct (S, n) type in sorted order, and negating S reverses that
    order: an equally valid, different Monte Carlo draw), and McNemar (Tango's score
    recomputes the other cell: equal to rounding, checked below)."""
    t = swapped(s)
    for name in methods_for(s):
        a, b = run(name, s, alpha=alpha), run(name, t, alpha=alpha)
        assert b.delta == -a.delta, name
        if name in EXACT_MIRROR or (name == "permutation" and units(s) <= 14):
            assert (b.lower, b.upper) == (-a.upper, -a.lower), (name, a, b)
            assert b.two_sided == (-a.two_sided[1], -a.two_sided[0]), (name, a, b)
            assert (b.p_value, b.p_value_upper) == (a.p_value_upper, a.p_value), (name, a, b)
            assert b.se == a.se, name
        elif name == "mcnemar":
            assert b.lower == pytest.approx(-a.upper, abs=1e-12), (a, b)
            assert b.two_sided[0] == pytest.approx(-a.two_sided[1], abs=1e-12), (a, b)
            assert b.p_value == pytest.approx(a.p_value_upper, rel=1e-9, abs=1e-15), (a, b)


@props(40)
@given(samples(clustered=True, max_g=14), st.randoms(use_true_random=False))
def test_relabelling_clusters_and_reordering_items_leave_t_and_enumerated_results(
        s: PairedSample, rnd: Any) -> None:
    """Clusters renamed (codes permuted) and items reordered: the t methods and every
    enumerated resampling (wild bootstrap at G <= 14 / Webb 6^G <= resamples, permutation at
    <= 14 units: the set of weight vectors is closed under permuting clusters) give the same
    result up to the rounding of the per-cluster sums.

    By design not for random draws (wild bootstrap at G >= 15, cluster bootstrap): draw k
    gives cluster g its k-th weight, so another cluster order is another Monte Carlo draw.
    The product fixes that order (`pair` numbers clusters by their sorted labels, items by
    their sorted ids), so a file's line order never changes it (tests/core/
    test_gate_properties.py), but renaming clusters may, like changing the seed."""
    assert s.G is not None
    relabel = np.array(rnd.sample(range(s.G), s.G))
    order = np.array(rnd.sample(range(s.n), s.n))
    assert s.cluster_codes is not None
    t = PairedSample(s.baseline[order], s.candidate[order], relabel[s.cluster_codes][order])
    for name in ("clustered_t", "paired_t", "wild_cluster_bootstrap", "permutation"):
        if name == "wild_cluster_bootstrap" and not wild_plan(s.G, 999).enumerated:
            continue
        a = run(name, s, resamples=999)
        b = run(name, t, resamples=999)
        for x, y in ((a.delta, b.delta), (a.se, b.se), (a.lower, b.lower),
                     (a.upper, b.upper), (a.p_value, b.p_value)):
            assert x == pytest.approx(y, rel=1e-9, abs=1e-9 * max(a.se, 1e-12)), (name, a, b)


ALL_BUT_MCNEMAR = ("paired_t", "clustered_t", "wild_cluster_bootstrap", "cluster_bootstrap",
                   "paired_bootstrap", "permutation")


def _applicable(s: PairedSample) -> list[str]:
    return [m for m in methods_for(s) if m in ALL_BUT_MCNEMAR]


@props(100)
@given(samples(kinds=("grid",)), st.sampled_from([0.25, -0.5, 3.0, 1024.0]))
def test_adding_a_constant_to_both_runs_changes_nothing(s: PairedSample, c: float) -> None:
    """Translation: every method sees only d = candidate - baseline. On dyadic scores the
    shift is exact, so every result is identical bit for bit.

    By design `auto` is not translation-invariant for binary scores (0/1 + c is no longer
    binary: McNemar gives way to paired t) and the gate's distribution-free SE = 0 bounds
    need scores within [0, 1] (tests/core/test_gate_properties.py)."""
    t = PairedSample(s.baseline + c, s.candidate + c, s.cluster_codes)
    for name in _applicable(s):
        assert run(name, t) == run(name, s), name


@props(100)
@given(samples(kinds=("grid", "float")), st.sampled_from([0.5, 2.0, 4.0, 0.125]))
def test_scaling_both_runs_by_a_power_of_two_scales_every_result_exactly(
        s: PairedSample, k: float) -> None:
    """Scale equivariance: delta, SE, every bound and every resampling draw scale by k > 0,
    p-values and df do not move (checked exactly with k a power of two, where floating point
    scales exactly; other k to rounding below)."""
    t = PairedSample(s.baseline * k, s.candidate * k, s.cluster_codes)
    for name in _applicable(s):
        a, b = run(name, s), run(name, t)
        assert (b.delta, b.se, b.lower, b.upper) == (k * a.delta, k * a.se, k * a.lower,
                                                     k * a.upper), name
        assert b.two_sided == (k * a.two_sided[0], k * a.two_sided[1]), name
        assert (b.p_value, b.p_value_upper, b.df) == (a.p_value, a.p_value_upper, a.df), name


@props(60)
@given(samples(kinds=("float",)), st.sampled_from([3.0, 0.1, 1e6]))
def test_scaling_by_any_positive_factor_scales_results_to_rounding(s: PairedSample,
                                                                   k: float) -> None:
    t = PairedSample(s.baseline * k, s.candidate * k, s.cluster_codes)
    for name in ("paired_t", "clustered_t", "wild_cluster_bootstrap"):
        if name != "paired_t" and s.sums is None:
            continue
        a, b = run(name, s), run(name, t)
        tol = 1e-9 * k * max(a.se, 1e-12)
        for x, y in ((a.delta, b.delta), (a.se, b.se), (a.lower, b.lower), (a.upper, b.upper)):
            assert k * x == pytest.approx(y, abs=tol, rel=1e-9), (name, a, b)


@props(60)
@given(samples())
def test_the_same_seed_gives_the_same_result_and_resamples_are_honoured(
        s: PairedSample) -> None:
    """Reproducibility: two calls with one seed are equal bit for bit. A random plan draws
    exactly the resamples asked for (99 is the least a policy takes); an enumeration reports
    how many vectors it enumerated."""
    for name in methods_for(s):
        a, b = run(name, s, resamples=99), run(name, s, resamples=99)
        assert a == b, name
        if name in PERCENTILE:
            assert a.resamples == 99
        elif name == "permutation":
            assert a.resamples == (2 ** units(s) if units(s) <= 14 else 99)
        elif name == "wild_cluster_bootstrap":
            assert s.G is not None
            plan = wild_plan(s.G, 99)
            assert a.resamples == plan.draws == (99 if not plan.enumerated else plan.draws)


@props(60)
@given(st.integers(2, 30), st.sampled_from([0.0, 0.25, -1.0, 1e-300, 1e12]),
       st.booleans())
def test_all_differences_equal_give_a_finite_answer_with_se_zero(n: int, c: float,
                                                                 clustered: bool) -> None:
    """Every difference equal (identical runs, a constant offset, tiny or huge): SE is 0 and
    nothing is NaN or raises; the gate then applies the distribution-free bounds
    (stats/degenerate.py, tests/stats/test_degenerate.py)."""
    base = np.linspace(0.0, 1.0, n)
    codes = np.arange(n) % max(2, n // 3) if clustered and n >= 2 else None
    s = PairedSample(base, base + c, codes)
    for name in methods_for(s):
        if name == "mcnemar":
            continue
        r = run(name, s)
        assert not any(math.isnan(v) for v in (r.delta, r.se, r.lower, r.upper, r.p_value))
        if name in T_METHODS:  # c + x - x is c only to rounding: SE 0 up to it
            assert r.se <= 1e-12 * max(1.0, abs(c)), (name, r)
            if c in (0.0, -1.0):
                assert r.se == 0 and r.lower == r.upper == r.delta


@props(100)
@given(st.lists(st.integers(2, 40), min_size=2, max_size=20), st.data())
def test_the_exchangeable_floor_never_binds_with_equal_cluster_sizes(sizes: list[int],
                                                                     data: Any) -> None:
    """exchangeable.py: with equal sizes V_RE = MSB / N, which is exactly CR2: the floor can
    only bind when sizes differ. (One item per cluster is the documented exception: MSW cannot
    be formed and V_RE is 0, so the floor never binds there either.)"""
    m = sizes[0]
    G = len(sizes)
    d = np.array(data.draw(st.lists(SCORES["grid"], min_size=G * m, max_size=G * m)))
    codes = np.repeat(np.arange(G), m)
    s = PairedSample(np.zeros(G * m), d, codes)
    assert s.sums is not None and s.sums.Q is not None
    v_re = float(exchangeable_variance(s.sums.S[None], s.sums.Q[None], s.sums.n)[0])
    assert v_re == pytest.approx(cr2_variance(s.sums), rel=1e-9, abs=1e-15)


@props(100)
@given(samples(kinds=("grid", "float"), clustered=True))
def test_the_skewness_of_delta_changes_sign_with_the_runs(s: PairedSample) -> None:
    """Swapping the runs negates every cluster sum, so the skewness correction moves the
    other bound: gamma(-S) = -gamma(S) (the mirror of L's and U's corrections)."""
    assert s.sums is not None
    se = np.array([math.sqrt(cr2_variance(s.sums))])
    g = float(skewness(s.sums.S[None], s.sums.n, se)[0])
    h = float(skewness(-s.sums.S[None], s.sums.n, se)[0])
    assert h == pytest.approx(-g, abs=1e-12)


@props(100)
@given(samples(kinds=("grid", "float"), clustered=True),
       st.sampled_from([1e-150, 1e-60, 3.0, 1e40, 1e120]))
def test_the_skewness_of_delta_is_scale_free(s: PairedSample, k: float) -> None:
    """gamma = k3' sum w^3 / SE^3 does not change when the data and SE scale together, however
    far: cluster sums of 1e-155 made SE^3 underflow and gamma NaN."""
    assert s.sums is not None
    se = np.array([math.sqrt(cr2_variance(s.sums))])
    g = float(skewness(s.sums.S[None], s.sums.n, se)[0])
    h = float(skewness(k * s.sums.S[None], s.sums.n, k * se)[0])
    assert not math.isnan(h)
    assert h == pytest.approx(g, abs=1e-9)


@props(200)
@given(st.integers(1, 10**7), st.floats(1e-308, 1e308), st.floats(1e-308, 1e308))
def test_extra_items_needed_is_a_count_or_none_never_an_error(n: int, mde: float,
                                                              target: float) -> None:
    """Any positive finite MDE and target give a non-negative count or None (no finite
    count); a margin of 1e-302 made (MDE / target)^2 overflow and raise."""
    extra = extra_items_needed(n, mde, target)
    assert extra is None or extra >= 0
    if mde <= target:
        assert extra == 0


@props(100)
@given(st.floats(1e-6, 1e3), st.sampled_from([0.01, 0.05, 0.1]),
       st.sampled_from([0.8, 0.9]), st.sampled_from([math.inf, 4.0, 30.0]),
       st.sampled_from([0.5, 2.0, 10.0]))
def test_the_mde_scales_with_the_se_and_grows_with_stricter_alpha(
        se: float, alpha: float, power: float, df: float, k: float) -> None:
    """MDE = lambda SE (the noncentral-t effect): linear in SE, and a stricter alpha or more
    power never makes a smaller effect detectable; the bound form of a t bound equals it over
    c4(df) (its SE is an estimate)."""
    mde = minimum_detectable_effect(se, alpha=alpha, power=power, df=df)
    assert minimum_detectable_effect(k * se, alpha=alpha, power=power, df=df) == \
        pytest.approx(k * mde, rel=1e-12)
    assert minimum_detectable_effect(se, alpha=alpha / 2, power=power, df=df) > mde
    assert minimum_detectable_effect(se, alpha=alpha, power=0.95, df=df) >= mde
    from evalsig_core.stats._dist import norm_ppf, t_ppf
    q = float(norm_ppf(1 - alpha) if math.isinf(df) else t_ppf(1 - alpha, df))
    assert float(bound_mde(0.0, -q * se, se, df, power)) == pytest.approx(mde / c4(df),
                                                                          rel=1e-12)


@props(100)
@given(st.floats(0.01, 10.0), st.floats(1e-3, 1.0), st.sampled_from([1.0, 1.5, 4.0]))
def test_required_n_falls_as_the_effect_grows_and_rises_with_the_design_effect(
        sd: float, delta: float, deff: float) -> None:
    n = required_n(sd, delta, deff=deff)
    assert n >= 1
    assert required_n(sd, 2 * delta, deff=deff) <= n
    assert required_n(sd, -delta, deff=deff) == n
    assert required_n(sd, delta, deff=2 * deff) >= n
