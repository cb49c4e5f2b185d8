"""`EvalRun`: one model on one task, metadata in pydantic, item data in columnar numpy arrays.

No Python object per item: a run of 1M items is four arrays. Item ids and cluster labels are
compared as strings. Scores are kept exactly as read (a NaN stays a NaN) so that the doctor can
report it; `gate` refuses runs the doctor flags as errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .errors import InputError, UsageError
from .numfmt import counted
from .numtext import int_strings, number_labels

__all__ = ["EvalRun", "RunMeta", "cluster_key", "cluster_labels", "id_array", "id_text",
           "is_missing", "label_text", "missing_labels_error"]

# The largest integer every float64 holds exactly: a float id beyond it may have been rounded.
MAX_EXACT_FLOAT = 2**53


class RunMeta(BaseModel):
    """What is known about a run besides its item data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str | None = None
    model: str | None = None
    task: str | None = None
    metric: str | None = None
    harness: str | None = None
    harness_version: str | None = None
    source: str | None = None
    sha256: str | None = None
    format: str | None = None
    status: str = "success"
    failure_allowed: bool = Field(
        default=False, description="the caller accepted a failed run (--allow-failed-run)"
    )
    cluster_key: str | None = None
    cluster_source: str | None = Field(
        default=None, description="where cluster labels came from (metadata key or field)"
    )
    n_errored: int = 0
    errored_items: tuple[str, ...] = ()
    config: dict[str, str] = Field(default_factory=dict)
    unread_metadata: tuple[tuple[str, str], ...] = Field(
        default=(), description="(message, fix) of each file beside the run read for metadata "
        "only (lm-eval results_*.json, HELM run_spec.json) that exists but could not be read "
        "or parsed: the doctor reports it (W220)")


@dataclass(frozen=True, eq=False)
class EvalRun:
    """Columnar per-(item, epoch) scores of one run.

    Arrays all have one entry per (item, epoch) record: `item_ids` (str), `epochs` (int64),
    `scores` (float64) and optionally `clusters` (str) with `cluster_present` (bool) marking
    records whose cluster key was missing.
    """

    meta: RunMeta
    item_ids: np.ndarray
    epochs: np.ndarray
    scores: np.ndarray
    clusters: np.ndarray | None = None
    cluster_present: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        arrays = {"epochs": self.epochs, "scores": self.scores}
        if self.clusters is not None:
            arrays["clusters"] = self.clusters
            if self.cluster_present is None:
                object.__setattr__(self, "cluster_present", np.ones(n, dtype=bool))
        for name, arr in arrays.items():
            if len(arr) != n:
                raise InputError(
                    f"{name} has {counted(len(arr), 'entry', 'entries')} but item_ids has {n}",
                    path=self.meta.source,
                    hint="give one entry per (item, epoch) record in every array",
                )
        _refuse_surrogates(self)

    @classmethod
    def from_arrays(
        cls,
        item_ids: Sequence[Any] | np.ndarray,
        scores: Sequence[float] | np.ndarray,
        *,
        clusters: Sequence[Any] | np.ndarray | None = None,
        epochs: Sequence[int] | np.ndarray | None = None,
        **meta: Any,
    ) -> EvalRun:
        """Build a run in memory. Item ids and clusters are converted to strings.

        `clusters` entries that are None, "" or NaN (pandas' missing value) mark a missing
        cluster key (a doctor error), as they do in files: never one pseudo-cluster of the
        unlabelled items. A missing item id (None, "", NaN), an epoch that is not an integer or
        a cluster label that is a list, tuple, dict or set raises `InputError` (E109). A run
        built with `clusters` is compared by cluster (its `cluster_key` defaults to "cluster"),
        as a run read with a cluster key is. Keyword arguments fill `RunMeta` (model, task,
        metric, ...).
        """
        src = meta.get("source")
        ids = id_array(item_ids, src)
        try:
            sc = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                "scores are not all numbers", path=meta.get("source"),
                hint="pass numeric scores (booleans are accepted as 0/1)",
            ) from None
        ep = np.ones(len(ids), dtype=np.int64) if epochs is None else _epoch_array(epochs, src)
        cl = present = None
        if clusters is not None:
            cl, present = cluster_labels(clusters, src=src, ids=ids)
        if sc.ndim != 1:
            raise InputError("scores must be one-dimensional", path=meta.get("source"))
        meta.setdefault("metric", None)
        if cl is not None:
            meta.setdefault("cluster_key", "cluster")
        return cls(RunMeta(**meta), ids, ep, sc, cl, present)

    @property
    def n_records(self) -> int:
        return len(self.item_ids)

    def with_meta(self, **changes: Any) -> EvalRun:
        return EvalRun(
            self.meta.model_copy(update=changes),
            self.item_ids, self.epochs, self.scores, self.clusters, self.cluster_present,
        )


