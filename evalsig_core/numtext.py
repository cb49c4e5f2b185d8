"""Item ids and cluster labels as text: the per-value rules and their vectorised forms.

`id_text` and `label_text` give the text a value pairs or clusters on (1.0 is "1", as 1 is),
`is_missing` the values that are absent. `id_array` and `cluster_labels` apply them to whole
columns, taking numpy where the column allows (`str_array`, `int_strings`, `number_labels`),
each equal to the per-value rule it replaces on a hot path (a test compares them). A value no
rule accepts is one E109 `InputError` line naming the file and the record (`shown_value`
spells the value). `run` converts 1M-record columns with them; the readers share them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from .errors import InputError

__all__ = ["ID_HINT", "LABEL_HINT", "MAX_EXACT_FLOAT", "NUL_HINT", "cluster_labels", "id_array",
           "id_text", "int_strings", "is_missing", "label_text", "number_labels", "refuse_nul",
           "shown_value", "str_array"]

_INT64_MAX = np.iinfo(np.int64).max
# The largest integer every float64 holds exactly: a float id beyond it may have been rounded.
MAX_EXACT_FLOAT = 2**53


def int_strings(a: np.ndarray) -> np.ndarray:
    """Integers as decimal strings, equal to `a.astype(str)` (several times faster for 1M ids).

    Non-negative values are written digit by digit into UCS-4 code points, left-aligned and
    NUL-padded, which is exactly numpy's `<U` layout; negative values take `astype`.
    """
    if a.size == 0 or a.min() < 0 or a.max() > _INT64_MAX:
        return a.astype(np.str_)  # uint64 above 2**63 - 1 would wrap in int64 (64-bit hashes)
    a = a.astype(np.int64, copy=False)
    width = len(str(int(a.max())))
    n = np.ones(len(a), dtype=np.int64)
    for p in range(1, width):
        n += a >= 10**p
    out = np.zeros((len(a), width), dtype=np.uint32)
    for length in range(1, width + 1):  # numbers of one digit count at a time
        rows = np.flatnonzero(n == length)
        if rows.size == 0:
            continue
        v = a[rows]
        block = np.empty((rows.size, length), dtype=np.uint32)
        for j in range(length - 1, -1, -1):
            block[:, j] = v % 10 + 48
            v = v // 10
        out[rows, :length] = block
    return out.view(f"<U{width}").reshape(len(a))


def number_labels(values: list[Any] | np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """`label_text` of a column of only integers, only floats or only booleans, and the
    mask of labels present (NaN is missing), without a Python call per label; None for an
    empty column or any other (mixed types, strings, integers beyond int64): the caller then
    takes the per-label rule. Integers are written in decimal, an integral float as its
    integer (1.0 and -0.0 are "1" and "0", 1e16 "10000000000000000"), any other float as
    `str` writes it in its own precision ("0.5", "inf"; a float32 0.1 "0.1"), booleans
    "true" / "false"."""
    if isinstance(values, np.ndarray):
        if values.size == 0 or values.ndim != 1 or values.dtype.kind not in "iufb":
            return None
        arr = values.astype(np.float64, copy=False) if values.dtype.kind == "f" else values
    else:
        if not values:
            return None
        types = set(map(type, values))  # one C pass; bool is not int here
        n = len(values)
        if types == {int}:
            try:
                arr = np.fromiter(values, dtype=np.int64, count=n)
            except OverflowError:  # beyond int64: the per-label rule (exact digits)
                return None
        elif types == {float}:
            arr = np.fromiter(values, dtype=np.float64, count=n)
        elif types == {bool}:
            arr = np.fromiter(values, dtype=bool, count=n)
        else:
            return None
    everywhere = np.ones(len(arr), dtype=bool)
    if arr.dtype.kind == "b":
        return np.where(arr, "true", "false"), everywhere
    if arr.dtype.kind in "iu":
        return int_strings(arr), everywhere
    # the fractions of a float32 column are written as float32 (as `label_text` writes its
    # values): through float64 a label 0.1 read "0.10000000149011612"
    return _float_labels(arr, values if isinstance(values, np.ndarray) else arr)


def _float_labels(arr: np.ndarray, written: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`arr` (float64) as labels; the non-integral ones as `written` (its own dtype) spells
    them."""
    present = ~np.isnan(arr)
    whole = present & (np.trunc(arr) == arr) & (np.abs(arr) < 2.0**63)  # inf: trunc(inf) == inf
    ints = int_strings(arr[whole].astype(np.int64))
    rest = np.flatnonzero(present & ~whole)  # fractions, +-inf, integral beyond int64
    if written.dtype != np.float64:
        texts = [str(int(v)) if float(v).is_integer() else str(v) for v in written[rest]]
    else:
        texts = [str(int(v)) if v.is_integer() else str(v) for v in arr[rest].tolist()]
    width = max(1, ints.itemsize // 4 if ints.size else 0, max(map(len, texts), default=0))
    out = np.zeros(len(arr), dtype=f"<U{width}")  # "" where the label is missing
    out[whole] = ints
    if texts:
        out[rest] = texts
    return out, present


def id_array(values: Sequence[Any] | np.ndarray, src: str | None, *,
             text: bool = False) -> np.ndarray:
    """Item ids as strings (`id_text`), for the readers and `EvalRun.from_arrays` alike: a
    missing (`is_missing`: None, empty, NaN, pandas NA), boolean, fractional or nested id, or
    one holding a NUL character (`str_array`), is one E109 line naming the file, the record
    and the fix. Ids that are all strings or all integers take numpy's conversion (one C
    pass); anything else is checked value by value (numpy's own conversion made [True, "a"]
    ["True", "a"] and [True, 2] ["1", "2"]). `text`: the caller saw that every value is a
    `str` (no type scan)."""
    arr = None
    if isinstance(values, np.ndarray) and values.dtype.kind in "Uiu":
        arr = values
        refuse_nul(arr, src)
    elif text:
        arr = str_array(values if isinstance(values, list) else list(values), src)
    else:
        items = values.tolist() if isinstance(values, np.ndarray) else values
        if not isinstance(items, list):
            items = list(items)
        if not items:
            return np.asarray([], dtype=np.str_)
        types = set(map(type, items))  # one C pass: [True, 2] must not reach numpy
        if types == {str}:
            arr = str_array(items, src)
        elif types == {str, int}:  # integers in decimal, as numpy writes them
            arr = str_array(list(map(str, items)), src)
        elif types == {int}:
            arr = np.asarray(items)
    if arr is not None and arr.dtype.kind == "U":
        if (arr == "").any():
            _no_id(int(np.flatnonzero(arr == "")[0]), src)
        return arr
    if arr is not None and arr.dtype.kind in "iu":
        return int_strings(arr)
    out = []
    for pos, v in enumerate(items):
        if is_missing(v):  # None, "", NaN (pandas' missing value), pandas NA
            _no_id(pos, src)
        try:
            out.append(id_text(v))
        except ValueError as exc:
            hint = ID_HINT + ("; a float id pairs only when it holds an integer (1.0 is 1)"
                              if type(v) is float else "")
            raise InputError(f"record #{pos + 1} has item_id {shown_value(v)}, which {exc}",
                             path=src, hint=hint, code="E109") from None
    return str_array(out, src)


def _no_id(pos: int, src: str | None) -> None:
    raise InputError(f"record #{pos + 1} has no item_id", path=src, code="E109",
                     hint="every record needs an item id to be paired")


def str_array(values: list[str], src: str | None = None, *, what: str = "item_id",
              ids: np.ndarray | None = None) -> np.ndarray:
    """A list of strings as a `<U` array, equal to `np.asarray(values)` (about half the time
    for 1M short strings: numpy's own inference costs more than the width scan and the copy).
    The caller has checked that every value is a `str`. A value holding a NUL character is
    one E109 line naming `src`, the record, its `what` ("item_id" or "cluster label") and,
    for a label, its item (`ids`): numpy drops a trailing NUL, so "a\\x00" was the id "a"
    (paired with another run's "a", or a duplicate of "a"), and a NUL is never real text.
    The check costs a few percent of the conversion: the lengths are one C pass (`bytes`,
    fewer instructions than the `max(map(len, ...))` it replaces) and their sum is compared
    with the array's count of code points that are not NUL."""
    try:  # one byte per length: a value of 256 characters or more takes the int64 pass
        lengths = np.frombuffer(bytes(map(len, values)), dtype=np.uint8)
    except ValueError:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    width = max(1, int(lengths.max(initial=0)))
    arr = np.fromiter(values, dtype=f"<U{width}", count=len(values))
    pos = _nul_row(arr, lengths)
    if pos is not None:
        _has_nul(values[pos], pos, src, what, ids)
    return arr


def refuse_nul(arr: np.ndarray, src: str | None = None, *, what: str = "item_id",
               ids: np.ndarray | None = None) -> None:
    """`str_array`'s E109 line for a NUL in an id or label column that came as a numpy `<U`
    array (`EvalRun.from_arrays`). numpy dropped the trailing NULs of such an array when it
    was built (np.array(["a\\x00"]) holds "a"): only the NULs inside a value are left to
    see."""
    if arr.dtype.kind == "U" and arr.ndim == 1:
        pos = _nul_row(arr, np.char.str_len(arr))
        if pos is not None:
            _has_nul(str(arr[pos]), pos, src, what, ids)


def _nul_row(arr: np.ndarray, lengths: np.ndarray) -> int | None:
    """The first row of a 1-d `<U` array whose value, `lengths[row]` long, holds a NUL: its
    non-NUL code points fall short of its length. One vectorised pass when there is none."""
    if arr.size == 0 or arr.itemsize == 0:
        return None
    codes = np.ascontiguousarray(arr).view(np.uint32)
    if np.count_nonzero(codes) == int(lengths.sum(dtype=np.int64)):
        return None
    short = np.count_nonzero(codes.reshape(len(arr), -1), axis=1) != lengths
    return int(np.flatnonzero(short)[0])


def _has_nul(value: str, pos: int, src: str | None, what: str,
             ids: np.ndarray | None) -> NoReturn:
    raise InputError(f"record #{pos + 1} has {what} {shown_value(value)}, which holds a NUL "
                     "character", path=src, item=None if ids is None else str(ids[pos]),
                     hint=NUL_HINT, code="E109")


NUL_HINT = ("ids and labels hold no NUL character (numpy drops a trailing one: 'a\\x00' would "
            "pair with 'a'); a NUL means a corrupted or binary export: re-export the run")


ID_HINT = "item ids must be strings or integers"


def id_text(value: Any) -> str:
    """An item id as the text runs are paired on, or ValueError saying why it is not one.

    Strings are kept as they are and integers are written in decimal. A float is an id only
    when it holds an integer exactly (below 2**53): 1.0 is "1", as the integer 1 is (the rule
    `label_text` applies to cluster labels), so a writer's 1.0 pairs with another's 1. A
    fraction, a larger float (maybe rounded), a boolean, a list or an object is refused: none
    would pair with what the other run names the same item."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        raise ValueError("is a boolean")
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if not np.isfinite(f):  # NaN is a missing id (`id_array` says so first): +-inf
            raise ValueError("is not a finite number")
        if not f.is_integer():
            raise ValueError("is a fraction")
        if abs(f) > MAX_EXACT_FLOAT:
            raise ValueError("is a float beyond 2**53 (it may have been rounded)")
        return str(int(f))
    if isinstance(value, list | tuple | dict | set):
        raise ValueError(f"is a {type(value).__name__}")
    return str(value)


def shown_value(value: Any) -> str:
    """A value for an error line, as JSON spells it (true, null, 1.5) and at most 40 chars."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def label_text(value: Any) -> str:
    """A cluster label as text, the same for the same value whatever the writer: the number
    1.0 is "1" as the number 1 is (a float column of labels disagreed with an integer one on
    every item, W204), and booleans are JSON's "true"/"false". A list, tuple, dict or set is
    a ValueError saying which (as in `id_text`): its `str()` depended on key order, so
    {"a": 1, "b": 2} and {"b": 2, "a": 1} were two clusters."""
    if type(value) is int:  # the usual non-string label: no isinstance chain
        return str(value)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, list | tuple | dict | set):
        raise ValueError(f"is a {type(value).__name__}")
    return str(value)


