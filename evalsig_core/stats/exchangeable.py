"""The exchangeable-cluster floor `auto` puts under a cluster-robust bound.

A cluster-robust SE (CR1, CR2, the wild bootstrap) learns the variance of a cluster's
contribution from that cluster's own residual. When one cluster holds a large share of the
items, that single residual decides the SE: if the big cluster happens to sit near the mean,
the SE is far too small and the bound too tight (calibration: with Pareto cluster sizes and
rare large cluster regressions the false-ALLOW rate of WCR reached 0.17-0.26).

If cluster effects are exchangeable (independent of cluster size), the other clusters tell how
far a cluster may move, and the variance of the item-weighted mean delta = sum_g S_g / N is
    Var = sigma_b^2 sum_g w_g^2 + sigma_w^2 / N,     w_g = n_g / N,
with the one-way ANOVA estimators sigma_w^2 = MSW, sigma_b^2 = (MSB - MSW) / n0 (unclipped),
    MSB = sum_g n_g (S_g/n_g - delta)^2 / (G - 1),
    MSW = (sum_g Q_g - sum_g S_g^2/n_g) / (N - G),
    n0  = (N - sum_g n_g^2 / N) / (G - 1),
so  V_RE = a MSB + (1/N - a) MSW,  a = sum_g w_g^2 / n0.
With equal sizes a = 1/N and V_RE = MSB/N, which is exactly CR2 (= CR1) there: the floor only
changes anything when sizes differ. `auto` uses the more conservative of the cluster-robust
bound and the RE t bound (df = G - 1): each is valid under its own assumptions, and the
minimum of two lower bounds is valid when either one is.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import stats as sps

from ._base import ClusterSums, Inference

__all__ = ["FLOOR_MARGIN", "exchangeable_variance", "floor_binds", "with_exchangeable_floor"]

# The floor binds when the RE SE exceeds the cluster-robust SE by more than 1 %: below that the
# two agree up to the sampling noise of nearly equal sizes, and switching would only add a note.
FLOOR_MARGIN = 1.01


def exchangeable_variance(S: np.ndarray, Q: np.ndarray, n: np.ndarray) -> np.ndarray:
    """V_RE of the item-weighted mean (module docstring). `S`, `Q` may carry a leading batch
    axis; `n` is (G,). Returns 0 where MSB and MSW cannot be formed (N = G: one item each,
    no within-cluster spread to separate from the between-cluster one)."""
    S = np.asarray(S, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    G = n.shape[0]
    N = float(n.sum())
    if G < 2 or N <= G:
        return np.zeros(S.shape[:-1])
    delta = S.sum(axis=-1) / N
    msb = np.sum(n * (S / n - delta[..., None]) ** 2, axis=-1) / (G - 1)
    msw = (Q.sum(axis=-1) - np.sum(S * S / n, axis=-1)) / (N - G)
    n0 = (N - float(np.sum(n * n)) / N) / (G - 1)
    a = float(np.sum((n / N) ** 2)) / n0
    return np.asarray(np.maximum(a * msb + (1.0 / N - a) * msw, 0.0))


def floor_binds(se_re: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Where the floor replaces the cluster-robust SE (elementwise)."""
    return np.asarray(se_re > FLOOR_MARGIN * se)


def with_exchangeable_floor(inf: Inference, sums: ClusterSums, *, alpha: float,
                            alpha_allow: float | None) -> Inference:
    """`inf` with each bound moved out to the RE t bound where that one is wider."""
    if sums.Q is None or sums.G < 2:
        return inf
    v_re = float(exchangeable_variance(sums.S, sums.Q, sums.n))
    se_re = math.sqrt(v_re)
    if not floor_binds(np.asarray(se_re), np.asarray(inf.se)):
        return inf
    df = float(sums.G - 1)
    t = sps.t(df)
    d = inf.delta
    q1, q2 = float(t.ppf(1 - alpha)), float(t.ppf(1 - alpha / 2))
    lower, upper = min(inf.lower, d - q1 * se_re), max(inf.upper, d + q1 * se_re)
    two = (min(inf.two_sided[0], d - q2 * se_re), max(inf.two_sided[1], d + q2 * se_re))
    z = (d - inf.theta0) / se_re
    low_allow = inf.lower_allow
    if alpha_allow is not None:
        re_allow = d - float(t.ppf(1 - alpha_allow)) * se_re
        low_allow = re_allow if low_allow is None else min(low_allow, re_allow)
    share = float(sums.n.max() / sums.N)
    note = (f"exchangeable-cluster floor: the largest cluster holds {share:.0%} of the items and "
            f"the random-effects SE {se_re:.4f} exceeds the cluster-robust {inf.se:.4f}; "
            f"bounds use the wider of the two (t, {df:g} df)")
    return replace(inf, se=se_re, df=df, lower=lower, upper=upper, two_sided=two,
                   p_value=max(inf.p_value, float(t.sf(z))),
                   p_value_upper=max(inf.p_value_upper, float(t.cdf(z))),
                   lower_allow=low_allow, notes=(*inf.notes, note))
