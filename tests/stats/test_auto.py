"""`auto`: which method and which ALLOW level it picks from the data, and why."""

from __future__ import annotations

import numpy as np

from evalsig_core import EvalRun, Policy, Verdict, gate
from evalsig_core.stats import PairedSample, choose_method


def _sample(n: int, G: int | None, binary: bool = True, sizes: list[int] | None = None,
            seed: int = 0) -> PairedSample:
    rng = np.random.default_rng(seed)
    b = (rng.random(n) < 0.5).astype(float)
    c = (rng.random(n) < 0.55).astype(float)
    if not binary:
        c = c * 0.5 + 0.25
    codes = None
    if sizes is not None:
        codes = np.repeat(np.arange(len(sizes)), sizes)
    elif G is not None:
        codes = np.arange(n) % G
    return PairedSample(b, c, codes)


def _binary_runs(n: int, G: int, p_cand: float, *, seed: int) -> tuple[EvalRun, EvalRun]:
    """Binary runs of n items in G round-robin clusters: baseline accuracy 0.5, candidate
    p_cand (independent draws)."""
    ids = [str(i) for i in range(n)]
    cl = [f"P{i % G}" for i in range(n)]
    rng = np.random.default_rng(seed)
    return (EvalRun.from_arrays(ids, (rng.random(n) < 0.5).astype(float), clusters=cl),
            EvalRun.from_arrays(ids, (rng.random(n) < p_cand).astype(float), clusters=cl))


def test_binary_scores_without_clusters_use_mcnemar() -> None:
    assert choose_method(_sample(500, None)).method == "mcnemar"


def test_other_scores_without_clusters_use_paired_t() -> None:
    assert choose_method(_sample(500, None, binary=False)).method == "paired_t"


def test_few_clusters_use_wcr_webb_with_the_floor_and_alpha_halved_for_allow() -> None:
    c = choose_method(_sample(400, 8), alpha=0.05)
    assert c.method == "wild_cluster_bootstrap" and c.alpha_allow == 0.025 and c.floor
    assert "Webb" in c.reason and "floor" in c.reason


def test_five_or_six_clusters_decide_with_the_floored_cr2_t_and_alpha_halved() -> None:
    # At G = 5 the wild bootstrap's enumerated Webb distribution under-covers on sparse
    # scores (calibration.md): auto decides with CR2 t, the floor and alpha/2 instead
    c = choose_method(_sample(400, 5), alpha=0.05)
    assert c.method == "clustered_t" and c.alpha_allow == 0.025 and c.floor
    assert "CR2 t" in c.reason and "floor" in c.reason and "too few" not in c.reason
    assert choose_method(_sample(420, 6)).method == "clustered_t"
    assert choose_method(_sample(420, 7)).method == "wild_cluster_bootstrap"


def test_a_five_cluster_gate_decides_on_the_alpha_half_cr2_t_bound() -> None:
    # 5 balanced clusters of 40 items; the ALLOW bound is delta - t_{0.975, 4} SE (CR2 = CR1
    # and Bell-McCaffrey df = G - 1 on balanced clusters), not the alpha = 0.05 bound
    from scipy import stats as sps

    n, G = 200, 5
    b, c = _binary_runs(n, G, 0.8, seed=3)
    r = gate(b, c, Policy(min_delta=0.0, cluster="k"))
    cmp = r.comparison
    assert cmp.method == "clustered_t" and cmp.n_clusters == 5 and cmp.allow_alpha == 0.025
    d = np.asarray(c.scores) - np.asarray(b.scores)
    S = np.bincount(np.arange(n) % G, weights=d)
    u = S - d.mean() * (n / G)
    se = np.sqrt(G / (G - 1) * np.sum(u * u)) / n  # CR1 = CR2 here
    assert cmp.df is not None and cmp.allow_lower is not None
    assert abs(cmp.se - se) < 1e-12 and abs(cmp.df - 4) < 1e-9
    assert abs(cmp.allow_lower - (d.mean() - sps.t.ppf(0.975, cmp.df) * se)) < 1e-12
    assert r.verdict is (Verdict.ALLOW if cmp.allow_lower > 0 else Verdict.INCONCLUSIVE)


def test_many_balanced_clusters_also_halve_alpha_for_allow() -> None:
    # Skewed cluster effects keep the nominal-alpha false-ALLOW rate at 0.08-0.10 with 30-200
    # balanced clusters (tests/stats/calibration.md): the halving is not a few-cluster rule.
    c = choose_method(_sample(4000, 200))
    assert c.method == "wild_cluster_bootstrap" and c.alpha_allow == 0.025
    assert "Rademacher" in c.reason


def test_unequal_sizes_with_under_five_effective_clusters_do_not_decide() -> None:
    sizes = [400] + [5] * 39  # Kish: 595^2 / (400^2 + 39 * 25) = 2.2 effective clusters
    c = choose_method(_sample(sum(sizes), None, sizes=sizes))
    assert c.method == "clustered_t" and "effective number of clusters" in c.reason
    assert "2.2" in c.reason


def test_a_dominant_cluster_makes_the_gate_inconclusive() -> None:
    sizes = [400] + [5] * 39
    n = sum(sizes)
    ids = [str(i) for i in range(n)]
    cl = [f"P{g}" for g, k in enumerate(sizes) for _ in range(k)]
    b = EvalRun.from_arrays(ids, [0.0] * n, clusters=cl)
    c = EvalRun.from_arrays(ids, [1.0] * n, clusters=cl)  # +1 everywhere: not the problem
    r = gate(b, c, Policy(min_delta=0.0, cluster="k"))
    assert r.verdict is Verdict.INCONCLUSIVE
    assert r.comparison.effective_clusters is not None
    assert abs(r.comparison.effective_clusters - 595**2 / (400**2 + 39 * 25)) < 1e-9
    assert "effective number of clusters" in r.reason
    w = [f for f in r.findings if f.code == "W218"]
    assert len(w) == 1 and "2.2 effective clusters" in w[0].message and w[0].count == 40


def test_fewer_than_five_clusters_are_inconclusive_with_a_finding() -> None:
    n = 400
    ids = [str(i) for i in range(n)]
    cl = [f"P{i % 4}" for i in range(n)]
    b = EvalRun.from_arrays(ids, [0.0] * n, clusters=cl)
    c = EvalRun.from_arrays(ids, [1.0] * n, clusters=cl)
    r = gate(b, c, Policy(min_delta=0.0, cluster="k"))
    assert r.verdict is Verdict.INCONCLUSIVE and r.comparison.method == "clustered_t"
    assert any(f.code == "W205" for f in r.findings)


def test_the_report_says_which_alpha_allow_used() -> None:
    b, c = _binary_runs(400, 8, 0.7, seed=1)
    r = gate(b, c, Policy(min_delta=0.0, cluster="k"))
    assert r.comparison.allow_alpha == 0.025
    assert "alpha 0.025" in r.reason and any("ALLOW uses" in x for x in r.comparison.notes)
