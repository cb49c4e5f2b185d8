"""Geometry of the HTML report's inline SVG plots (the template only draws what is here).

`forest` lays out one row per gate (delta, its one-sided bounds and the row's margin) on one
shared axis. `density` draws the distribution behind a comparison: the method's resampling
distribution when the report carries its percentiles, else the t (or normal) reference density
implied by delta, SE and df, and says which one it drew.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..stats._dist import norm_pdf, t_pdf
from ._format import axis_label, axis_unit

__all__ = ["Density", "Forest", "ForestRow", "density", "forest"]

WIDTH = 760
LABEL_W = 230
RIGHT_PAD = 24
ROW_H = 30
TOP = 34
PLOT_H = 170


@dataclass(frozen=True)
class ForestRow:
    """One row: a named comparison; `lower`/`upper` None = unbounded; `note` replaces the bar."""

    label: str
    delta: float | None
    lower: float | None
    upper: float | None
    margin: float | None
    verdict: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class DrawnRow:
    row: ForestRow
    y: float
    x_delta: float | None
    x_lo: float | None
    x_hi: float | None
    lo_open: bool
    hi_open: bool
    x_margin: float | None


@dataclass(frozen=True)
class Forest:
    width: int
    height: int
    x0: float
    x1: float
    x_zero: float
    ticks: list[Tick]
    rows: list[DrawnRow]


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def _ticks(a: float, b: float, n: int = 5) -> list[float]:
    raw = (b - a) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    first = math.ceil(a / step) * step
    return [round(first + k * step, 12) for k in range(int((b - first) / step) + 1)]


def _scale(values: Sequence[float], unit: float = 1.0) -> tuple[float, float]:
    """The padded axis [a, b] through `values`, in `unit`s (see `axis_unit`)."""
    a, b = min(values) / unit, max(values) / unit
    span = b - a if b > a else max(abs(a), 0.01)
    return a - 0.12 * span, b + 0.12 * span


def forest(rows: Sequence[ForestRow]) -> Forest:
    """Lay out rows on one axis that covers every finite bound, delta, margin and zero."""
    vals = [0.0] + [v for r in rows for v in (r.delta, r.lower, r.upper, r.margin) if _finite(v)]
    unit = axis_unit(vals)  # type: ignore[arg-type]
    a, b = _scale(vals, unit)  # type: ignore[arg-type]
    x0, x1 = float(LABEL_W), float(WIDTH - RIGHT_PAD)

    def x(v: float, unit: float = unit) -> float:
        return round(x0 + (v / unit - a) / (b - a) * (x1 - x0), 1)

    drawn = []
    for i, r in enumerate(rows):
        has = r.note is None and _finite(r.delta)
        drawn.append(DrawnRow(
            row=r, y=TOP + ROW_H * i + ROW_H / 2,
            x_delta=x(r.delta) if has else None,  # type: ignore[arg-type]
            x_lo=(x(r.lower) if _finite(r.lower) else x0) if has else None,  # type: ignore[arg-type]
            x_hi=(x(r.upper) if _finite(r.upper) else x1) if has else None,  # type: ignore[arg-type]
            lo_open=not _finite(r.lower), hi_open=not _finite(r.upper),
            x_margin=x(r.margin) if _finite(r.margin) else None,  # type: ignore[arg-type]
        ))
    ticks = [Tick(x(t, 1.0), f"{axis_label(t, unit):+g}" if t else "0") for t in _ticks(a, b)]
    return Forest(width=WIDTH, height=TOP + ROW_H * len(rows) + 26, x0=x0, x1=x1,
                  x_zero=x(0.0), ticks=ticks, rows=drawn)


@dataclass(frozen=True)
class Density:
    width: int
    height: int
    path: str
    x_delta: float
    x_margin: float | None
    x_zero: float | None
    ticks: list[Tick]
    caption: str
    source: str  # "resampling" or "reference"


def _density_from_percentiles(q: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Histogram density on `grid` cells from the percentiles 0..100 of a distribution."""
    cdf = np.interp(grid, q, np.linspace(0.0, 1.0, len(q)), left=0.0, right=1.0)
    mass = np.diff(cdf)
    return mass / np.diff(grid)


def density(delta: float, se: float, df: float | None, margin: float | None,
            percentiles: Sequence[float] | None = None, method: str = "") -> Density | None:
    """The distribution panel, or None when there is nothing to draw (SE 0 and no draws, or
    values near the float limit)."""
    q = np.asarray(percentiles, dtype=np.float64) if percentiles else None
    if q is not None and not (q.size >= 2 and np.all(np.isfinite(q)) and q[-1] > q[0]):
        q = None
    if q is None and not (math.isfinite(se) and se > 0):
        return None
    if q is not None:
        lo, hi = float(q[0]), float(q[-1])
    else:
        lo, hi = delta - 4.5 * se, delta + 4.5 * se
    pts = [lo, hi, delta]
    # A margin 100 widths of the distribution away would squash it into one pixel (and one
    # near 1e308 overflowed the axis into "Linf" SVG paths): the panel leaves it out then.
    if margin is not None and math.isfinite(margin) and (
            abs(margin - delta) <= 100 * (max(pts) - min(pts))):
        pts.append(margin)
    if axis_unit(pts) != 1.0:  # a distribution beside a value near 1e308: no drawable axis
        return None
    a, b = _scale(pts)
    # Percentiles resolve the shape coarsely (and discrete draws pile up): fewer, wider bins.
    grid = np.linspace(a, b, 61 if q is not None else 121)
    if q is not None:
        mid = 0.5 * (grid[1:] + grid[:-1])
        dens = _density_from_percentiles(q, grid)
        xs = mid
        # Wild bootstrap and sign-flip permutation draw under H0 (delta = theta0): a null
        # distribution; the other resampling methods draw around the estimate.
        kind = ("null distribution of delta* under H0" if any(k in method for k in (
            "wild", "permutation")) else "resampling distribution of delta*")
        caption = f"{kind} ({method}): histogram of its percentiles" if method else kind
        source = "resampling"
    else:
        xs = grid
        z = (grid - delta) / se
        if df is None or not math.isfinite(df):
            dens = norm_pdf(z) / se
            caption = "normal reference density of delta (mean delta, sd SE)"
        else:
            dens = t_pdf(z, df) / se
            caption = f"t reference density of delta (centre delta, scale SE, df {df:.1f})"
        caption += "; the method reports no resampling distribution"
        source = "reference"
    x0, x1, base, top = float(LABEL_W), float(WIDTH - RIGHT_PAD), PLOT_H - 24.0, 12.0
    peak = float(dens.max()) or 1.0

    def sx(v: float) -> float:
        return round(x0 + (v - a) / (b - a) * (x1 - x0), 1)

    coords = " ".join(f"L{sx(float(u))},{round(base - (base - top) * float(h) / peak, 1)}"
                      for u, h in zip(xs, dens, strict=True))
    path = f"M{sx(float(xs[0]))},{base} {coords} L{sx(float(xs[-1]))},{base} Z"
    return Density(
        width=WIDTH, height=PLOT_H, path=path, x_delta=sx(delta),
        x_margin=sx(margin) if _finite(margin) and a <= margin <= b else None,  # type: ignore
        x_zero=sx(0.0) if a <= 0.0 <= b else None,
        ticks=[Tick(sx(t), f"{t:+g}" if t else "0") for t in _ticks(a, b)],
        caption=caption, source=source,
    )
