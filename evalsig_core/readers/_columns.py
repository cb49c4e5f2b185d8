"""Raw per-record values collected by a reader, validated once into an `EvalRun`.

Readers append raw values (whatever the file holds) to plain lists in their parsing loop and
call `build_run`; the type checks then run over whole columns (a set of the types present),
so a 1M-line file costs one pass of cheap appends plus a few vectorised checks. Every bad value
is reported with its item and the fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from ..errors import InputError
from ..numtext import cluster_labels, id_array, shown_value, str_array
from ..run import EPOCH_RANGE_HINT, EvalRun, RunMeta
from ._io import E_BOUND, E_FIELD

_NUMBER_TYPES = {int, float, bool}
MAX_ERRORED_LISTED = 1000


@dataclass
class Columns:
    """Raw columns of one run; `clusters` is None when no cluster key was requested.
    `ids_text` / `labels_text`: set by a reader whose parsing loop saw that every value of
    the column is a `str` (`build_run` then skips its type scan); `epoch_ints`: the epochs as
    int64, set by a reader that saw only the integer 1 (or reads no epochs).
    `written_epoch(item, value)`: the epoch of `item` as the file writes it, for a reader whose
    parser rounded an integer beyond int64 to the float `value` (its error then quotes the
    file's digits)."""

    ids: list[Any] = field(default_factory=list)
    epochs: list[Any] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)
    clusters: list[Any] | None = None
    errored: list[str] = field(default_factory=list)
    n_errored: int = 0
    ids_text: bool = False
    labels_text: bool = False
    epoch_ints: np.ndarray | None = None
    written_epoch: Callable[[str, float], Any] | None = None

    def add_errored(self, item: Any) -> None:
        self.n_errored += 1
        if len(self.errored) < MAX_ERRORED_LISTED:
            self.errored.append(str(item))


def _array(values: list[Any]) -> np.ndarray:
    """numpy's own type inference: one C pass; anything unusual comes back as dtype object."""
    try:
        arr = np.array(values)
    except (ValueError, OverflowError):  # ragged nested lists, huge integers
        return np.array(values, dtype=object)
    return arr if arr.ndim == 1 else np.array([*values, None], dtype=object)[:-1]


def score_array(scores: list[Any], ids: np.ndarray, src: str, metric: str) -> np.ndarray:
    """Scores as float64: numbers and booleans only. NaN/Infinity stay (the doctor reports them)."""
    arr = _array(scores) if scores else np.asarray([], dtype=np.float64)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False)
    for pos, v in enumerate(scores):
        if type(v) not in _NUMBER_TYPES:
            shown = "null" if v is None else f"{type(v).__name__} {str(v)[:40]!r}"
            raise InputError(
                f"score {metric!r} is {shown}, not a number", path=src,
                item=str(ids[pos]), hint="scores must be numbers or booleans (true/false)",
                code=E_FIELD,
            )
    try:
        return np.asarray([float(v) for v in scores], dtype=np.float64)  # huge integers
    except OverflowError:  # an integer beyond float64 (10**400) was "internal error" (70)
        pos = next(i for i, v in enumerate(scores) if type(v) is int and abs(v) > 2**1023)
        raise InputError(
            f"score {metric!r} is an integer of {len(str(abs(scores[pos])))} digits, beyond "
            "float64", path=src, item=str(ids[pos]),
            hint="rescale the scores (the doctor takes |score| up to 1e50)", code="E115",
        ) from None


