"""What the other clusters say about one: the variance floor and skewness correction `auto`
puts under a cluster-robust bound.

Variance. A cluster-robust SE (CR1, CR2, the wild bootstrap) learns the variance of a
cluster's contribution from that cluster's own residual. When one cluster holds a large share
of the items, that single residual decides the SE: if the big cluster happens to sit near the
mean, the SE is far too small and the bound too tight (calibration: with Pareto cluster sizes
and rare large cluster regressions the false-ALLOW rate of WCR reached 0.17-0.26). If cluster
effects are exchangeable (independent of cluster size), the other clusters tell how far a
cluster may move, and the variance of the item-weighted mean delta = sum_g S_g / N is
    Var = sigma_b^2 sum_g w_g^2 + sigma_w^2 / N,     w_g = n_g / N,
with the one-way ANOVA estimators sigma_w^2 = MSW, sigma_b^2 = (MSB - MSW) / n0 (unclipped),
    MSB = sum_g n_g (S_g/n_g - delta)^2 / (G - 1),
    MSW = (sum_g Q_g - sum_g S_g^2/n_g) / (N - G),
    n0  = (N - sum_g n_g^2 / N) / (G - 1),
so  V_RE = a MSB + (1/N - a) MSW,  a = sum_g w_g^2 / n0.
With equal sizes a = 1/N and V_RE = MSB/N, which is exactly CR2 (= CR1): the floor binds only
when sizes differ. Where V_RE exceeds the cluster-robust variance (by `FLOOR_MARGIN`), the SE
is the RE one with G - 1 df.

Skewness. A few clusters with large regressions make delta's sampling law skewed: its median
sits above its mean, so a symmetric bound (t or Rademacher/Webb wild bootstrap, whose weights
are symmetric) lies above the truth too often (false ALLOW 0.08-0.10 at alpha/2 even with 30
balanced clusters). With independent clusters, kappa_3(delta) = sum_g w_g^3 kappa_3(ybar_g);
estimating kappa_3 by the unbiased k-statistic k3 of the cluster means ybar_g, shrunk towards 0
by its own noise (`skewness`: a symmetric law gives |k3| / k2^(3/2) up to about sqrt(6/G)), gives
    gamma = k3' * sum_g w_g^3 / SE^3,
and the first-order (Edgeworth / Cornish-Fisher, Hall 1992) quantile of the studentized mean
moves the one-sided bound on the threatened side out to
    L = delta - SE (q - gamma (2 q^2 + 1) / 6)   (gamma < 0),
    U = delta + SE (q + gamma (2 q^2 + 1) / 6)   (gamma > 0),
with q the t quantile of the bound's level; |gamma| is capped at `GAMMA_CAP`, beyond which the
expansion is not to be trusted and the estimate of gamma is mostly noise.

The floor applies to every bound; the skewness correction to the one-sided bounds (L, U and
the lower bound ALLOW compares), not to the two-sided interval: heavy-tailed cluster means
(sparse discordance, tiny clusters) fake skewness often enough that the corrected interval
over-covered in 60 grid cells. Every bound is the more conservative of the cluster-robust one
and the adjusted one: each is valid under its own assumptions, and the minimum of two lower
bounds is valid when either is. The one-sided p-values are the exact inverses of those
bounds (`_t_bound_p`): L > theta0 exactly when p < alpha, and ALLOW's bound clears theta0
exactly when p < its level, so a report never shows a bound and a p-value that disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ._base import ClusterSums, Inference
from ._dist import t_ppf, t_sf

__all__ = ["FLOOR_MARGIN", "GAMMA_CAP", "Adjusted", "adjust_bounds", "exchangeable_variance",
           "skewness", "with_exchangeable_floor"]

# The floor binds when the RE SE exceeds the cluster-robust SE by more than 1 %: below that the
# two agree up to the sampling noise of nearly equal sizes, and switching would only add a note.
FLOOR_MARGIN = 1.01
GAMMA_CAP = 1.0


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


def skewness(S: np.ndarray, n: np.ndarray, se: np.ndarray) -> np.ndarray:
    """gamma of the module docstring, from the cluster means' skewness shrunk by its noise.

    g1 = k3 / k2^(3/2) of the cluster means has standard error about sqrt(6/G) when their law
    is symmetric; g1 is soft-thresholded by that (sign(g1) max(|g1| - sqrt(6/G), 0)) so noise
    alone moves no bound, then gamma = g1' k2^(3/2) sum_g w_g^3 / se^3, capped to
    [-GAMMA_CAP, GAMMA_CAP] (0 with fewer than 3 clusters or se = 0)."""
    S = np.asarray(S, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    G = n.shape[0]
    if G < 3:
        return np.zeros(S.shape[:-1])
    w3 = float(np.sum((n / n.sum()) ** 3))
    # (over/underflow only where the SE is far from 1: those samples are redone below)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ybar = S / n
        dev = ybar - ybar.mean(axis=-1, keepdims=True)
        k2 = np.sum(dev**2, axis=-1) / (G - 1)
        k3 = G / ((G - 1) * (G - 2)) * np.sum(dev**3, axis=-1)
        scale = k2**1.5
        shrunk = np.sign(k3) * np.maximum(np.abs(k3) - math.sqrt(6.0 / G) * scale, 0.0)
        g = np.where(se > 0, shrunk * w3 / se**3, 0.0)
    # gamma is scale-free; far from 1 the cubes under- or overflow (cluster sums of 1e-156:
    # se^3 = 0 and gamma NaN), so such samples are measured in units of their own SE
    odd = (se > 0) & ((se < _SCALE_LO) | (se > _SCALE_HI))
    if np.any(odd):
        unit = np.where(odd, se, 1.0)
        g = np.where(odd, skewness(S / np.asarray(unit)[..., None], n, np.ones_like(se)), g)
    return np.asarray(np.clip(g, -GAMMA_CAP, GAMMA_CAP))


_SCALE_LO, _SCALE_HI = 1e-50, 1e50  # SEs whose cubes and the moments' stay in float64 range


@dataclass(frozen=True)
class Adjusted:
    """Bounds after the floor and the skewness correction (arrays, one per sample)."""

    se: np.ndarray
    df: np.ndarray
    floored: np.ndarray  # where the RE SE replaced the cluster-robust one
    gamma: np.ndarray
    skew_lower: np.ndarray  # where the skewness correction moved the ALLOW bound
    skew_upper: np.ndarray  # ... and the REJECT (upper) bound
    lower: np.ndarray
    upper: np.ndarray
    lo2: np.ndarray
    hi2: np.ndarray
    lower_allow: np.ndarray


def adjust_bounds(S: np.ndarray, Q: np.ndarray, n: np.ndarray, *, delta: np.ndarray,
                  se: np.ndarray, df: float, lower: np.ndarray, upper: np.ndarray,
                  lo2: np.ndarray, hi2: np.ndarray, lower_allow: np.ndarray, alpha: float,
                  alpha_allow: float) -> Adjusted:
    """The module's adjustments, batched over a leading axis (one sample: shape (1,))."""
    se_re = np.sqrt(exchangeable_variance(S, Q, n))
    floored = se_re > FLOOR_MARGIN * np.asarray(se)
    se_u = np.where(floored, se_re, se)
    df_u = np.where(floored, float(len(n) - 1), df)
    g = skewness(S, n, se_u)

    def out(level: float, sign: float, skewed: bool = False) -> np.ndarray:
        """The adjusted t bound where an adjustment applies, else -inf/+inf (no effect on
        the min/max with the method's own bound)."""
        q = t_ppf(1 - level, df_u)
        active = floored
        if skewed:
            # sign -1: a lower bound, moved down where gamma < 0; +1: an upper one, gamma > 0
            shift = np.maximum(sign * g * (2 * q * q + 1) / 6, 0.0)
            q = q + shift
            active = floored | (shift > 0)
        return np.asarray(np.where(active, delta + sign * q * se_u, -sign * np.inf))

    # The one-sided bounds (L, U, ALLOW's lower bound) carry the skewness correction; the
    # two-sided interval carries the floor only (the correction made it over-cover wherever
    # heavy-tailed cluster means fake skewness).
    floor_allow = np.minimum(lower_allow, out(alpha_allow, -1.0))
    floor_upper = np.maximum(upper, out(alpha, 1.0))
    new_allow = np.minimum(floor_allow, out(alpha_allow, -1.0, skewed=True))
    new_upper = np.maximum(floor_upper, out(alpha, 1.0, skewed=True))
    return Adjusted(
        se=se_u, df=df_u, floored=floored, gamma=g,
        skew_lower=np.asarray(new_allow < floor_allow),
        skew_upper=np.asarray(new_upper > floor_upper),
        lower=np.minimum(lower, out(alpha, -1.0, skewed=True)), upper=new_upper,
        lo2=np.minimum(lo2, out(alpha / 2, -1.0)), hi2=np.maximum(hi2, out(alpha / 2, 1.0)),
        lower_allow=new_allow)