def _refuse_surrogates(run: EvalRun) -> None:
    """A lone UTF-16 surrogate (JSON's escape "\\ud800" alone, a non-UTF-8 file name) is half
    a character: no report holding it can be written as UTF-8, so every JSON report of such a
    run was an internal error (70) after the verdict. One vectorised pass over the id and
    label code points, and the metadata's few strings."""
    src = run.meta.source
    for what, arr in (("item_id", run.item_ids), ("cluster label", run.clusters)):
        if arr is None or arr.size == 0 or arr.dtype.kind != "U" or arr.dtype.itemsize == 0:
            continue
        codes = np.ascontiguousarray(arr).view(np.uint32).reshape(len(arr), -1)
        if codes.max() < 0xD800:  # the usual case (ASCII ids): one pass, no temporaries
            continue
        bad = ((codes >> 11) == 0xD800 >> 11).any(axis=1)  # 0xD800..0xDFFF
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(f"record #{pos + 1} has {what} {shown_value(str(arr[pos]))}, "
                             "which holds a lone UTF-16 surrogate (half a character)",
                             path=None if src is None else ascii(src)[1:-1], hint=_SURROGATE_FIX)
    for name, value in run.meta:
        for text in _texts(value):
            if not text.isascii() and not _utf8(text):
                raise InputError(f"the run's {name} {shown_value(text)} holds a lone UTF-16 "
                                 "surrogate (half a character)", hint=_SURROGATE_FIX,
                                 path=None if src is None else ascii(src)[1:-1])


_SURROGATE_FIX = "re-export the run as valid UTF-8 (and give its file a UTF-8 name)"


