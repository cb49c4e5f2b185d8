"""Properties of `gate` (doctor, pairing, method, verdict table) on generated runs.

Each test states one property of a gate a user relies on: the verdict follows DESIGN.md's
table in every mode, a file's line order changes nothing, repeated epochs change nothing,
swapping the runs turns an ALLOW into a REJECT, a suite of one entry agrees with the gate,
and no input gives a traceback or a NaN. Where a property holds only in part, the docstring
says which part and why (tests/stats/test_properties.py does the same for the methods; the
minimal examples of the bugs found are in tests/stats/test_property_regressions.py).

Settings: `derandomize=True`, no example database: `make test` is deterministic.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from evalsig_core import (
    DoctorError,
    EvalRun,
    GateReport,
    Policy,
    UsageError,
    Verdict,
    compare,
    gate,
)
from evalsig_core.errors import InputError
from evalsig_core.policy import MIN_CLUSTERS, meets_margin
from tests.strategies import SCORES, props

RESAMPLES = 199




class Data:
    """Two runs as record arrays (item, epoch, score, cluster), one record per (item, epoch)."""

    def __init__(self, ids: np.ndarray, epochs: np.ndarray, base: np.ndarray,
                 cand: np.ndarray, clusters: np.ndarray | None) -> None:
        self.ids, self.epochs, self.base, self.cand, self.clusters = (ids, epochs, base, cand,
                                                                      clusters)

    def runs(self, order_b: np.ndarray | None = None,
             order_c: np.ndarray | None = None) -> tuple[EvalRun, EvalRun]:
        return self._run(self.base, order_b), self._run(self.cand, order_c)

    def _run(self, scores: np.ndarray, order: np.ndarray | None) -> EvalRun:
        o = np.arange(len(scores)) if order is None else order
        cl = None if self.clusters is None else self.clusters[o].tolist()
        return EvalRun.from_arrays(self.ids[o].tolist(), scores[o], epochs=self.epochs[o],
                                   clusters=cl)

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return (f"Data(ids={self.ids.tolist()}, epochs={self.epochs.tolist()}, "
                f"base={self.base.tolist()}, cand={self.cand.tolist()}, "
                f"clusters={None if self.clusters is None else self.clusters.tolist()})")


@st.composite
def data(draw: st.DrawFn, *, kinds: tuple[str, ...] = ("binary", "grid", "float"),
         clustered: bool | None = None, max_n: int = 150, max_epochs: int = 3,
         effects: tuple[float | None, ...] = (None, 0.0, 0.15, -0.15, 0.5, -0.5)) -> Data:
    """Two runs of n items, k epochs each. The candidate is either drawn independently or
    the baseline moved by an effect (a share of items pushed up or down), so that ALLOW and
    REJECT are as common as INCONCLUSIVE."""
    n = draw(st.integers(2, max_n))
    k = draw(st.integers(1, max_epochs))
    kind = draw(st.sampled_from(kinds))
    el = SCORES[kind]
    base = np.array(draw(st.lists(el, min_size=n * k, max_size=n * k)))
    effect = draw(st.sampled_from(effects))
    if effect is None:
        cand = np.array(draw(st.lists(el, min_size=n * k, max_size=n * k)))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        moved = rng.random(n * k) < abs(effect) + 0.05
        target = 1.0 if effect >= 0 else 0.0
        step = target if kind == "binary" else np.clip(
            base + np.sign(effect or 1.0) * rng.random(n * k) / 2, 0, 1)
        if kind == "grid":
            step = np.round(step * 8) / 8
        cand = np.where(moved, step, base)
        noise = rng.random(n * k) < 0.05  # a few moved the other way
        cand = np.where(noise, base[::-1], cand)
    ids = np.repeat(np.array([f"q{i:03d}" for i in range(n)]), k)
    epochs = np.tile(np.arange(1, k + 1), n)
    clusters = None
    if clustered is None:
        clustered = draw(st.booleans())
    if clustered:
        g = draw(st.integers(2, max(2, min(n, 40))))
        rest = draw(st.lists(st.integers(0, g - 1), min_size=n - g, max_size=n - g))
        clusters = np.repeat(np.array([f"c{x}" for x in list(range(g)) + rest]), k)
    return Data(ids, epochs, base, cand, clusters)


MODES = st.sampled_from(["superiority", "non-inferiority", "minimum-effect"])
METHODS = st.sampled_from(["auto", "auto", "auto", "paired_t", "clustered_t", "permutation",
                           "wild_cluster_bootstrap", "cluster_bootstrap", "paired_bootstrap",
                           "mcnemar"])
MARGINS = st.sampled_from([0.0, 0.005, 0.05, 0.2])


def policy_for(d: Data, mode: str = "superiority", method: str = "auto",
               min_delta: float = 0.0, **kw: Any) -> Policy:
    return Policy(min_delta=min_delta, mode=mode, method=method, resamples=RESAMPLES, seed=3,
                  cluster=None if d.clusters is None else "k", **kw)


def outcome(d: Data, policy: Policy, order_b: np.ndarray | None = None,
            order_c: np.ndarray | None = None) -> GateReport | str:
    """The report, or the one-line message of a refusal (a doctor error, a method that does
    not apply to the data, a usage error): never a traceback."""
    try:
        r = gate(*d.runs(order_b, order_c), policy)
        event(f"verdict {r.verdict.value} by {r.comparison.method}")
        return r
    except (DoctorError, InputError, UsageError) as exc:
        event(f"refused: {type(exc).__name__}")
        text = str(exc)
        assert "\n" not in text and "Traceback" not in text
        return f"{type(exc).__name__}: {text}"


def strict_json(r: GateReport) -> dict[str, Any]:
    def refuse(token: str) -> None:
        raise AssertionError(f"bare {token} in the report")

    doc: dict[str, Any] = json.loads(r.to_json(), parse_constant=refuse)
    return doc


@props(120)
@given(data(), MODES, METHODS, MARGINS)
def test_every_verdict_follows_the_table_of_design_md(d: Data, mode: str, method: str,
                                                      margin: float) -> None:
    """ALLOW / REJECT / INCONCLUSIVE exactly as DESIGN.md's table says for each mode, with
    the bound ALLOW uses (auto's stricter one with clusters); the exit code is the verdict's;
    INCONCLUSIVE names its extra items or says why there is no such number; the JSON has no
    NaN/Infinity token; SE >= 0 and L <= U."""
    r = outcome(d, policy_for(d, mode, method, margin))
    if isinstance(r, str):
        return
    strict_json(r)
    c = r.comparison
    lo = -math.inf if c.ci.lower is None else c.ci.lower
    up = math.inf if c.upper_bound is None else c.upper_bound
    lo_allow = lo if c.allow_alpha is None else (
        -math.inf if c.allow_lower is None else c.allow_lower)
    assert c.se >= 0 and lo <= up and lo_allow <= lo
    assert r.exit_code == {"ALLOW": 0, "REJECT": 1, "INCONCLUSIVE": 2}[r.verdict.value]
    few = c.n_clusters is not None and (c.n_clusters < MIN_CLUSTERS or (
        c.effective_clusters is not None and c.effective_clusters < MIN_CLUSTERS))
    v, th = r.verdict, c.theta0
    if few:
        assert v is Verdict.INCONCLUSIVE
    elif mode == "superiority":
        allow = lo_allow > 0 and meets_margin(c.delta, margin)
        assert (v is Verdict.ALLOW) == allow, r.reason
        if not allow and up < 0:
            assert v is Verdict.REJECT
        if v is Verdict.INCONCLUSIVE:
            assert lo_allow <= 0 <= up and (math.isnan(c.mde) or c.mde > margin)
    else:
        expected = (Verdict.ALLOW if lo_allow > th else Verdict.REJECT if up < th
                    else Verdict.INCONCLUSIVE)
        assert v is expected, r.reason
    if v is Verdict.INCONCLUSIVE:
        assert r.extra_items_needed is not None or "extra items" in r.suggestion \
            or "clusters" in r.suggestion, r.suggestion


@props(80)
@given(data(), MODES, METHODS, MARGINS)
def test_the_report_agrees_with_its_own_p_value(d: Data, mode: str, method: str,
                                                margin: float) -> None:
    """`significant` (p < alpha) holds exactly when lo > theta0, and a gate ALLOW that rests
    on lo is never contradicted by the p-value at the level ALLOW used: a suite of this one
    entry (Holm over a family of one) keeps the verdict the gate gave."""
    r = outcome(d, policy_for(d, mode, method, margin))
    if isinstance(r, str):
        return
    c = r.comparison
    lo = -math.inf if c.ci.lower is None else c.ci.lower
    if abs(lo - c.theta0) > 1e-9 * max(c.se, 1e-12):
        assert c.significant == (lo > c.theta0), (c.p_value, lo, c.method)
    if r.verdict is Verdict.ALLOW and mode == "superiority":
        assert c.p_value < (c.allow_alpha or r.alpha), (c.p_value, c.method)


@props(80)
@given(data(), MODES, METHODS, st.randoms(use_true_random=False))
def test_a_files_line_order_changes_nothing(d: Data, mode: str, method: str,
                                            rnd: Any) -> None:
    """Shuffling the records of either file (epochs of one item included) gives the same
    report, bit for bit: items are paired by sorted id, clusters numbered by sorted label, an
    item's epochs summed in epoch order and its label taken from its first epoch (found: the
    label came from the first line, and epoch sums moved in the last bit)."""
    policy = policy_for(d, mode, method, 0.005)
    n = len(d.ids)
    ob = np.array(rnd.sample(range(n), n))
    oc = np.array(rnd.sample(range(n), n))
    a, b = outcome(d, policy), outcome(d, policy, ob, oc)
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    ja, jb = strict_json(a), strict_json(b)
    for doc in (ja, jb):
        for side in ("baseline", "candidate"):
            doc.pop(side)  # each file's own summary (record order, sha256 of no file)
    assert ja == jb


@props(60)
@given(data(kinds=("binary", "grid"), max_epochs=2), MODES, METHODS)
def test_repeating_every_epoch_changes_no_statistic(d: Data, mode: str, method: str) -> None:
    """K epochs -> 2K (every epoch twice): the item means, hence delta, SE, the bounds,
    the p-value and the verdict, are the same (on dyadic scores exactly). Only what measures
    the epochs themselves moves (the within-item variance share, by design)."""
    policy = policy_for(d, mode, method, 0.005)
    k = int(d.epochs.max())
    twice = Data(np.concatenate([d.ids, d.ids]), np.concatenate([d.epochs, d.epochs + k]),
                 np.concatenate([d.base, d.base]), np.concatenate([d.cand, d.cand]),
                 None if d.clusters is None else np.concatenate([d.clusters, d.clusters]))
    a, b = outcome(d, policy), outcome(twice, policy)
    if isinstance(a, str) or isinstance(b, str):
        assert isinstance(a, str) and isinstance(b, str)
        return
    assert b.verdict is a.verdict
    ca, cb = a.comparison, b.comparison
    assert (cb.delta, cb.se, cb.ci, cb.upper_bound, cb.ci_two_sided, cb.p_value,
            cb.allow_lower, cb.mde) == (ca.delta, ca.se, ca.ci, ca.upper_bound,
                                        ca.ci_two_sided, ca.p_value, ca.allow_lower, ca.mde)


@props(40)
@given(data(), MODES, METHODS, MARGINS)
def test_compare_reports_the_numbers_gate_decides_with(d: Data, mode: str, method: str,
                                                       margin: float) -> None:
    """`compare` is `gate` without a verdict: the same delta, SE, bounds, p-value and MDE
    (only the wording of the reason and notes differs, which name no verdict)."""
    policy = policy_for(d, mode, method, margin)
    r = outcome(d, policy)
    if isinstance(r, str):
        return
    c = compare(*d.runs(), policy)
    g = r.comparison
    assert (c.delta, c.se, c.df, c.ci, c.upper_bound, c.ci_two_sided, c.p_value, c.mde,
            c.allow_lower, c.significant) == (g.delta, g.se, g.df, g.ci, g.upper_bound,
                                              g.ci_two_sided, g.p_value, g.mde,
                                              g.allow_lower, g.significant)


def swap(d: Data) -> Data:
    return Data(d.ids, d.epochs, d.cand, d.base, d.clusters)


@props(80)
@given(data(effects=(0.15, 0.5)), METHODS, MARGINS)
def test_an_allowed_candidate_is_rejected_as_the_baseline(d: Data, method: str,
                                                          margin: float) -> None:
    """Superiority: ALLOW for (baseline, candidate) means L > 0 at a level no weaker than
    alpha, and the swapped comparison mirrors every bound (U' = -L), so it is a REJECT, a
    significant regression. (The converse does not hold by design: REJECT also covers
    "significant but smaller than min_delta" and, with clusters, ALLOW needs alpha/2.)"""
    policy = policy_for(d, "superiority", method, margin)
    a = outcome(d, policy)
    if isinstance(a, str) or a.verdict is not Verdict.ALLOW:
        return
    b = outcome(swap(d), policy)
    assert not isinstance(b, str)
    assert b.verdict is Verdict.REJECT, (b.reason, a.reason)
    assert b.comparison.delta == -a.comparison.delta


@props(40)
@given(data(kinds=("float",), max_epochs=1), MODES, st.sampled_from([2.0, 4.0, 0.5]))
def test_changing_the_unit_of_continuous_scores_changes_no_verdict(d: Data, mode: str,
                                                                   k: float) -> None:
    """Scores and margin in other units (both runs and min_delta times k > 0): delta, SE,
    bounds and MDE scale by k and the verdict stays. Checked with k a power of two (exact
    arithmetic). By design not for SE = 0 up to rounding, whose distribution-free bounds
    need the scale's width (scores within [0, 1]), nor for binary scores (0/1 times k is not
    binary: McNemar gives way to paired t)."""
    scaled = Data(d.ids, d.epochs, d.base * k, d.cand * k, d.clusters)
    a = outcome(d, policy_for(d, mode, min_delta=0.05))
    b = outcome(scaled, policy_for(d, mode, min_delta=0.05 * k))
    if isinstance(a, str) or isinstance(b, str):
        return
    if a.comparison.se <= 1e-9:
        return
    ca, cb = a.comparison, b.comparison
    assert b.verdict is a.verdict
    assert (cb.delta, cb.se, cb.mde) == (k * ca.delta, k * ca.se, k * ca.mde)
    assert cb.ci.lower == (None if ca.ci.lower is None else k * ca.ci.lower)


@props(40)
@given(data(), METHODS)
def test_the_same_seed_gives_the_same_report_and_99_resamples_are_honoured(
        d: Data, method: str) -> None:
    policy = Policy(min_delta=0.005, method=method, resamples=99, seed=7,
                    cluster=None if d.clusters is None else "k")
    a, b = outcome(d, policy), outcome(d, policy)
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert strict_json(a) == strict_json(b)
    c = a.comparison
    if c.method in ("paired_bootstrap", "cluster_bootstrap"):
        assert c.resamples == 99


MAGNITUDES = st.sampled_from([1e-300, 1e-150, 1e-12, 1.0, 1e6, 1e12, 1e40])


@props(120)
@given(st.integers(2, 40), MAGNITUDES, st.sampled_from([0.0, 0.5, -3.0]),
       st.sampled_from([None, 2, 5, 7]), METHODS, MODES,
       st.sampled_from(["identical", "offset", "random", "one item", "all zero",
                        "one cluster carries all"]),
       st.integers(0, 50))
def test_degenerate_and_extreme_inputs_give_an_answer_or_one_clear_error(
        n: int, magnitude: float, shift: float, g: int | None, method: str, mode: str,
        shape: str, seed: int) -> None:
    """All differences zero, a constant offset, one item or one cluster carrying all the
    variance, all scores identical, N = 2, G = 5 exactly, magnitudes from 1e-300 to 1e40:
    a finite report (strict JSON, no NaN; an unbounded end is null) or one line of error,
    never a traceback. (An INCONCLUSIVE with a margin of 1e-302 raised OverflowError.)"""
    rng = np.random.default_rng(seed)
    base = rng.random(n)
    cand = {"identical": base.copy(), "offset": base + 0.25, "random": rng.random(n),
            "all zero": np.zeros(n)}.get(shape, base.copy())
    if shape == "all zero":
        base = np.zeros(n)
    if shape == "one item":
        cand[0] += 1.0
    clusters = None if g is None else np.array([f"c{i % g}" for i in range(n)])
    if shape == "one cluster carries all":
        cand[: max(1, n // (g or n))] += 1.0
    d = Data(np.array([f"q{i}" for i in range(n)]), np.ones(n, dtype=np.int64),
             base * magnitude + shift, cand * magnitude + shift, clusters)
    for margin in (0.0, 0.01 * magnitude):
        r = outcome(d, policy_for(d, mode, method, margin))
        if isinstance(r, str):
            continue
        strict_json(r)
        c = r.comparison
        for v in (c.delta, c.se, c.p_value, c.baseline_mean, c.candidate_mean):
            assert math.isfinite(v), c
        assert not math.isnan(c.mde)
        assert c.correlation is None or math.isfinite(c.correlation)


@pytest.mark.parametrize(("G", "verdict"), [(4, Verdict.INCONCLUSIVE), (5, Verdict.ALLOW)])
def test_five_clusters_exactly_are_the_fewest_a_gate_decides_with(G: int,
                                                                  verdict: Verdict) -> None:
    """G = 5 (MIN_CLUSTERS) clusters of a clear improvement: ALLOW by the floored CR2 t at
    alpha/2 (auto's method below 7 clusters); the same data in 4 clusters: INCONCLUSIVE
    whatever the effect (clustered_t is only reported)."""
    n = 100
    rng = np.random.default_rng(0)
    base = (rng.random(n) < 0.3).astype(float)
    cand = np.where(rng.random(n) < 0.7, 1.0, base)
    ids = [f"q{i}" for i in range(n)]
    cl = [f"c{i % G}" for i in range(n)]
    r = gate(EvalRun.from_arrays(ids, base, clusters=cl),
             EvalRun.from_arrays(ids, cand, clusters=cl), Policy(min_delta=0.0, cluster="k"))
    assert r.verdict is verdict, r.reason
    assert r.comparison.method == "clustered_t"
    assert r.comparison.allow_alpha == (0.025 if G == 5 else None)