def _t_bound_p(z: float, df: float, g: float) -> float:
    """p of H0: delta <= theta0 that inverts the lower t bound of `adjust_bounds` exactly.

    z = (delta - theta0) / SE. The bound at level a is delta - SE h(q), q = t_{1-a,df}, with
    h(q) = q when g >= 0 and h(q) = q + |g| (2 q^2 + 1) / 6 (Cornish-Fisher) when g < 0; it
    exceeds theta0 exactly when h(q) < z, so p = P(T_df > h^{-1}(z)). For g < 0, h is the
    increasing branch of a quadratic: q = (-1 + sqrt(1 - 4 c (|g|/6 - z))) / (2 c), c = |g|/3;
    no real root means no level puts the bound above theta0 (p = 1). For the upper bound's
    p (H0: delta >= theta0) pass -z and -g.
    """
    if g >= 0:
        return float(t_sf(z, df))
    c = -g / 3.0
    disc = 1.0 - 4.0 * c * (-g / 6.0 - z)
    if disc < 0:
        return 1.0
    return float(t_sf((math.sqrt(disc) - 1.0) / (2.0 * c), df))


def with_exchangeable_floor(inf: Inference, sums: ClusterSums, *, alpha: float,
                            alpha_allow: float | None, decision: bool = True) -> Inference:
    """`inf` with each bound moved out where the floor or the skewness correction is wider.

    `decision`: the notes name the verdict each bound decides (ALLOW's L, REJECT's U); off
    for a comparison without a policy (`compare`)."""
    if sums.Q is None or sums.G < 2:
        return inf
    a = np.array
    kw = {"delta": a([inf.delta]), "se": a([inf.se]), "df": inf.df, "lower": a([inf.lower]),
          "upper": a([inf.upper]), "lo2": a([inf.two_sided[0]]), "hi2": a([inf.two_sided[1]]),
          "lower_allow": a([inf.decision_lower]), "alpha": alpha,
          "alpha_allow": alpha if alpha_allow is None else alpha_allow}
    adj = adjust_bounds(sums.S[None, :], sums.Q[None, :], sums.n, **kw)  # type: ignore[arg-type]
    se, df, g = float(adj.se[0]), float(adj.df[0]), float(adj.gamma[0])
    floored = bool(adj.floored[0])
    if not floored and g == 0:
        return inf
    notes = list(inf.notes)
    if floored:
        share = float(sums.n.max() / sums.N)
        notes.append(f"exchangeable-cluster floor: the largest cluster holds {share:.0%} of "
                     f"the items and the random-effects SE {se:.4f} exceeds the cluster-robust "
                     f"{inf.se:.4f}; bounds use the wider of the two (t, {df:g} df)")
    lower, upper = float(adj.lower[0]), float(adj.upper[0])
    if bool(adj.skew_lower[0]) or bool(adj.skew_upper[0]) or (lower < inf.lower and g < 0):
        role = {True: (", ALLOW's", ", REJECT's"), False: ("", "")}[decision]
        side = (f"lower bounds (L{role[0]}) and the p-value carry" if g < 0
                else f"upper bound (U{role[1]}) carries")
        notes.append(f"cluster means are skewed (skewness of delta {g:+.2f}): the one-sided "
                     f"{side} the first-order skewness correction (Hall 1992)")
    # each one-sided bound is the min (max) of the method's own and the t bound wherever the
    # floor binds or the skewness correction moves it: p is the max of the matching p-values
    z = (inf.delta - inf.theta0) / se if se > 0 else 0.0
    p_lo, p_hi = inf.p_value, inf.p_value_upper
    if floored or g < 0:
        p_lo = max(p_lo, _t_bound_p(z, df, min(g, 0.0)))
    if floored or g > 0:
        p_hi = max(p_hi, _t_bound_p(-z, df, min(-g, 0.0)))
    return replace(
        inf, se=se, df=df, lower=lower, upper=upper,
        two_sided=(float(adj.lo2[0]), float(adj.hi2[0])),
        p_value=p_lo, p_value_upper=p_hi,
        lower_allow=None if alpha_allow is None else float(adj.lower_allow[0]),
        notes=tuple(notes))
