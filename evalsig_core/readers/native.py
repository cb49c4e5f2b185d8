"""Native evalsig run files: schema v1 JSON / JSONL, and evalsig 0.1's RunFrame.

Schema v1 (JSON)::

    {"schema": "evalsig.run/1", "run_id": ..., "model": ..., "task": ..., "metric": "accuracy",
     "harness": ..., "status": "success", "config": {...},
     "items": [{"item_id": "q1", "epoch": 1, "score": 1.0, "metadata": {"passage_id": "P1"}}]}

An item may carry `scores: {metric: value}` instead of `score`, `cluster_id`, and `error`
(an errored item: excluded and counted). JSONL: one item object per line, optionally preceded by
a header line holding the run fields (`"schema"` key). evalsig 0.1 RunFrame uses `model_id`,
`task_id`, `metric_name`, `config_hash` and items `[item_id, score, cluster_id, epoch, metadata]`.

`item_id` is a string or an integer (a float only when it holds an integer: 1.0 is "1"); a
boolean, a fraction, null, a list or an object is an error naming the record. `epoch` is an
integer from 0 (evalsig 0.1 RunFrames count from 0, schema v1 writers usually from 1; absent
means 1); a boolean, a float or a negative epoch is an error naming the item.

The JSONL path is the hot one (1M lines): one fast JSON parse and a few dict look-ups per line,
appended to plain lists; all type checks run afterwards over whole columns (`_columns`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..numtext import id_text, shown_value
from ..run import EvalRun
from ._columns import Columns, build_run
from ._dupkeys import ANY, Spec, check_block, keys_of, refuse_duplicates
from ._io import (
    E_FIELD,
    ReadOptions,
    line_blocks,
    sha256_hex,
    without_first_line,
)
from ._json import FAST_LOADS, exact_lines, parse_line, read_json_doc
from ._native_items import Collector
from ._text import read_head

SCHEMA_PREFIX = "evalsig.run/"
_RUN_KEYS = {"schema", "run_id", "model", "model_id", "task", "task_id", "metric", "metric_name"}
_LINE_CHECK = True  # E117 on JSONL item lines (`_dupkeys`); bench_readers turns it off


def sniff_json(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("items"), list) and (
        str(doc.get("schema", "")).startswith(SCHEMA_PREFIX) or bool(_RUN_KEYS & doc.keys())
    )


def sniff_jsonl_line(first: Any) -> bool:
    return isinstance(first, dict) and (
        str(first.get("schema", "")).startswith(SCHEMA_PREFIX)
        or ("item_id" in first and ("score" in first or "scores" in first or "error" in first))
    )


def read_native_json(path: Path, opts: ReadOptions, doc: Any = None,
                     data: bytes | None = None) -> EvalRun:
    if doc is None or data is None:
        doc, data = read_json_doc(path)
    if not sniff_json(doc):
        raise InputError(
            "JSON file is not an evalsig run", path=str(path),
            hint="expected an evalsig run (schema evalsig.run/1 or an evalsig 0.1 RunFrame)",
        )
    refuse_duplicates(data, doc, {**_header_spec(), "items": _item_spec(opts)}, str(path))
    return _build(path, sha256_hex(data), doc, [doc["items"]], opts, fmt="evalsig-json")


def read_native_jsonl(path: Path, opts: ReadOptions) -> EvalRun:
    line = read_head(path).line
    head = parse_line(line, str(path), 1)
    header: dict[str, Any] = {}
    if isinstance(head, dict) and "schema" in head and "item_id" not in head:
        header = head
        refuse_duplicates(line, head, _header_spec(), str(path), "the header line")
    hasher = hashlib.sha256()
    blocks = line_blocks(path, hasher=hasher, ends=True)
    if header:
        blocks = without_first_line(blocks)
    run = _build(path, "", header, blocks, opts, fmt="evalsig-jsonl", raw=True)
    return run.with_meta(sha256=hasher.hexdigest())


def _header_spec() -> Spec:
    """The run fields `_build` reads (`_dupkeys.Spec`)."""
    return {**dict.fromkeys(_RUN_KEYS | {"harness", "harness_version", "status",
                                         "config_hash"}), "config": {ANY: None}}


def _item_spec(opts: ReadOptions) -> Spec:
    """The keys `_collect` reads of an item (`_dupkeys.Spec`)."""
    spec: Spec = {**dict.fromkeys(("item_id", "id", "epoch", "score", "error", "cluster_id")),
                  "scores": {opts.metric or ANY: None}}
    if opts.cluster is not None:
        spec.update({"metadata": {opts.cluster: None}, opts.cluster: None})
    return spec


def _build(path: Path, sha: str, doc: dict[str, Any], blocks: Iterable[list[Any]],
           opts: ReadOptions, fmt: str, *, raw: bool = False) -> EvalRun:
    src = str(path)
    schema = str(doc.get("schema", SCHEMA_PREFIX + "1"))
    if schema.startswith(SCHEMA_PREFIX) and schema != SCHEMA_PREFIX + "1":
        raise InputError(
            f"unsupported schema {schema!r}", path=src,
            hint="this evalsig reads evalsig.run/1; upgrade evalsig",
        )
    file_metric = doc.get("metric", doc.get("metric_name"))
    if file_metric is not None and not isinstance(file_metric, str):  # true was internal (70)
        raise InputError(f"the run's metric is {shown_value(file_metric)}, not a name",
                         path=src, hint='name the metric as a string ("metric": "accuracy")',
                         code=E_FIELD)
    cols, metric, use_cid = _collect(blocks, opts, file_metric, src, raw)
    if raw:
        cols.written_epoch = lambda item, value: _written_epoch(path, item, value)
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        config = {"config": str(config)}
    if doc.get("config_hash") is not None:
        config = {**config, "config_hash": doc["config_hash"]}
    harness = _opt_str(doc.get("harness")) or "evalsig"
    config = {"harness": harness, "harness_version": doc.get("harness_version"),
              "task": doc.get("task", doc.get("task_id")), **config}
    cluster_key = opts.cluster
    meta = dict(
        run_id=_opt_str(doc.get("run_id")),
        model=_opt_str(doc.get("model", doc.get("model_id"))),
        task=_opt_str(doc.get("task", doc.get("task_id"))),
        metric=metric,
        harness=harness,
        harness_version=_opt_str(doc.get("harness_version")),
        source=src, sha256=sha, format=fmt,
        status=str(doc.get("status", "success")),
        cluster_key=cluster_key,
        cluster_source=(
            None if cluster_key is None else ("cluster_id" if use_cid else "metadata")
        ),
        config=config,
    )
    return build_run(cols, meta, src)


def _collect(blocks: Iterable[list[Any]], opts: ReadOptions, file_metric: Any, src: str,
             raw: bool) -> tuple[Columns, str, bool]:
    """One pass over the items: raw ids, epochs, scores and cluster labels into lists.

    `blocks` hold parsed items, or JSON lines when `raw`. This is the hot path of a 1M-line
    file: a regular item costs one parse, its key count and a few subscripts. Regular means
    the keys `item_id`, `score` (and `metadata` when clustering) with at most `epoch` beside
    them, or any other keys but no `error` or `scores`; a non-null id that is not a float and
    a non-null label. Any other item takes `Collector.item`, the complete rules. Nothing is
    validated here: `build_run` checks whole columns. The loop notes whether every id and
    every label is a string and every epoch the integer 1: `build_run` then converts such a
    column without its type scan (the epochs become int64 ones here). It adds up the keys of
    each block's objects for `_dupkeys.check_block` (E117): `dated` keys per regular item,
    less one per item without an epoch, plus the others' surplus, counted only off the usual
    shape.
    """
    loads = FAST_LOADS if raw else _same
    c = Collector(opts, file_metric, src, raw)
    careful = c.item
    ids, epochs, scores, labels = c.cols.ids, c.cols.epochs, c.cols.scores, c.labels
    key = opts.cluster
    # the key count of a regular item without (bare) and with (dated) an epoch; -1: none is
    known = (2 if key is None else 3) if c.score_ok else -1
    bare, dated = known, known + 1 if known > 0 else -1
    text, one = str, 1
    ids_text = labels_text = ones = True
    seen = 0
    spec, check = _item_spec(opts), raw and _LINE_CHECK
    deep = 0  # metadata keys added up: one (--cluster), all (1), with objects in it (2)
    for items in blocks:
        keys, fast = 0, len(items)  # (at most) the keys parsed beyond `dated` per fast line
        for line in items:
            try:
                it = loads(line)
            except ValueError:
                it = parse_line(line, src, seen + items.index(line) + 1)
                if it is None:
                    fast -= 1
                    continue
            try:
                n = len(it)
                iid = it["item_id"]
                if iid.__class__ is not text:  # an integer id, or a rarer case
                    if iid is None or iid.__class__ is float:
                        raise KeyError
                    ids_text = False
                value = it["score"]
                if key is not None:
                    label = (md := it["metadata"])[key]
                    if label.__class__ is not text:
                        if label is None:
                            raise KeyError
                        labels_text = False
                # last, so that nothing raises after `keys` changed
                if n == dated:  # exactly the keys read, or "epoch" is missing (KeyError)
                    epoch = it["epoch"]
                    if epoch is not one:
                        ones = False
                elif n == bare:
                    epoch = 1
                    keys -= 1
                elif known < 0 or "error" in it or "scores" in it:
                    raise KeyError
                else:
                    epoch = it.get("epoch", 1)
                    ones = ones and epoch is one
                    if key is None and (md := it.get("metadata")).__class__ is dict:
                        n += len(md) if deep < 2 else keys_of(md)  # in the block's colons
                    keys += n - dated
                if deep and key is not None:
                    keys += len(md) if deep == 1 else keys_of(md)
            except (KeyError, TypeError, AttributeError):  # AttributeError: "x".get, [1].get
                ids_text = labels_text = ones = False
                fast -= 1
                keys += keys_of(it)
                careful(it, line, seen, items)
                continue
            ids.append(iid)
            epochs.append(epoch)
            scores.append(value)
            if key is not None:
                labels.append(label)
        if check:  # with --cluster, a fast line's metadata holds at least the key
            least = fast * dated + (fast if key is not None and not deep else 0)
            if not check_block(items, keys + least, seen, spec, src):
                deep = 2 if key is None else min(deep + 1, 2)  # count more from now on
        seen += len(items)
    cols, metric, use_cid = c.finish()
    cols.ids_text, cols.labels_text = ids_text, labels_text
    if ones and cols.epochs:
        cols.epoch_ints = np.ones(len(cols.epochs), dtype=np.int64)
    return cols, metric, use_cid


def _written_epoch(path: Path, item: str, value: float) -> Any:
    """The epoch of `item` as the JSONL file writes it, when orjson read it as the float
    `value` (an integer >= 2**64): an error then quotes the file's digits, not rounded ones.
    `value` itself when no line holds such an integer for the item."""
    for rec in exact_lines(path):
        epoch = rec.get("epoch") if type(rec) is dict else None
        if type(epoch) is not int or float(epoch) != value:
            continue
        iid = rec.get("item_id")
        try:
            if id_text(rec.get("id") if iid is None else iid) == item:
                return epoch
        except ValueError:  # an id the reader refuses: not this item
            continue
    return value


def _same(x: Any) -> Any:
    return x


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)
