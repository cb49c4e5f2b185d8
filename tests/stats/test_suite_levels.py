"""A suite whose entries ALLOW at different levels (auto: alpha/2 clustered, alpha without
clusters): Holm and BH run on p / level (stats/multiplicity.py), never looser than an entry's
own gate, and the textbook adjustment when the levels are equal."""

from __future__ import annotations

import numpy as np
import pytest

from evalsig_core import EvalRun, Policy, Verdict
from evalsig_core.report import SuiteReport
from evalsig_core.stats import adjust_p_values
from evalsig_core.suite import SuiteItem, gate_suite
from tests.conftest import discordant_runs

P = [0.01, 0.04, 0.03, 0.20, 0.002, 0.0125]


@pytest.mark.parametrize("level", [0.05, 0.025, 0.1])
def test_equal_levels_equal_statsmodels_multipletests(level: float) -> None:
    mt = pytest.importorskip("statsmodels.stats.multitest")
    for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
        ref = mt.multipletests(P, alpha=level, method=theirs)[1]
        got = adjust_p_values(P, ours, [level] * len(P))
        assert got == pytest.approx(list(ref), rel=1e-12)
        assert adjust_p_values(P, ours) == pytest.approx(list(ref), rel=1e-12)


@pytest.mark.parametrize(("p", "method", "expected"), [
    # u = p / level = (0.6, 0.72). Holm on u: 2 * 0.6 = 1.2 >= 1 stops at the first step; both
    # adjusted u are 1.2, i.e. 0.025 * 1.2 and 0.05 * 1.2. (Holm on the raw p: 0.030 and 0.036:
    # the second ALLOWed after the first was refused.)
    ([0.015, 0.036], "holm", [0.03, 0.06]),
    # BH on u: the largest 0.72 <= 2/2 rejects both; adjusted u 0.72 for both.
    ([0.015, 0.036], "bh", [0.018, 0.036]),
    # u = (0.6, 0.45): Holm 2 * 0.45 = 0.9 < 1, then max(0.9, 0.6) = 0.9 < 1: both pass.
    # (Holm on the raw p gave 0.030 >= 0.025 to the clustered entry.)
    ([0.015, 0.0225], "holm", [0.0225, 0.045]),
    # u = (0.4, 0.5, 0.3): Holm sorted by u: 3 * 0.3 = 0.9, 2 * 0.4 = 0.8 -> 0.9, 0.5 -> 0.9.
    ([0.01, 0.025, 0.015], "holm", [0.0225, 0.045, 0.045]),
    # BH: 0.5 * 3/3 = 0.5, 0.4 * 3/2 = 0.6 -> 0.5, 0.3 * 3/1 = 0.9 -> 0.5.
    ([0.01, 0.025, 0.015], "bh", [0.0125, 0.025, 0.025]),
])
def test_mixed_levels_adjust_p_over_level(p: list[float], method: str,
                                          expected: list[float]) -> None:
    levels = [0.025, 0.05, 0.05][:len(p)]
    assert adjust_p_values(p, method, levels) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_an_adjusted_p_value_is_never_below_the_raw_one(method: str) -> None:
    # so p_adj < level implies p < level: the suite never ALLOWs what the gate alone would not
    rng = np.random.default_rng(1)
    for _ in range(200):
        m = int(rng.integers(1, 8))
        p = rng.random(m) ** 3
        levels = rng.choice([0.025, 0.05, 0.1], size=m)
        adj = np.array(adjust_p_values(list(p), method, list(levels)))
        assert np.all(adj >= p)
        if m == 1:
            assert adj[0] == p[0]  # a suite of one entry is its gate


def _clustered(seed: int = 30, G: int = 20, size: int = 40) -> tuple[EvalRun, EvalRun]:
    """20 clusters of 40 binary items (auto: wild cluster bootstrap, ALLOW at alpha/2)."""
    rng = np.random.default_rng(seed)
    n = G * size
    ids = [f"q{i}" for i in range(n)]
    clusters = [f"c{i // size}" for i in range(n)]
    b = (rng.random(n) < 0.5).astype(float)
    u = rng.random(n)
    c = b.copy()
    c[(b == 0) & (u < 0.14)] = 1.0
    c[(b == 1) & (u < 0.08)] = 0.0
    return (EvalRun.from_arrays(ids, b, clusters=clusters),
            EvalRun.from_arrays(ids, c, clusters=clusters))


def _suite(improved: int, regressed: int, correction: str = "holm") -> SuiteReport:
    flat, clustered = discordant_runs(improved, regressed), _clustered()
    return gate_suite([
        SuiteItem(name="flat", policy=Policy(min_delta=0.0), load=lambda: flat),
        SuiteItem(name="clustered", policy=Policy(min_delta=0.0, cluster="cluster"),
                  load=lambda: clustered),
    ], correction=correction)


@pytest.fixture(scope="module")
def clustered_alone() -> float:
    """The clustered entry ALLOWs alone at p in [0.0125, 0.018): u = p / 0.025 in [0.5, 0.72)."""
    alone = gate_suite([SuiteItem(name="clustered", policy=Policy(min_delta=0.0,
                                                                  cluster="cluster"),
                                  load=_clustered)])
    r = alone.entries[0].report
    assert r is not None and r.verdict is Verdict.ALLOW and r.comparison.allow_alpha == 0.025
    assert 0.0125 <= r.comparison.p_value < 0.018
    return r.comparison.p_value


def test_holm_does_not_allow_the_weaker_entry_after_refusing_the_stronger(
        clustered_alone: float) -> None:
    # flat: 59 vs 41, p = 0.0359 (u 0.72) ALLOWs alone; clustered u = 0.6 is the smallest, and
    # 2 * 0.6 >= 1: Holm stops there. Holm on the raw p refused the clustered entry (2p >= 0.025)
    # and then ALLOWed the flat one (max(2p, 0.0359) < 0.05), which Holm never does.
    s = _suite(59, 41)
    assert [e.report.verdict_before_correction for e in s.entries] == [Verdict.ALLOW] * 2  # type: ignore[union-attr]
    assert [e.verdict for e in s.entries] == [Verdict.INCONCLUSIVE] * 2
    u = 2 * clustered_alone / 0.025
    assert [e.p_value_adjusted for e in s.entries] == pytest.approx([0.05 * u, 0.025 * u])
    assert "relative to its own ALLOW level" in s.entries[0].report.reason  # type: ignore[union-attr]


def test_holm_measures_each_p_value_by_its_own_level(clustered_alone: float) -> None:
    # flat: 60 vs 40, p = P(Z > 2) = 0.0228 (u 0.455): 2 * 0.455 < 1, then the clustered
    # u 0.6 < 1: both ALLOW. Holm on the raw p held the clustered entry to 2p >= 0.025.
    s = _suite(60, 40)
    assert [e.verdict for e in s.entries] == [Verdict.ALLOW] * 2
    assert s.verdict is Verdict.ALLOW


def test_bh_measures_each_p_value_by_its_own_level(clustered_alone: float) -> None:
    # BH on u = (0.72, 0.6): the largest is below 1, so both are discoveries; BH on the raw p
    # gave the clustered entry min(2p, 0.0359) >= 0.025
    s = _suite(59, 41, "bh")
    assert [e.verdict for e in s.entries] == [Verdict.ALLOW] * 2
