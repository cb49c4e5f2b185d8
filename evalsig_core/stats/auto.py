"""`auto`: the method (and the level of the ALLOW bound) chosen from the data.

The rule is what the calibration study (tests/stats/calibration.md, `make calibrate`) supports
for every cell of the STATS.md grid:
- no cluster key, binary scores (one epoch): `mcnemar` (exact test, Tango score bounds);
- no cluster key, other scores: `paired_t`;
- a cluster key: `wild_cluster_bootstrap` (Webb weights below 12 clusters). With few clusters
  (G < 30) or few effective degrees of freedom (Bell-McCaffrey df < 15) no method holds its
  nominal false-ALLOW rate on skewed cluster effects, so the ALLOW decision uses the lower
  bound at alpha/2; the reported interval stays at the nominal level.
- fewer than `MIN_CLUSTERS` clusters: `clustered_t` is reported, and the gate answers
  INCONCLUSIVE whatever it says.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._base import PairedSample
from .t_methods import bell_mccaffrey_df

__all__ = ["FEW_CLUSTERS", "LOW_DF", "Choice", "choose_method"]

FEW_CLUSTERS = 30
LOW_DF = 15.0
MIN_CLUSTERS = 5  # the same number as policy.MIN_CLUSTERS (stats never imports policy)


@dataclass(frozen=True)
class Choice:
    """The method `auto` picked, why, and the one-sided level of the ALLOW bound (None: alpha)."""

    method: str
    reason: str
    alpha_allow: float | None = None


def choose_method(sample: PairedSample, alpha: float = 0.05) -> Choice:
    sums = sample.sums
    if sums is None:
        if sample.is_binary:
            return Choice("mcnemar", "binary scores without clusters: exact McNemar test with "
                          "a Tango score interval")
        return Choice("paired_t", "no cluster key: iid paired t")
    G = sums.G
    if G < MIN_CLUSTERS:
        return Choice("clustered_t", f"only {G} clusters: reported with CR2 t; too few "
                      "clusters to decide")
    df = bell_mccaffrey_df(sums.n)
    weights = "Webb" if G < 12 else "Rademacher"
    why = f"{G} clusters: wild cluster restricted bootstrap-t ({weights} weights)"
    if G < FEW_CLUSTERS or df < LOW_DF:
        cause = f"G = {G} < {FEW_CLUSTERS}" if G < FEW_CLUSTERS else (
            f"effective df {df:.1f} < {LOW_DF:g}")
        return Choice("wild_cluster_bootstrap",
                      f"{why}; {cause}, so ALLOW needs the one-sided bound at alpha/2 = "
                      f"{alpha / 2:g} (few-cluster calibration, STATS.md)", alpha / 2)
    return Choice("wild_cluster_bootstrap", why)
