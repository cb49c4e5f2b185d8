"""Number formatting, terminal styling and the one-line interval drawing used by the templates.

Pure functions of their arguments: whether to colour is decided by the CLI (it alone looks at
the terminal and `NO_COLOR`) and passed in as a `Style`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..numfmt import digits_apart, fixed
from ..policy import Mode
from ..report import decision_lower

__all__ = [
    "Style", "axis_label", "axis_unit", "decision_bound", "decision_lower",
    "interval", "interval_line", "margin_of", "num", "pct", "pval", "signed",
]


@dataclass(frozen=True)
class Style:
    """How terminal text looks: ANSI colour on or off, Unicode or plain ASCII drawing."""

    color: bool = False
    unicode: bool = True

    def paint(self, text: str, *codes: str) -> str:
        if not self.color or not codes:
            return text
        return "".join(_ANSI[c] for c in codes) + text + _ANSI["reset"]


_ANSI = {
    "reset": "\x1b[0m", "bold": "\x1b[1m", "dim": "\x1b[2m", "red": "\x1b[31m",
    "green": "\x1b[32m", "yellow": "\x1b[33m", "cyan": "\x1b[36m",
}
VERDICT_COLOR = {"ALLOW": "green", "REJECT": "red", "INCONCLUSIVE": "yellow"}
SEVERITY_COLOR = {"error": "red", "warning": "yellow", "info": "dim"}


def signed(x: float | None, digits: int = 4, *, none: str = "n/a") -> str:
    return none if x is None or not math.isfinite(x) else fixed(x, True, digits)


def num(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None or not math.isfinite(x) else fixed(x, False, digits)


def pval(p: float | None, resamples: int | None = None, alpha: float | None = None) -> str:
    """A p-value; one that is exactly 0 from `resamples` random draws is only known to be
    below 1/(resamples + 1) (Phipson & Smyth 2010): with 99 draws "< 0.0100", not "< 0.0001".
    Beside a report's `alpha` it takes the decimals that tell the two apart: p = 0.04996
    read "0.0500" next to the ALLOW it supported at alpha 0.05."""
    if p is None or not math.isfinite(p):
        return "n/a"
    if p == 0 and resamples:
        return f"< {max(1e-4, 1 / (resamples + 1)):.4f}"
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.{4 if alpha is None else digits_apart(p, alpha)}f}"


def interval(iv: Sequence[float | None]) -> str:
    lo, hi = iv
    return f"[{signed(lo, none='-inf')}, {signed(hi, none='+inf')}]"


def pct(x: float) -> str:
    return f"{100 * x:g}%"


def decision_bound(report: Any) -> str | None:
    """What ALLOW compared, when it is not the headline CI's lower end: `auto`'s bound at its
    stricter level (`allow_alpha`, floor- and skewness-adjusted), with the level and the test,
    e.g. "L = -0.5210 at one-sided 97.5% (ALLOW needs L > -0.5000)", so a reader can check
    the verdict from the numbers shown (a CI [-0.4433, +inf] against a margin of -0.5 was
    INCONCLUSIVE with the explanation only in the reason). None when ALLOW compared the CI's
    own lower end. Templates print it as "decision bound <this>" next to the CI."""
    c = report.comparison
    level = getattr(c, "allow_alpha", None)
    lower = getattr(c, "allow_lower", None)
    if level is None or lower == c.ci.lower:
        return None
    superiority = report.mode is Mode.SUPERIORITY
    threshold = 0.0 if superiority else float(c.theta0) + 0.0  # + 0.0: never -0.0000
    at = -math.inf if lower is None else lower
    d = digits_apart(at, threshold)
    need = "L > 0" if superiority else f"L > {fixed(threshold, True, d)}"  # as the reason
    if superiority and report.min_delta > 0:
        need += f" and delta >= min_delta {fixed(report.min_delta)}"
    return (f"L = {signed(lower, d, none='-inf')} at one-sided {pct(1 - level)} "
            f"(ALLOW needs {need})")


def margin_of(report: Any) -> float:
    """The value a gate compares the interval with: min_delta for superiority, else theta0."""
    if report.mode is Mode.SUPERIORITY:
        return float(report.min_delta)
    return float(report.comparison.theta0)


def axis_unit(values: Sequence[float]) -> float:
    """The unit an axis through `values` is laid out in: 1, or from 1e300 on the power of ten
    of the largest |value|, so that a span padded by a tenth of itself stays finite (a margin
    of 1.7e308 made it inf and every position NaN). A power of ten keeps ticks round."""
    top = max((abs(v) for v in values), default=0.0)
    return 1.0 if top < 1e300 else 10.0 ** math.floor(math.log10(top))


def axis_label(v: float, unit: float) -> float:
    """`v` (in `unit`s) as a number, held at the float range (a padded axis end passes it)."""
    lim = sys.float_info.max / unit
    return min(max(v, -lim), lim) * unit


# Glyphs of the interval line: axis, interval body, ends (closed / unbounded), delta, margin, 0.
_GLYPHS = {
    True: {"axis": "·", "bar": "━", "lo": "┣", "hi": "┫", "lo_inf": "◀", "hi_inf": "▶",
           "delta": "●", "margin": "┃", "zero": "0"},
    False: {"axis": ".", "bar": "=", "lo": "[", "hi": "]", "lo_inf": "<", "hi_inf": ">",
            "delta": "o", "margin": "|", "zero": "0"},
}


def interval_line(
    lower: float | None, upper: float | None, delta: float, margin: float | None, *,
    width: int = 41, unicode: bool = True,
) -> str:
    """Draw [lower, upper], delta, the margin and zero on one line of `width` cells.

    None (or an infinite value) marks an unbounded end, drawn as an arrow at the edge. Each
    value is placed by rounding onto the cells; when two fall in one cell the later of zero,
    ends, margin, delta wins (delta is never hidden). The axis labels give the drawn range.
    """
    g = _GLYPHS[unicode]
    lo_v = lower if lower is not None and math.isfinite(lower) else None
    hi_v = upper if upper is not None and math.isfinite(upper) else None
    points = [v for v in (lo_v, hi_v, delta, margin, 0.0) if v is not None and math.isfinite(v)]
    unit = axis_unit(points)
    a, b = min(points) / unit, max(points) / unit
    span = b - a if b > a else max(abs(a), 0.01)
    a, b = a - 0.1 * span, b + 0.1 * span

    def cell(v: float) -> int:
        return min(width - 1, max(0, round((v / unit - a) / (b - a) * (width - 1))))

    cells = [g["axis"]] * width
    i0 = 0 if lo_v is None else cell(lo_v)
    i1 = width - 1 if hi_v is None else cell(hi_v)
    for i in range(i0, i1 + 1):
        cells[i] = g["bar"]
    cells[cell(0.0)] = g["zero"]
    cells[i0] = g["lo_inf"] if lo_v is None else g["lo"]
    cells[i1] = g["hi_inf"] if hi_v is None else g["hi"]
    if margin is not None and math.isfinite(margin):
        cells[cell(margin)] = g["margin"]
    cells[cell(delta)] = g["delta"]
    return f"{fixed(axis_label(a, unit), True, 3)} {''.join(cells)} " \
           f"{fixed(axis_label(b, unit), True, 3)}"


def legend(unicode: bool = True, bounds: str = "one-sided bounds L..U", *,
           margin: bool = True) -> str:
    """The key of `interval_line`; `margin` False for a line drawn without one (compare)."""
    g = _GLYPHS[unicode]
    mark = f"{g['margin']} margin  " if margin else ""
    return (f"{g['delta']} delta  {g['lo']}{g['bar']}{g['hi']} {bounds}  "
            f"{mark}{g['zero']} zero  {g['lo_inf']}{g['hi_inf']} unbounded")