LABEL_HINT = "use a string or number as cluster label: export the label itself, e.g. a passage id"


def cluster_labels(values: Sequence[Any] | np.ndarray, arr: np.ndarray | None = None, *,
                   src: str | None = None,
                   ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels as strings (`label_text`) and the mask of records that have one: None,
    "", NaN or pandas NA is missing (an error when clustering), never one pseudo-cluster of
    the unlabelled records. `arr` is `values` as an array when the caller already inferred
    one; labels that already are strings, and columns of only integers, only floats or only
    booleans (`number_labels`), take no Python loop. A label `label_text` refuses, or one
    holding a NUL character (`str_array`), is one E109 line naming `src`, the record and its
    item (`ids`, when given)."""
    if arr is None and isinstance(values, np.ndarray):
        arr = values
        refuse_nul(arr, src, what="cluster label", ids=ids)
    if arr is not None and arr.dtype.kind == "U":
        return arr, arr != ""
    raw = values if isinstance(values, np.ndarray) else list(values)
    fast = number_labels(raw)  # all integers, all floats or all booleans: no loop
    if fast is not None:
        return fast
    raw = raw.tolist() if isinstance(raw, np.ndarray) else raw
    present = np.fromiter((not is_missing(v) for v in raw), dtype=bool, count=len(raw))
    try:
        labels = [label_text(v) if ok else ""
                  for v, ok in zip(raw, present.tolist(), strict=True)]
    except ValueError:
        _bad_label(raw, src, ids)
    return str_array(labels, src, what="cluster label", ids=ids), present


def _bad_label(raw: list[Any], src: str | None, ids: np.ndarray | None) -> NoReturn:
    for pos, v in enumerate(raw):
        try:
            label_text(v)
        except ValueError as exc:
            raise InputError(f"record #{pos + 1} has cluster label {shown_value(v)}, which {exc}",
                             path=src, item=None if ids is None else str(ids[pos]),
                             hint=LABEL_HINT, code="E109") from None
    raise AssertionError("label_text refused no label")  # pragma: no cover


def is_missing(value: Any) -> bool:
    """An absent id or label: None, "", a float NaN (pandas' missing value), pandas NA/NaT."""
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, float | np.floating):
        return bool(value != value)
    return type(value).__name__ in ("NAType", "NaTType")

