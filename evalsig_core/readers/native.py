"""Native evalsig run files: schema v1 JSON / JSONL, and evalsig 0.1's RunFrame.

Schema v1 (JSON)::

    {"schema": "evalsig.run/1", "run_id": ..., "model": ..., "task": ..., "metric": "accuracy",
     "harness": ..., "status": "success", "config": {...},
     "items": [{"item_id": "q1", "epoch": 1, "score": 1.0, "metadata": {"passage_id": "P1"}}]}

An item may carry `scores: {metric: value}` instead of `score`, `cluster_id`, and `error`
(an errored item: excluded and counted). JSONL: one item object per line, optionally preceded by
a header line holding the run fields (`"schema"` key). evalsig 0.1 RunFrame uses `model_id`,
`task_id`, `metric_name`, `config_hash` and items `[item_id, score, cluster_id, epoch, metadata]`.

The JSONL path is the hot one (1M lines): one fast JSON parse and a few dict look-ups per line,
appended to plain lists; all type checks run afterwards over whole columns (`_columns`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..run import EvalRun
from ._columns import Columns, build_run
from ._io import (
    E_FIELD,
    E_METRIC,
    FAST_LOADS,
    ReadOptions,
    line_blocks,
    parse_line,
    read_json_doc,
    sha256_file,
    sha256_hex,
)

SCHEMA_PREFIX = "evalsig.run/"
_RUN_KEYS = {"schema", "run_id", "model", "model_id", "task", "task_id", "metric", "metric_name"}
_MISSING = object()


def sniff_json(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("items"), list) and (
        str(doc.get("schema", "")).startswith(SCHEMA_PREFIX) or bool(_RUN_KEYS & doc.keys())
    )


def sniff_jsonl_line(first: Any) -> bool:
    return isinstance(first, dict) and (
        str(first.get("schema", "")).startswith(SCHEMA_PREFIX)
        or ("item_id" in first and ("score" in first or "scores" in first))
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
    return _build(path, sha256_hex(data), doc, doc["items"], opts, fmt="evalsig-json")


def read_native_jsonl(path: Path, opts: ReadOptions) -> EvalRun:
    header: dict[str, Any] = {}
    lines = _objects(path)
    first = next(lines, None)
    items: Iterable[Any] = lines
    if isinstance(first, dict) and "schema" in first and "item_id" not in first:
        header = first
    elif first is not None:
        items = _chain(first, lines)
    return _build(path, sha256_file(path), header, items, opts, fmt="evalsig-jsonl")


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _objects(path: Path) -> Iterator[Any]:
    """Parsed JSON lines, blank lines skipped; a bad line is an error naming its number."""
    src = str(path)
    loads = FAST_LOADS
    lineno = 0
    for block in line_blocks(path):
        for line in block:
            lineno += 1
            try:
                yield loads(line)
            except ValueError:
                obj = parse_line(line, src, lineno)
                if obj is not None:
                    yield obj


def _build(path: Path, sha: str, doc: dict[str, Any], items: Iterable[Any], opts: ReadOptions,
           fmt: str) -> EvalRun:
    src = str(path)
    schema = str(doc.get("schema", SCHEMA_PREFIX + "1"))
    if schema.startswith(SCHEMA_PREFIX) and schema != SCHEMA_PREFIX + "1":
        raise InputError(
            f"unsupported schema {schema!r}", path=src,
            hint="this evalsig reads evalsig.run/1; upgrade evalsig",
        )
    file_metric = doc.get("metric", doc.get("metric_name"))
    cols, metric, use_cid = _collect(items, opts, file_metric, src)
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        config = {"config": str(config)}
    if doc.get("config_hash") is not None:
        config = {**config, "config_hash": doc["config_hash"]}
    cluster_key = opts.cluster
    meta = dict(
        run_id=_opt_str(doc.get("run_id")),
        model=_opt_str(doc.get("model", doc.get("model_id"))),
        task=_opt_str(doc.get("task", doc.get("task_id"))),
        metric=metric,
        harness=_opt_str(doc.get("harness")) or "evalsig",
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


def _collect(items: Iterable[Any], opts: ReadOptions, file_metric: Any,
             src: str) -> tuple[Columns, str, bool]:
    """One pass over the items: raw ids, epochs, scores and cluster labels into lists."""
    cols = Columns()
    ids, epochs, scores = cols.ids, cols.epochs, cols.scores
    key = opts.cluster
    md_labels: list[Any] = []
    cid_labels: list[Any] = []
    metric: str | None = opts.metric or file_metric
    score_ok = file_metric is None or metric == file_metric
    for pos, it in enumerate(items):
        if type(it) is not dict:
            raise InputError(
                f"item #{pos + 1} is {type(it).__name__}, not an object", path=src,
                hint="each item must be a JSON object", code=E_FIELD,
            )
        iid = it.get("item_id")
        if iid is None:
            iid = it.get("id")
        if it.get("error"):
            cols.add_errored(iid)
            continue
        sd = it.get("scores")
        if sd is None and score_ok:
            value = it.get("score", _MISSING)
            if value is _MISSING:
                raise InputError("item has no score", path=src, item=str(iid),
                                 hint="add a score field", code=E_FIELD)
        else:
            if metric is None:
                metric = _only_metric(it, src)
            value = _from_scores(it, metric, file_metric, src, iid)
        ids.append(iid)
        epochs.append(it.get("epoch", 1))
        scores.append(value)
        if key is not None:
            md = it.get("metadata")
            c = md.get(key) if type(md) is dict else None
            md_labels.append(c if c is not None else it.get(key))
            cid_labels.append(it.get("cluster_id"))
    use_cid = False
    if key is not None:
        has_md = any(c is not None for c in md_labels)
        use_cid = key == "cluster_id" or (not has_md and any(c is not None for c in cid_labels))
        cols.clusters = cid_labels if use_cid else md_labels
    return cols, metric or "score", use_cid


def _from_scores(it: dict[str, Any], metric: str, file_metric: Any, src: str, iid: Any) -> Any:
    scores = it.get("scores")
    if isinstance(scores, dict):
        if metric in scores:
            return scores[metric]
        raise InputError(
            f"metric {metric!r} not found; this item has {sorted(scores)}", path=src,
            item=str(iid), hint="choose one of those with --metric", code=E_METRIC,
        )
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


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)
