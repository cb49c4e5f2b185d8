"""`fixed`: the one number format of reasons, notes and renderers.

A module of its own, importing nothing of evalsig: `policy` (verdict reasons), `gate` and
`sequential` (notes, reasons) and `render` (tables, interval labels) all format numbers with
it, and the renderers need not import the policy module to do so.
"""

from __future__ import annotations

import math

__all__ = ["fixed"]


def fixed(x: float, sign: bool = False, digits: int = 4) -> str:
    """`x` with `digits` decimals, or in `g` notation from 1e6 up: a margin of 1e308 printed
    as a 309-digit number in every reason, table and interval label."""
    spec = "+" if sign else ""
    if math.isfinite(x) and abs(x) >= 1e6:
        return f"{x:{spec}.{digits}g}"
    return f"{x:{spec}.{digits}f}"
