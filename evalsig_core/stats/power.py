"""Power: minimum detectable effect, required N, design effect (STATS.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..numfmt import counted
from ._dist import chi2_ppf, nct_sf, norm_ppf, t_ppf
from .auto import MIN_CLUSTERS

__all__ = ["PowerResult", "bound_mde", "c4", "design_effect", "extra_items_needed",
           "icc_anova", "minimum_detectable_effect", "power_analysis", "required_n", "t_quantile",
           "t_test_effect"]


def t_quantile(p: float, df: float) -> float:
    """The p quantile of t on df degrees of freedom; of the standard normal at df = inf."""
    return float(norm_ppf(p) if math.isinf(df) else t_ppf(p, df))


# The solve stops when a step moves lambda by less than this (relative; absolute below 1):
# the step after it would be far smaller (secant steps converge superlinearly)
_XTOL = 1e-13
_STEPS = 200  # cap on evaluations: a grid of crit -3..50, df 0.5..1e6 takes at most 7
_STALL = 3  # a finite bracket that has not halved over this many evaluations is bisected
# Beyond this many SEs the noncentral t's series does not converge (boost warns at 1e5), and
# the normal part of T' = (Z + lambda) / S is negligible against lambda: lambda = crit s_p
# with s_p the quantile of S = sqrt(chi^2_df / df) that leaves probability `power` (error
# O(1 / crit), 1e-4 here)
_FAR = 1e4


def t_test_effect(crit: Any, df: Any, power: float) -> Any:
    """lambda: the effect, in units of the estimate's true SE, that a one-sided test with
    critical value `crit` on the studentized estimate (t on `df` degrees of freedom) passes
    with probability `power`: P(T'(df, lambda) > crit) = power, T' the noncentral t (the exact
    power of a t test; statsmodels' TTestPower solves the same equation). Where df = inf it is
    crit + z_power. Elementwise on arrays (crit and df broadcast), by safeguarded secant steps
    inside a bracket (`_effect_root`: a few noncentral-t evaluations); an infinite `crit`
    gives an infinite lambda, NaN or df <= 0 gives NaN."""
    c, nu = np.broadcast_arrays(np.asarray(crit, dtype=np.float64),
                                np.asarray(df, dtype=np.float64))
    normal = np.isinf(nu) & (nu > 0)
    valid = np.isfinite(c) & (nu > 0) & ~normal
    far = valid & (np.abs(c) > _FAR)
    ok = valid & ~far
    lam = np.where(nu > 0, c, np.nan)
    if ok.any():
        lam[ok] = _effect_root(c[ok], nu[ok], power)
    if far.any():  # lambda = c s: P(S < s) = power for c > 0, P(S > s) = power for c < 0
        v = np.where(far, nu, 1.0)
        q = np.where(c > 0, power, 1.0 - power)
        lam = np.where(far, c * np.sqrt(np.asarray(chi2_ppf(q, v)) / v), lam)
    if normal.any():
        lam = np.where(normal, c + float(norm_ppf(power)), lam)
    return lam[()]


def _effect_root(x: np.ndarray, v: np.ndarray, power: float) -> np.ndarray:
    """lambda with nct_sf(x, v, lambda) = power, for 1-d arrays of finite x and 0 < v < inf.

    P(T' > x) = P(W < lambda) for W = x S - Z, S = sqrt(chi^2_v / v): the power is the
    distribution function, in lambda, of one fixed law W with mean x c4(v) and variance
    1 + x^2 (1 - c4(v)^2). The solve starts at its normal quantile and takes secant steps on
    g = probit(power(lambda)) - z_power, which is linear in lambda where W is normal (the
    first step uses that normal slope). Every evaluation narrows the bracket [lo, hi] of
    points known on either side of the root; a step that would leave it, or a bracket that
    has not halved in _STALL evaluations, bisects it instead, and while one end is still
    open a step is capped at a width that doubles each time, so the solve cannot diverge.
    Elements that have converged drop out of later evaluations. A power outside (0, 1) has
    no root: NaN."""
    if not 0 < power < 1:
        return np.full(x.shape, np.nan)
    zp = float(norm_ppf(power))
    k = np.asarray(c4(v))
    sd = np.sqrt(1.0 + x * x * np.maximum(1.0 - k * k, 0.0))
    lam = x * k + zp * sd
    lo, hi = np.full(x.shape, -np.inf), np.full(x.shape, np.inf)
    prev, gprev = np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    width, spans = sd.copy(), np.full((_STALL, x.size), np.inf)
    idx = np.arange(x.size)
    for it in range(_STEPS):
        if not idx.size:
            break
        at = lam[idx]
        g = np.asarray(norm_ppf(nct_sf(x[idx], v[idx], at))) - zp
        below = g < 0  # a NaN counts as above, as a bisection would take it
        a, b = np.where(below, at, lo[idx]), np.where(below, hi[idx], at)
        lo[idx], hi[idx] = a, b
        with np.errstate(all="ignore"):  # no previous point (NaN), or g infinite
            slope = (g - gprev[idx]) / (at - prev[idx])
            step = -g * np.where(np.isfinite(slope) & (slope > 0), 1.0 / slope, sd[idx])
        w, span = width[idx], b - a
        cap = ~np.isfinite(span) & (np.abs(step) > w)
        step = np.where(cap, np.copysign(w, step), step)
        w = np.where(cap, 2 * w, w)
        tol = _XTOL * np.maximum(np.abs(at), 1.0)
        small, shut = (g == 0) | (np.abs(step) <= tol), span <= tol
        new = at + step
        inside = (new > a) & (new < b) & ~(span > 0.5 * spans[it % _STALL, idx])
        spans[it % _STALL, idx] = span
        out = np.where(np.isfinite(span), 0.5 * (a + b), np.where(below, a + w, b - w))
        width[idx] = np.where(inside | small, w, 2 * w)
        new = np.where(small | inside, new, out)
        lam[idx] = np.where(shut & ~small, 0.5 * (a + b), new)
        prev[idx], gprev[idx] = at, g
        idx = idx[~(small | shut)]
    return lam


def c4(df: Any) -> Any:
    """E[s] / sigma for a variance estimate on `df` degrees of freedom (s^2 df / sigma^2 ~
    chi^2_df): sqrt(2 / df) Gamma((df + 1) / 2) / Gamma(df / 2); 1 at df = inf, NaN at
    df <= 0. A plug-in SE is on average c4 times the true one (0.940 at df 4, 0.973 at 9).
    Elementwise on arrays."""
    from scipy import special
    nu = np.asarray(df, dtype=np.float64)
    fin = np.isfinite(nu) & (nu > 0)
    v = np.where(fin, nu, 1.0)
    out = np.sqrt(2.0 / v) * np.exp(special.gammaln((v + 1) / 2) - special.gammaln(v / 2))
    return np.where(fin, out, np.where(nu > 0, 1.0, np.nan))[()]


def minimum_detectable_effect(
    se: float, *, alpha: float = 0.05, power: float = 0.80, df: float = math.inf
) -> float:
    """The one-sided effect a t test with standard error `se` on `df` degrees of freedom
    finds with `power`: lambda(t_{1-alpha,df}) * se with the exact noncentral-t lambda of
    `t_test_effect` (STATS.md's (t_{1-alpha,df} + t_{power,df}) SE is within 1% of it for
    df >= 9; with df = inf both are (z_{1-alpha} + z_power) SE). `se` is taken as the true
    SE: a planner's assumed sd, not an estimate (`bound_mde` corrects an estimated one)."""
    return float(t_test_effect(t_quantile(1 - alpha, df), df, power)) * se


def bound_mde(delta: Any, lower: Any, se: Any, df: Any, power: float) -> Any:
    """MDE of a decision made with the lower bound `lower` on an estimate with standard error
    `se` estimated on `df` degrees of freedom: lambda(c) SE / c4(df), c = (delta - L) / SE.

    c is the bound's own critical value (t_{1-alpha,df} for a t bound; for a resampling bound
    its actual distance in SEs, so the power at delta = margin + MDE stays near `power` when
    the resampling law is skewed) and lambda(c) the exact noncentral-t effect of
    `t_test_effect`. Dividing by c4(df) makes the MDE an unbiased estimate of the design's: a
    plug-in SE is on average c4 times the true one, so with lambda SE alone a t test on 4 df
    had power 0.765 at the mean reported MDE where 0.80 was asked (tests/core/
    test_stats_power.py; the calibration grid gained 7 cells within its power bar). With
    SE = 0 (a constant difference) the MDE is delta - L. Works elementwise on arrays; an
    unbounded L gives an infinite MDE. `df` may be an array (one per sample) too.
    """
    dist = np.asarray(delta, dtype=np.float64) - np.asarray(lower, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    pos = se > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = np.where(pos, dist / np.where(pos, se, 1.0), 0.0)
    lam = np.asarray(t_test_effect(crit, df, power))
    with np.errstate(invalid="ignore"):  # inf * 0 where se = 0 is replaced below
        mde = np.where(pos, lam * se / c4(df), dist)
    return mde[()]


def required_n(
    sd: float, delta: float, *, alpha: float = 0.05, power: float = 0.80, deff: float = 1.0
) -> int:
    """Paired items needed to detect `delta` one-sided: (z_{1-a} + z_pow)^2 sd^2 DEFF / delta^2.

    A `UsageError` (a ValueError) when delta is 0 or not finite, or the N is not a finite
    number (an effect vanishingly small against sd: 1e-300 used to divide by zero).
    """
    if delta == 0 or not math.isfinite(delta):
        raise UsageError(f"delta must be a non-zero finite number (got {delta!r})")
    z = t_quantile(1 - alpha, math.inf) + t_quantile(power, math.inf)
    try:
        need = z * z * deff * (sd / delta) ** 2
    except OverflowError:
        need = math.inf
    if not math.isfinite(need):
        raise UsageError(f"delta {delta:g} with sd {sd:g}: the required N is not a finite "
                         "number; give a realistic effect size")
    if need == 0 and sd != 0:  # (sd / delta)^2 underflowed (delta 1e200): one item, not 0
        return 1
    return math.ceil(need)


def icc_anova(d: np.ndarray, codes: np.ndarray) -> float:
    """One-way ANOVA estimator of the intra-cluster correlation of d (clipped at 0)."""
    G = int(codes.max()) + 1
    N = len(d)
    if G < 2 or N <= G:
        return 0.0
    n = np.bincount(codes, minlength=G).astype(np.float64)
    means = np.bincount(codes, weights=d, minlength=G) / n
    grand = d.mean()
    msb = float(np.sum(n * (means - grand) ** 2) / (G - 1))
    msw = float(np.sum((d - means[codes]) ** 2) / (N - G))
    n0 = (N - float(np.sum(n * n)) / N) / (G - 1)
    denom = msb + (n0 - 1) * msw
    return max(0.0, (msb - msw) / denom) if denom > 0 else 0.0


def design_effect(n: np.ndarray, icc: float) -> float:
    """DEFF = 1 + ((1 + CV^2) m - 1) rho with m the mean cluster size, CV its variation."""
    m = float(n.mean())
    cv2 = float(n.var() / (m * m)) if m > 0 else 0.0
    return 1.0 + ((1.0 + cv2) * m - 1.0) * icc


def extra_items_needed(n: int, mde: float, target: float) -> int | None:
    """Items to add so the MDE shrinks to `target` (SE ~ 1/sqrt(N) at the current variance).

    None when no finite number does: an unbounded MDE, or a target so small against it
    (a margin of 1e-302) that the count overflows float64 (it raised OverflowError)."""
    if target <= 0 or not math.isfinite(mde):
        return None
    if mde <= target:
        return 0
    need = n * (mde / target) ** 2 if mde / target < 1e150 else math.inf
    return math.ceil(need) - n if math.isfinite(need) else None


@dataclass(frozen=True)
class PowerResult:
    """A power calculation: the MDE at `n` items and/or the items needed for `delta`."""

    sd: float
    alpha: float
    power: float
    allow_alpha: float
    design_effect: float
    n: int | None
    mde: float | None
    delta: float | None
    required_n: int | None
    df: float | None
    note: str | None = None
    # clusters the MDE was planned in (None: unclustered); the df of a pilot's sd estimate
    clusters: int | None = None
    sd_df: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}


def power_analysis(
    sd: float, *, n: int | None = None, delta: float | None = None, alpha: float = 0.05,
    power: float = 0.80, icc: float = 0.0, cluster_size: float = 1.0, cv: float = 0.0,
    clusters: int | None = None, allow_alpha: float | None = None, sd_df: float | None = None,
) -> PowerResult:
    """MDE for `n` paired items and/or the N that detects `delta` (one-sided, STATS.md).

    DEFF = 1 + ((1 + cv^2) m - 1) icc with m the mean cluster size. With `clusters` (default
    n / m when m > 1) the MDE uses t quantiles on clusters - 1 df, else on n - 1 (the gate's
    paired t; one item has no MDE). The required N uses normal quantiles (STATS.md). Both
    are computed at the one-sided level `allow_alpha` (default `alpha`): the level of the
    bound the gate's ALLOW compares (`stats.auto.allow_alpha`: alpha/2 for clustered designs
    under `auto`).

    Fewer than MIN_CLUSTERS clusters (5) cannot be decided (auto answers INCONCLUSIVE), so
    their MDE is None and `note` says why; a required N that spans fewer clusters of size m
    than that (N / m < 5) keeps its value and gets the same `note`.

    `sd` is taken as the true sd unless `sd_df` says it is an estimate on that many degrees of
    freedom (a pilot run: its items - 1, or its clusters - 1): the MDE is then divided by
    c4(sd_df), as the gate's `bound_mde` divides its own, so a pilot plans the MDE the gate
    reports on the same data. The required N needs no such correction (the sample variance
    is unbiased for sd^2, and N is proportional to it).
    """
    if not (sd > 0 and math.isfinite(sd)):
        raise ValueError("sd must be a positive finite number")
    if n is None and delta is None:
        raise ValueError("give n (for the MDE) or delta (for the required N), or both")
    if n is not None and n < 1:
        raise ValueError(f"n must be at least 1 paired item (got {n})")
    level = alpha if allow_alpha is None else allow_alpha
    if not 0 < level <= alpha:
        raise ValueError(f"allow_alpha must be in (0, alpha], got {level!r}")
    deff = 1.0 + ((1.0 + cv * cv) * cluster_size - 1.0) * icc
    if clusters is None and n is not None and cluster_size > 1:
        clusters = max(1, round(n / cluster_size))  # n items in clusters of m, as the CLI plans
    # the gate's paired t on n items has n - 1 df: z quantiles promised 10 items an MDE 8%
    # smaller than the gate reports for them (0.393 vs 0.430 at sd 0.5)
    df = float(clusters - 1) if clusters is not None else (
        math.inf if n is None else float(n - 1))
    mde, notes = None, []
    if n is not None and clusters is not None and clusters < MIN_CLUSTERS:
        notes.append(f"{counted(clusters, 'cluster')}: the gate answers INCONCLUSIVE below "
                     f"{MIN_CLUSTERS} clusters whatever the effect, so no effect is detectable")
    elif n == 1:
        notes.append("1 paired item: no interval can be estimated from one difference (the "
                     "gate refuses it), so no effect is detectable")
    elif n is not None:
        mde = minimum_detectable_effect(sd * math.sqrt(deff / n), alpha=level, power=power,
                                        df=df) / (1.0 if sd_df is None else float(c4(sd_df)))
    need = None if delta is None else required_n(sd, delta, alpha=level, power=power, deff=deff)
    if need is not None and cluster_size > 1 and need / cluster_size < MIN_CLUSTERS:
        notes.append(f"{need} items are {need / cluster_size:.1f} clusters of "
                     f"{cluster_size:g}: the gate needs at least {MIN_CLUSTERS} clusters, "
                     f"about {math.ceil(MIN_CLUSTERS * cluster_size)} items")
    return PowerResult(sd=sd, alpha=alpha, power=power, allow_alpha=level,
                       design_effect=deff, n=n, mde=mde, delta=delta, required_n=need,
                       df=None if math.isinf(df) else df, note="; ".join(notes) or None,
                       clusters=clusters, sd_df=sd_df)
