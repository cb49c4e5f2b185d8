"""Bounds when every paired difference (or every cluster mean) is the same value.

Then SE = 0 and every t or resampling bound collapses onto delta: identical runs would claim
to detect an effect of 0, and a constant offset would be "certain". What the sample does say is
distribution-free: if all U independent units (items, or clusters with a cluster key) show the
same difference c, the share p of units in the population whose difference is not c satisfies
(1 - p)^U >= alpha at confidence 1 - alpha (the "rule of three": p <= -ln(alpha)/U, about 3/U
at 95%), so p <= p_alpha = 1 - alpha^(1/U). Differences lie in [-w, w] with w the width of the
score scale, so the population mean lies within
    [c - p_alpha (c + w), c + p_alpha (w - c)].
These are exact one-sided (1 - alpha) bounds; the two-sided interval uses alpha/2 per side.
Without a known width (scores outside [0, 1]) there is no such bound: the observed span is no
substitute (50 vs 52 on every item would read "differences lie within +-2" and ALLOW, while the
same runs as 0.50 vs 0.52 were INCONCLUSIVE), so the interval is unbounded.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ._base import Inference

__all__ = ["degenerate_bounds", "with_degenerate_bounds"]


def _p(alpha: float, units: int) -> float:
    return 1.0 - alpha ** (1.0 / units)


def degenerate_bounds(c: float, units: int, alpha: float, width: float) -> tuple[float, float]:
    """One-sided (1 - alpha) lower and upper bounds of the mean when all `units` show `c`."""
    p = _p(alpha, units)
    return c - p * (c + width), c + p * (width - c)


def with_degenerate_bounds(inf: Inference, *, units: int, width: float | None,
                           alpha_allow: float | None, clustered: bool = False) -> Inference:
    """`inf` (SE = 0) with the distribution-free bounds of the module docstring; `width`
    None (the scale's range is unknown) gives unbounded ones."""
    c, a = inf.delta, inf.alpha
    if width is None:
        note = (f"every paired difference equals {c:+.4f} (SE = 0) but the scores are not "
                "within [0, 1]: without the scale's range there is no distribution-free bound, "
                "so the interval is unbounded (put the scores on [0, 1] to get one)")
        return replace(inf, lower=-math.inf, upper=math.inf, two_sided=(-math.inf, math.inf),
                       p_value=1.0, p_value_upper=1.0,
                       lower_allow=None if alpha_allow is None else -math.inf,
                       notes=(*inf.notes, note))
    lower, upper = degenerate_bounds(c, units, a, width)
    lo2, up2 = degenerate_bounds(c, units, a / 2, width)
    low_allow = None if alpha_allow is None else degenerate_bounds(c, units, alpha_allow,
                                                                   width)[0]
    # p-value of H0: delta <= theta0: the smallest alpha whose lower bound clears theta0
    # solves c - (1 - alpha^(1/U)) (c + w) = theta0, i.e. alpha = (1 - (c - theta0)/(c + w))^U.
    t0, w = inf.theta0, width

    def p_at(dist: float, span: float) -> float:
        if dist <= 0:
            return 1.0
        return float(max(0.0, 1.0 - dist / span) ** units) if span > 0 else 0.0

    unit = "cluster" if clustered else "item"
    note = (f"every {unit}'s mean difference equals {c:+.4f} (SE = 0): distribution-free "
            f"bounds from {units} {unit}s (at {1 - a:.0%}, at most {_p(a, units):.2%} of "
            f"{unit}s differ from it; differences lie within +-{w:g})")
    return replace(inf, lower=lower, upper=upper, two_sided=(lo2, up2),
                   p_value=p_at(c - t0, c + w), p_value_upper=p_at(t0 - c, w - c),
                   lower_allow=low_allow, notes=(*inf.notes, note))