def epoch_array(epochs: list[Any] | np.ndarray, ids: np.ndarray, src: str, *, minimum: int = 0,
                written: Callable[[str, float], Any] | None = None) -> np.ndarray:
    """Epochs as int64: integers of at least `minimum` (0 or 1, the format's convention);
    a boolean, a float or anything else is an error naming the item and the value, and so is
    an integer beyond int64 (numpy's uint64 inference had cast 2**64 - 1 to the epoch -1).
    `written` (`Columns.written_epoch`) gives the digits of such an integer that the parser
    turned into a float. An int64 array (`Columns.epoch_ints`) is only checked against
    `minimum`."""
    if isinstance(epochs, np.ndarray) and epochs.dtype == np.int64:
        arr = epochs
    elif not len(epochs):
        return np.asarray([], dtype=np.int64)
    elif set(map(type, epochs)) == {int}:  # [True, 2] must not reach numpy (it reads 1, 2)
        try:  # no type inference: a third of np.asarray's time
            arr = np.fromiter(epochs, dtype=np.int64, count=len(epochs))
        except OverflowError:  # beyond int64
            pos = next(i for i, v in enumerate(epochs) if not -2**63 <= v < 2**63)
            _out_of_range(epochs[pos], str(ids[pos]), src)
    else:
        _not_integers(epochs, ids, src, written)
    low = arr < minimum
    if not low.any():
        return arr
    pos = int(np.flatnonzero(low)[0])
    raise InputError(
        f"epoch is {epochs[pos]}; this format counts epochs from {minimum}", path=src,
        item=str(ids[pos]), hint=f"epochs are integers from {minimum}; re-export the run",
        code=E_FIELD)


def _not_integers(epochs: list[Any] | np.ndarray, ids: np.ndarray, src: str,
                  written: Callable[[str, float], Any] | None) -> NoReturn:
    """The error for the first epoch that is not an integer within int64."""
    for pos, v in enumerate(epochs):
        if type(v) is float and v.is_integer() and abs(v) >= 2**63:
            item = str(ids[pos])  # orjson reads an integer >= 2**64 as float
            _out_of_range(v if written is None else written(item, v), item, src)
        if type(v) is not int:
            raise InputError(
                f"epoch is {shown_value(v)}, not an integer", path=src, item=str(ids[pos]),
                hint="epochs are integers", code=E_FIELD,
            )
    raise AssertionError("an all-int column took the branch above")  # pragma: no cover


def _out_of_range(value: Any, item: str, src: str) -> NoReturn:
    raise InputError(f"epoch is {shown_value(value)}, out of range", path=src, item=item,
                     hint=EPOCH_RANGE_HINT, code=E_FIELD)


def cluster_arrays(clusters: list[Any], src: str, ids: np.ndarray, *,
                   text: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Labels as strings and a mask of records that have one (`numtext.cluster_labels`; an
    object or array label, or one holding a NUL character, is an E109 line naming `src` and
    the item of `ids`). `text`: the reader saw that every label is a `str`."""
    if text or (clusters and set(map(type, clusters)) == {str}):
        return cluster_labels(clusters, str_array(clusters, src, what="cluster label", ids=ids))
    # not numpy's inference: it wrote ["P1", 2.0, True] as "P1", "2.0", "True", where
    # `label_text` writes 2.0 as "2" (as an all-number column is) and True as "true"
    return cluster_labels(clusters, src=src, ids=ids)


def build_run(cols: Columns, meta: dict[str, Any], src: str, *,
              first_epoch: int = 0) -> EvalRun:
    """Validate the columns and wrap them in an `EvalRun` with `RunMeta(**meta)`;
    `first_epoch` is the format's first epoch number (an epoch below it is an error)."""
    try:
        return _build_run(cols, meta, src, first_epoch)
    except RecursionError:  # str() of an absurdly nested id, label or config value
        raise InputError("a value is nested too deeply", path=src,
                         hint="this is not an eval log", code=E_BOUND) from None


def _build_run(cols: Columns, meta: dict[str, Any], src: str, first_epoch: int) -> EvalRun:
    ids = id_array(cols.ids, src, text=cols.ids_text)
    scores = score_array(cols.scores, ids, src, str(meta.get("metric")))
    epochs = epoch_array(cols.epochs if cols.epoch_ints is None else cols.epoch_ints, ids, src,
                         minimum=first_epoch, written=cols.written_epoch)
    clusters = present = None
    if cols.clusters is not None:
        clusters, present = cluster_arrays(cols.clusters, src, ids, text=cols.labels_text)
    meta = {**meta, "n_errored": cols.n_errored, "errored_items": tuple(cols.errored)}
    meta["config"] = {str(k): str(v) for k, v in (meta.get("config") or {}).items()
                      if v is not None}
    return EvalRun(RunMeta(**meta), ids, epochs, scores, clusters, present)
