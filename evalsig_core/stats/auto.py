"""`auto`: the method (and the level of the ALLOW bound) chosen from the data.

The rule is what the calibration study (tests/stats/calibration.md, `make calibrate`) supports
on the STATS.md grid:
- no cluster key, binary scores (one epoch): `mcnemar` (score test, Tango score bounds);
- no cluster key, other scores: `paired_t`;
- a cluster key with `MIN_WILD_CLUSTERS` (7) or more clusters: `wild_cluster_bootstrap` (Webb
  weights below 12 clusters) with the exchangeable-cluster floor and skewness correction
  (stats/exchangeable.py) under every bound, and ALLOW decided on the one-sided bound at
  alpha/2. Skewed cluster effects (a few
  clusters with large regressions) put the nominal-alpha false-ALLOW rate of WCR at
  0.08-0.10 even with 30-200 balanced clusters, and at 0.10-0.26 with unequal sizes. The
  reported interval keeps the nominal level and carries the floor only (the skewness
  correction moves the two decision bounds).
- 5 or 6 clusters (`MIN_CLUSTERS` to `MIN_WILD_CLUSTERS` - 1): `clustered_t` (CR2,
  Bell-McCaffrey df) with the same floor, skewness correction and alpha/2 ALLOW bound. At
  G = 5 the wild bootstrap enumerates its 6^5 Webb weight vectors, and that exact bootstrap
  distribution under-covers on sparse scores (two-sided 95% coverage 0.905 at 10%
  discordance without cluster effects, false ALLOW 0.090 at ICC 0.1 skewed), where the t
  bound with G - 1 df covers 0.955 (false ALLOW 0.052): 11 of the 28 balanced G = 5
  calibration cells meet every bar instead of 7, false ALLOW exceeds 0.07 in 3 instead of 5.
  At G = 6 (off the grid; 10000 random Webb draws, as the product draws) the bootstrap
  covered 0.931 and 0.936 at 10% discordance and ICC 0 and 0.05, the t bound 0.946 and
  0.953, both 0.95 at 40%; at G = 7 the two were even (0.943-0.947 and 0.941-0.951). From 7
  clusters the bootstrap keeps its robustness to unequal sizes (at G = 10 Pareto it meets
  every bar in 6 of 14 cells, the floored t in 3).
- fewer than `MIN_CLUSTERS` clusters, or sizes so unequal that Kish's effective number of
  clusters N^2 / sum n_g^2 is below it: `clustered_t` is reported, and the gate answers
  INCONCLUSIVE whatever it says.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..numfmt import counted
from ._base import PairedSample
from .t_methods import bell_mccaffrey_df

__all__ = ["MIN_CLUSTERS", "MIN_WILD_CLUSTERS", "Choice", "allow_alpha", "choose_method"]

MIN_CLUSTERS = 5  # the same number as policy.MIN_CLUSTERS (stats never imports policy)
# auto's wild bootstrap from this many clusters; below, the floored CR2 t (module docstring)
MIN_WILD_CLUSTERS = 7


def allow_alpha(alpha: float, clustered: bool) -> float:
    """The one-sided level of the bound `auto`'s ALLOW uses: alpha/2 for a clustered design
    (skewed cluster effects, STATS.md calibration), alpha without clusters. `evalsig power`
    plans at this level, so the MDE and N it promises are the ones the gate will need."""
    return alpha / 2 if clustered else alpha


@dataclass(frozen=True)
class Choice:
    """The method `auto` picked, why, and the one-sided level of the ALLOW bound (None: alpha).

    `reason` is about the method alone (what `compare` shows: it has no ALLOW);
    `allow_reason` says why ALLOW uses `alpha_allow` (a gate adds it to the reason)."""

    method: str
    reason: str
    alpha_allow: float | None = None
    allow_reason: str = ""
    # apply the exchangeable-cluster floor and skewness correction (stats/exchangeable.py)
    floor: bool = False


def choose_method(sample: PairedSample, alpha: float = 0.05) -> Choice:
    sums = sample.sums
    if sums is None:
        if sample.is_binary:
            return Choice("mcnemar", "binary scores without clusters: McNemar score test with "
                          "a Tango score interval")
        return Choice("paired_t", "no cluster key: iid paired t")
    G = sums.G
    if G < MIN_CLUSTERS:
        return Choice("clustered_t", f"only {counted(G, 'cluster')}: reported with CR2 t; too few "
                      "clusters to decide")
    g_eff = sums.effective_clusters
    if g_eff < MIN_CLUSTERS:
        return Choice("clustered_t", f"{G} clusters but their sizes are so unequal that the "
                      f"effective number of clusters (N^2 / sum n_g^2) is {g_eff:.1f}: "
                      "reported with CR2 t; too few to decide")
    df = bell_mccaffrey_df(sums.n)
    design = f"{G} clusters (effective {g_eff:.1f}, Bell-McCaffrey df {df:.1f})"
    floor = "with the exchangeable-cluster floor and skewness correction"
    if G < MIN_WILD_CLUSTERS:
        method, why = "clustered_t", (f"{design}: CR2 t {floor} (below {MIN_WILD_CLUSTERS} "
                                      "clusters the wild bootstrap under-covers, STATS.md "
                                      "calibration)")
    else:
        weights = "Webb" if G < 12 else "Rademacher"
        method, why = "wild_cluster_bootstrap", (f"{design}: wild cluster restricted "
                                                 f"bootstrap-t ({weights} weights) {floor}")
    return Choice(method, why, allow_alpha(alpha, True), floor=True,
                  allow_reason=f"ALLOW needs the one-sided bound at alpha/2 = {alpha / 2:g} "
                  "(skewed cluster effects, STATS.md calibration)")
