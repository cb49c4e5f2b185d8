"""Multiplicity corrections across the entries of a suite (STATS.md).

Holm (step-down, family-wise error) is the default for "any entry improved"; Benjamini-Hochberg
(step-up, false discovery rate) is the alternative. "Every guardrail non-inferior" is an
intersection-union test and needs no adjustment (`iut` returns the p-values unchanged).

Entries tested at different levels. Each entry's ALLOW has its own one-sided level a_i: its
policy's alpha, or `auto`'s stricter alpha/2 for a clustered design (stats/auto.py), and it
ALLOWs alone exactly when p_i < a_i (the p-value inverts the bound ALLOW compares,
stats/exchangeable.py). The level is not a share of an error budget but what calibration says
the entry's p-value is worth: a clustered p-value below alpha/2 is what has a false-ALLOW rate
near alpha (STATS.md). So the evidence of entry i is u_i = p_i / a_i (ALLOW alone iff
u_i < 1), with P(u_i < t) <= t alpha_i under its null for t <= 1 (the level scaled down
with the threshold), and the corrections run on u at level 1:
- Holm: order by u; at step k (m - k + 1 hypotheses left) reject while u_(k) < 1 / (m - k + 1),
  i.e. p_(k) < a_(k) / (m - k + 1): each entry's own level times the Holm fraction. Holm's
  closed-testing argument with Bonferroni local tests gives FWER <= sum_{i true null}
  P(u_i < 1/m0) <= mean of those alpha_i <= max alpha_i (alpha when all policies share it).
- BH: step-up on u: reject the k* smallest u with k* = max{k: u_(k) <= k / m}; FDR <= (m0 / m)
  max alpha_i under independence or PRDS (Benjamini & Hochberg 1995, with the per-entry
  super-uniformity above in place of uniform p-values).
The adjusted p-value is reported on the entry's own scale, p~_i = a_i * adjusted(u)_i (capped
at 1), and compared with a_i as before; with equal levels it is the textbook adjustment
(statsmodels `multipletests` holm / fdr_bh). An adjusted u is never below u_i, so p~_i >= p_i:
the suite never ALLOWs an entry its own gate would not (never looser than a_i).
Rejected alternatives: Holm/BH on the raw p compared with each a_i (what suites did) orders by
raw p and does not step down in u: with a clustered p 0.015 (level 0.025, u 0.6) and an
unclustered 0.0359 (level 0.05, u 0.72) it ALLOWed the second after refusing the first, where
Holm stops at the first refusal; and weighted Holm with weights proportional to a_i (thresholds
a_i alpha / sum of the remaining a_j) tests the last clustered entry at alpha = 2 a_i, looser
than its own gate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import UsageError

__all__ = ["CORRECTIONS", "adjust_p_values"]

CORRECTIONS = ("holm", "bh", "iut")


def adjust_p_values(p: Sequence[float], method: str = "holm",
                    levels: Sequence[float] | None = None) -> list[float]:
    """Adjusted p-values in the input order (monotone in p / level, capped at 1).

    `levels`: each p-value's own one-sided level a_i (module docstring); the adjusted value
    is compared with it. None: one common level (the textbook Holm / BH adjustment)."""
    if method not in CORRECTIONS:
        raise UsageError(f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}")
    arr = np.asarray(p, dtype=np.float64)
    m = len(arr)
    if m == 0 or method == "iut":
        return [float(x) for x in arr]
    a = np.ones(m) if levels is None else np.asarray(levels, dtype=np.float64)
    if a.shape != arr.shape or not np.all(a > 0):
        raise ValueError("levels must be one positive level per p-value")
    u = arr / a
    order = np.argsort(u, kind="stable")
    ranked = u[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = adj
    # a * (p / a) can come back one ulp off p: an unadjusted p stays exactly p (a suite of one
    # is its gate), and no adjusted one falls below it
    scaled = np.where(out == u, arr, np.maximum(a * out, arr))
    return [float(x) for x in np.minimum(scaled, 1.0)]
