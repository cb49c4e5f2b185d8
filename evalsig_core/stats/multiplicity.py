"""Multiplicity corrections across the entries of a suite (STATS.md).

Holm (step-down, family-wise error) is the default for "any entry improved"; Benjamini-Hochberg
(step-up, false discovery rate) is the alternative. "Every guardrail non-inferior" is an
intersection-union test and needs no adjustment (`iut` returns the p-values unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import UsageError

__all__ = ["CORRECTIONS", "adjust_p_values"]

CORRECTIONS = ("holm", "bh", "iut")


def adjust_p_values(p: Sequence[float], method: str = "holm") -> list[float]:
    """Adjusted p-values in the input order (monotone, capped at 1)."""
    if method not in CORRECTIONS:
        raise UsageError(f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}")
    arr = np.asarray(p, dtype=np.float64)
    m = len(arr)
    if m == 0 or method == "iut":
        return [float(x) for x in arr]
    order = np.argsort(arr, kind="stable")
    ranked = arr[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adj = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return [float(x) for x in out]
