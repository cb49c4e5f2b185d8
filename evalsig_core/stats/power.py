"""Power: minimum detectable effect, required N, design effect (STATS.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from ..numfmt import counted
from ._dist import norm_ppf, t_ppf
from .auto import MIN_CLUSTERS

__all__ = ["PowerResult", "bound_mde", "design_effect", "extra_items_needed", "icc_anova",
           "minimum_detectable_effect", "power_analysis", "required_n"]


def _q(p: float, df: float) -> float:
    return float(norm_ppf(p) if math.isinf(df) else t_ppf(p, df))


def minimum_detectable_effect(
    se: float, *, alpha: float = 0.05, power: float = 0.80, df: float = math.inf
) -> float:
    """MDE = (t_{1-alpha,df} + t_{power,df}) * SE: the one-sided effect found with `power`."""
    return (_q(1 - alpha, df) + _q(power, df)) * se


def bound_mde(delta: Any, lower: Any, se: Any, df: float, power: float) -> Any:
    """MDE of a decision made with the lower bound `lower`: (delta - L) + t_{power,df} SE.

    For a t bound delta - L = t_{1-alpha,df} SE and this is `minimum_detectable_effect`; for a
    resampling bound it uses the bound's actual distance, so the power of the decision at
    delta = margin + MDE stays near `power` when the resampling law is skewed (calibration).
    Works elementwise on arrays; an unbounded L gives an infinite MDE.
    """
    return (np.asarray(delta) - np.asarray(lower)) + _q(power, df) * np.asarray(se)


def required_n(
    sd: float, delta: float, *, alpha: float = 0.05, power: float = 0.80, deff: float = 1.0
) -> int:
    """Paired items needed to detect `delta` one-sided: (z_{1-a} + z_pow)^2 sd^2 DEFF / delta^2.

    A `UsageError` (a ValueError) when delta is 0 or not finite, or the N is not a finite
    number (an effect vanishingly small against sd: 1e-300 used to divide by zero).
    """
    if delta == 0 or not math.isfinite(delta):
        raise UsageError(f"delta must be a non-zero finite number (got {delta!r})")
    z = _q(1 - alpha, math.inf) + _q(power, math.inf)
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

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}


def power_analysis(
    sd: float, *, n: int | None = None, delta: float | None = None, alpha: float = 0.05,
    power: float = 0.80, icc: float = 0.0, cluster_size: float = 1.0, cv: float = 0.0,
    clusters: int | None = None, allow_alpha: float | None = None,
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
                                        df=df)
    need = None if delta is None else required_n(sd, delta, alpha=level, power=power, deff=deff)
    if need is not None and cluster_size > 1 and need / cluster_size < MIN_CLUSTERS:
        notes.append(f"{need} items are {need / cluster_size:.1f} clusters of "
                     f"{cluster_size:g}: the gate needs at least {MIN_CLUSTERS} clusters, "
                     f"about {math.ceil(MIN_CLUSTERS * cluster_size)} items")
    return PowerResult(sd=sd, alpha=alpha, power=power, allow_alpha=level,
                       design_effect=deff, n=n, mde=mde, delta=delta, required_n=need,
                       df=None if math.isinf(df) else df, note="; ".join(notes) or None)
