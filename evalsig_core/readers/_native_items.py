"""The native reader's complete rules for one item, for the items its fast path does not take.

`native._collect` appends a regular item (`item_id`, `score`, the cluster label, at most
`epoch`) straight to the columns; any other item goes through `Collector.item`: a float id
re-read exactly, a score from `scores` by metric, an errored item counted, a RunFrame's
`cluster_id`, or an error naming the line or item. Whole columns are checked later
(`_columns.build_run`).
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ._columns import Columns
from ._io import E_FIELD, E_METRIC, ReadOptions
from ._json import reparse_exact

__all__ = ["Collector"]

_MISSING = object()


class Collector:
    """The complete per-item rules, for items the fast path of `native._collect` does not
    cover; `finish` gives the columns, the metric and whether labels are RunFrame cluster ids."""

    def __init__(self, opts: ReadOptions, file_metric: Any, src: str, raw: bool) -> None:
        self.cols = Columns()
        self.labels: list[Any] = []
        self.key = opts.cluster
        self.file_metric = file_metric
        self.metric: str | None = opts.metric or file_metric
        self.score_ok = file_metric is None or self.metric == file_metric
        self.src = src
        self.raw = raw
        self.n_cid = 0  # items without the key (their labels are _ClusterId)

    def item(self, it: Any, line: Any, seen: int, items: list[Any]) -> None:
        """Append (id, epoch, score, label) of an item `_collect`'s fast test did not take,
        or let `general` take it (append it, count it as errored, or raise)."""
        key = self.key
        try:
            if not self.score_ok or "error" in it or "scores" in it:
                raise KeyError
            iid = it["item_id"]
            if iid.__class__ is float and self.raw:  # orjson rounds integers >= 2**64
                it = reparse_exact(line)
                iid = it["item_id"]
            value = it["score"]
            label = it["metadata"][key] if key is not None else 0
            if iid is None or label is None:
                raise KeyError
        except (KeyError, TypeError):
            self.general(it, seen, items, line)
            return
        self.cols.ids.append(iid)
        self.cols.epochs.append(it.get("epoch", 1))
        self.cols.scores.append(value)
        if key is not None:
            self.labels.append(label)

    def general(self, it: Any, seen: int, items: list[Any], line: Any) -> None:
        src = self.src
        if type(it) is not dict:
            pos = seen + items.index(line) + 1
            where = f"line {pos}" if isinstance(line, bytes) else f"item #{pos}"
            raise InputError(f"{where} is {type(it).__name__}, not an object", path=src,
                             hint="each item must be a JSON object", code=E_FIELD)
        iid = it.get("item_id")
        if iid is None:
            iid = it.get("id")
        if it.get("error"):
            self.cols.add_errored(iid)
            return
        value = it.get("score", _MISSING) if self.score_ok else _MISSING
        if value is _MISSING or "scores" in it:
            if self.metric is None:
                self.metric = _only_metric(it, src)
            plain = value
            value = _from_scores(it, self.metric, self.file_metric, src, iid)
            if (plain is not _MISSING and self.metric == (self.file_metric or self.metric)
                    and not _agree(plain, value)):
                # {"score": 1, "scores": {"accuracy": 0}} in a run of accuracy: the dict's
                # value was taken without a word
                raise InputError(
                    f"score {str(plain)[:40]} and scores[{self.metric!r}] "
                    f"{str(value)[:40]} disagree", path=src, item=str(iid),
                    hint="export one score per item (score, or scores by metric)",
                    code=E_FIELD)
        self.cols.ids.append(iid)
        self.cols.epochs.append(it.get("epoch", 1))
        self.cols.scores.append(value)
        if self.key is not None:
            md = it.get("metadata")
            c = md.get(self.key) if type(md) is dict else None
            if c is None:
                c = it.get(self.key)
                if c is None:  # maybe a RunFrame's cluster_id (used if no item has the key)
                    c = _ClusterId(it.get("cluster_id"))
                    self.n_cid += 1
            self.labels.append(c)

    def finish(self) -> tuple[Columns, str, bool]:
        use_cid = False
        labels = self.labels
        if self.key is not None:
            if self.n_cid < len(labels):  # items with the key win; the others lack it
                use_cid = self.key == "cluster_id"
                if self.n_cid:
                    labels = [None if type(c) is _ClusterId else c for c in labels]
            else:
                labels = [c.value for c in labels]
                use_cid = any(c is not None for c in labels)
            self.cols.clusters = labels
        return self.cols, self.metric or "score", use_cid


class _ClusterId:
    """An item without the cluster key: its `cluster_id`, used only if no item has the key."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _agree(a: Any, b: Any) -> bool:
    """`score` and `scores[metric]` of one item name the same value (NaN equals NaN)."""
    return bool(a == b) or (a != a and b != b)  # JSON values: == never raises


def _from_scores(it: dict[str, Any], metric: str, file_metric: Any, src: str, iid: Any) -> Any:
    scores = it.get("scores")
    if isinstance(scores, dict):
        if metric in scores:
            return scores[metric]
        raise InputError(
            f"metric {metric!r} not found; this item has {sorted(scores)}", path=src,
            item=str(iid), hint="choose one of those with --metric", code=E_METRIC,
        )
    if "score" in it and metric == (file_metric or metric):
        return it["score"]
    if "score" in it:
        raise InputError(
            f"metric {metric!r} not found; the file holds only {file_metric or 'score'!r}",
            path=src, hint=f"use --metric {file_metric or 'score'}", code=E_METRIC,
        )
    raise InputError("item has no score", path=src, item=str(iid), hint="add a score field",
                     code=E_FIELD)


def _only_metric(it: dict[str, Any], src: str) -> str:
    scores = it.get("scores")
    if isinstance(scores, dict):
        names = sorted(scores)
        if len(names) == 1:
            return str(names[0])
        raise InputError(
            f"the file has several metrics {names} and none was chosen", path=src,
            hint="pass --metric", code=E_METRIC,
        )
    return "score"
