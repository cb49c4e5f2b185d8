"""`EvalRun`: one model on one task, metadata in pydantic, item data in columnar numpy arrays.

No Python object per item: a run of 1M items is four arrays. Item ids and cluster labels are
compared as strings (written by the rules in `numtext`). Scores are kept exactly as read (a NaN
stays a NaN) so that the doctor can report it; `gate` refuses runs the doctor flags as errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .errors import InputError, UsageError
from .numfmt import counted
from .numtext import cluster_labels, id_array, shown_value

__all__ = ["EvalRun", "RunMeta", "cluster_key", "in_file", "missing_labels_error"]


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
        unlabelled items. A missing item id (None, "", NaN), an epoch that is not an integer,
        a cluster label that is a list, tuple, dict or set, or an id or label holding a NUL
        character raises `InputError` (E109; numpy has already dropped the trailing NULs of
        a `<U` array, np.array(["a\\x00"]) holds "a": pass such ids as a list). A run
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
    label code points, and the metadata's few strings.

    In an id or label it is E109, as a NUL there is: one record's value is not text a run
    can be paired or clustered on, and the line names that record; in the run's metadata
    or file name it is E101, the file's encoding (it was E101 everywhere: the same kind of
    broken id carried two codes)."""
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
                             path=None if src is None else ascii(src)[1:-1], hint=_SURROGATE_FIX,
                             code="E109",  # a label's item is named, as for a NUL (ids: clean)
                             item=str(run.item_ids[pos]) if arr is run.clusters else None)
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


def in_file(run: EvalRun) -> str:
    """" (in FILE)", the file `run` was read from, for a message about both runs, whose one
    line names no single file (doctor's E105, E108, E112, E113, E114); "" for a run built in
    memory."""
    return f" (in {run.meta.source})" if run.meta.source else ""