def _texts(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _texts(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(k)
            yield from _texts(v)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def id_array(values: Sequence[Any] | np.ndarray, src: str | None) -> np.ndarray:
    """Item ids as strings (`id_text`), for the readers and `EvalRun.from_arrays` alike: a
    missing (`is_missing`: None, empty, NaN, pandas NA), boolean, fractional or nested id is
    one E109 line naming the file, the record and the fix. Ids that are all strings or all
    integers take numpy's conversion (one C pass); anything else is checked value by value
    (numpy's own conversion made [True, "a"] ["True", "a"] and [True, 2] ["1", "2"])."""
    arr = None
    if isinstance(values, np.ndarray) and values.dtype.kind in "Uiu":
        arr = values
    else:
        items = values.tolist() if isinstance(values, np.ndarray) else values
        if not isinstance(items, list):
            items = list(items)
        if not items:
            return np.asarray([], dtype=np.str_)
        types = set(map(type, items))  # one C pass: [True, 2] must not reach numpy
        if types == {str}:
            arr = str_array(items)
        elif types <= {str, int}:
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
    return np.asarray(out, dtype=np.str_).reshape(len(out))


def _no_id(pos: int, src: str | None) -> None:
    raise InputError(f"record #{pos + 1} has no item_id", path=src, code="E109",
                     hint="every record needs an item id to be paired")


def str_array(values: list[str]) -> np.ndarray:
    """A list of strings as a `<U` array, equal to `np.asarray(values)` (about half the time
    for 1M short strings: numpy's own inference costs more than the width scan and the copy).
    The caller has checked that every value is a `str`."""
    width = max(1, max(map(len, values), default=0))
    return np.fromiter(values, dtype=f"<U{width}", count=len(values))


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
    booleans (`numtext.number_labels`), take no Python loop. A label `label_text` refuses
    is one E109 line naming `src`, the record and its item (`ids`, when given)."""
    if arr is None and isinstance(values, np.ndarray):
        arr = values
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
    return np.asarray(labels, dtype=np.str_).reshape(len(raw)), present


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


EPOCH_RANGE_HINT = "epochs are small integers"


def _epoch_array(epochs: Sequence[Any] | np.ndarray, src: str | None) -> np.ndarray:
    """Epochs as int64; a NaN, a fraction, a boolean, a negative number, a number beyond
    int64 or a non-number is an error, never truncated or wrapped (0 is accepted: evalsig 0.1
    RunFrames count epochs from 0). Integers stay integers: through float64, 2**62 + 1 was
    2**62, and 2**64 - 1 was cast to int64's minimum."""
    num = None
    if isinstance(epochs, np.ndarray) or not any(type(v) is bool for v in epochs):
        try:
            arr = np.asarray(epochs)
            if arr.dtype.kind in "iu":
                num = arr
            elif arr.dtype.kind != "b":  # True is no epoch (np.asarray([True, 2]) is [1, 2])
                num = arr.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            pass
    if num is None or num.ndim != 1 or (num.dtype.kind == "f" and not np.all(
            np.isfinite(num) & (num == np.round(num)))):
        raise InputError("epochs are not all integers", path=src, code="E109",
                         hint="pass one integer epoch per record (or omit epochs)")
    if (num < 0).any():
        pos = int(np.flatnonzero(num < 0)[0])
        raise InputError(f"record #{pos + 1} has epoch {int(num[pos])}", path=src, code="E109",
                         hint="epochs count from 0 or 1; a negative epoch is a writer's bug")
    big = None  # an int64 column is in range
    if num.dtype.kind == "u":
        big = num > np.iinfo(np.int64).max
    elif num.dtype.kind == "f":
        big = num >= 2.0**63
    if big is not None and big.any():
        pos = int(np.flatnonzero(big)[0])
        raise InputError(f"record #{pos + 1} has epoch {shown_value(epochs[pos])}, out of range",
                         path=src, hint=EPOCH_RANGE_HINT, code="E109")
    return num.astype(np.int64)


def cluster_key(requested: str | None, baseline: EvalRun, candidate: EvalRun) -> str | None:
    """The key a comparison clusters by: the one requested (`Policy.cluster`, `--cluster`),
    else the one either run was read or built with. A run that carries cluster labels is
    never compared as if its items were independent because the policy did not repeat the
    key (that would understate the SE).

    Runs read from files with a cluster key carry that key's labels: a requested key, or the
    other run's, that names a different one is a `UsageError` (the labels used would not be
    the ones the report names). Runs built in memory (`from_arrays`) take the requested name.
    """
    read: dict[str, list[str]] = {}
    for role, run in (("baseline", baseline), ("candidate", candidate)):
        if run.meta.cluster_key is not None and run.meta.cluster_source is not None:
            read.setdefault(run.meta.cluster_key, []).append(role)
    names = set(read) | ({requested} if requested and read else set())
    if len(names) > 1:
        shown = ", ".join(f"the {' and '.join(roles)} {'was' if len(roles) == 1 else 'were'} "
                          f"read with {k!r}" for k, roles in read.items())
        asked = f"the comparison names {requested!r} but " if requested else ""
        raise UsageError(f"cluster keys disagree: {asked}{shown}",
                         hint="read both runs with the key the comparison clusters by "
                         "(--cluster KEY, read_run(..., cluster=KEY))")
    return requested or baseline.meta.cluster_key or candidate.meta.cluster_key


def missing_labels_error(key: str, role: str, run: EvalRun) -> InputError | None:
    """The E107 error for a run that carries no cluster labels at all while a comparison
    clusters by `key` (the policy names it, or only the other run carries labels): pairing
    would otherwise treat its items as independent and understate the SE."""
    if run.clusters is not None:
        return None
    return InputError(
        f"{role}: carries no cluster labels, but the comparison clusters by {key!r}",
        path=run.meta.source, code="E107",
        hint=f"read both runs with the cluster key (--cluster {key}, read_run(..., "
        f"cluster={key!r})) or build them with EvalRun.from_arrays(..., clusters=...)",
    )
