"""`fixed`: the one number format of reasons, notes and renderers; `counted`: a count and
its noun ("1 error", "2 errors"), the one way findings, reports and messages say how many.

A module of its own, importing nothing of evalsig: `policy` (verdict reasons), `gate` and
`sequential` (notes, reasons) and `render` (tables, interval labels) all format numbers with
it, and the renderers need not import the policy module to do so.
"""

from __future__ import annotations

import math

__all__ = ["counted", "digits_apart", "fixed", "plural"]


def fixed(x: float, sign: bool = False, digits: int = 4) -> str:
    """`x` with `digits` decimals, or in `g` notation from 1e6 up: a margin of 1e308 printed
    as a 309-digit number in every reason, table and interval label. A non-zero `x` that
    rounds to zero takes two significant digits ("+2e-05"): an ALLOW read "L = +0.0000 > 0"
    and its interval "[+0.0000, +inf]"."""
    spec = "+" if sign else ""
    if math.isfinite(x) and abs(x) >= 1e6:
        return f"{x:{spec}.{digits}g}"
    text = f"{x:{spec}.{digits}f}"
    if x != 0 and math.isfinite(x) and not any(ch in "123456789" for ch in text):
        return f"{x:{spec}.2g}"
    return text


def digits_apart(x: float, ref: float, digits: int = 4) -> int:
    """The decimals (from `digits` on) at which `fixed` tells `x` from the `ref` a reason
    compares it with: a non-inferiority ALLOW read "L = -0.0500 > -0.0500" (L = -0.049996)."""
    if x == ref:
        return digits
    for d in range(digits, 17):
        if fixed(x, False, d) != fixed(ref, False, d):
            return d
    return 17


def plural(n: int, singular: str, plural: str | None = None) -> str:
    """`singular` when `n` is 1, else `plural` (default `singular` + "s"); a verb agrees too:
    `plural(n, "is", "are")`."""
    return singular if n == 1 else (singular + "s" if plural is None else plural)


def counted(n: int, singular: str, plural_form: str | None = None) -> str:
    """`n` and its noun phrase: `counted(1, "error")` is "1 error", `counted(2, "error")`
    "2 errors"; the phrase may carry its verb: `counted(n, "record was", "records were")`."""
    return f"{n} {plural(n, singular, plural_form)}"
