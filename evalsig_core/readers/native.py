"""Native evalsig run files: schema v1 JSON / JSONL, and evalsig 0.1's RunFrame.

Schema v1 (JSON)::

    {"schema": "evalsig.run/v1", "run_id": ..., "model": ..., "task": ..., "metric": "accuracy",
     "harness": ..., "status": "success", "config": {...},
     "items": [{"item_id": "q1", "epoch": 1, "score": 1.0, "metadata": {"passage_id": "P1"}}]}

An item may carry `scores: {metric: value}` instead of `score`, `cluster_id`, and `error`
(an errored item: excluded and counted). JSONL: one item object per line, optionally preceded by
a header line holding the run fields (`"schema"` key). evalsig 0.1 RunFrame uses `model_id`,
`task_id`, `metric_name`, `config_hash` and items `[item_id, score, cluster_id, epoch, metadata]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..run import EvalRun, RunMeta
from ._io import ReadOptions, as_score, decode_text, parse_json, sha256_hex

SCHEMA_PREFIX = "evalsig.run/"
_RUN_KEYS = {"schema", "run_id", "model", "model_id", "task", "task_id", "metric", "metric_name"}


def sniff_json(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("items"), list) and (
        str(doc.get("schema", "")).startswith(SCHEMA_PREFIX) or bool(_RUN_KEYS & doc.keys())
    )


def sniff_jsonl_line(first: Any) -> bool:
    return isinstance(first, dict) and (
        str(first.get("schema", "")).startswith(SCHEMA_PREFIX)
        or ("item_id" in first and ("score" in first or "scores" in first))
    )


def read_native_json(path: Path, data: bytes, doc: dict[str, Any], opts: ReadOptions) -> EvalRun:
    return _build(path, data, doc, doc["items"], opts, fmt="evalsig-json")


def read_native_jsonl(path: Path, data: bytes, opts: ReadOptions) -> EvalRun:
    text = decode_text(data, str(path))
    header: dict[str, Any] = {}
    items: list[Any] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        obj = parse_json(line, str(path), line=lineno)
        if lineno == 1 and isinstance(obj, dict) and "schema" in obj and "item_id" not in obj:
            header = obj
            continue
        items.append(obj)
    return _build(path, data, header, items, opts, fmt="evalsig-jsonl")


def _build(
    path: Path, data: bytes, doc: dict[str, Any], items: list[Any], opts: ReadOptions, fmt: str
) -> EvalRun:
    src = str(path)
    schema = str(doc.get("schema", SCHEMA_PREFIX + "1"))
    if schema.startswith(SCHEMA_PREFIX) and schema != SCHEMA_PREFIX + "1":
        raise InputError(
            f"unsupported schema {schema!r}", path=src,
            hint="this evalsig reads evalsig.run/1; upgrade evalsig",
        )
    file_metric = doc.get("metric", doc.get("metric_name"))
    metric = opts.metric or file_metric
    if metric is None:
        metric = _only_metric(items, src)
    ids: list[str] = []
    epochs: list[int] = []
    scores: list[float] = []
    clusters: list[str] = []
    present: list[bool] = []
    errored: list[str] = []
    cluster_key = opts.cluster
    use_cluster_id = cluster_key is not None and _cluster_from_cluster_id(items, cluster_key)
    for pos, it in enumerate(items):
        if not isinstance(it, dict):
            raise InputError(
                f"item #{pos + 1} is {type(it).__name__}, not an object", path=src,
                hint="each item must be a JSON object",
            )
        raw_id = it.get("item_id", it.get("id"))
        if raw_id is None or raw_id == "":
            raise InputError(
                f"item #{pos + 1} has no item_id", path=src,
                hint="every item needs an item_id to be paired",
            )
        item = str(raw_id)
        if it.get("error"):
            errored.append(item)
            continue
        value = _score_of(it, metric, file_metric, src, item)
        ids.append(item)
        ep = it.get("epoch", 1)
        if isinstance(ep, bool) or not isinstance(ep, int):
            raise InputError(
                f"epoch is {ep!r}, not an integer", path=src, item=item,
                hint="epochs are integers",
            )
        epochs.append(ep)
        scores.append(as_score(value, src, item, metric))
        if cluster_key is not None:
            if use_cluster_id:
                c = it.get("cluster_id")
            else:
                md = it.get("metadata") or {}
                c = md.get(cluster_key) if isinstance(md, dict) else None
                if c is None:
                    c = it.get(cluster_key)
            present.append(c is not None and c != "")
            clusters.append("" if c is None else str(c))
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        config = {"config": str(config)}
    config = {str(k): str(v) for k, v in config.items()}
    if doc.get("config_hash") is not None:
        config["config_hash"] = str(doc["config_hash"])
    meta = RunMeta(
        run_id=_opt_str(doc.get("run_id")),
        model=_opt_str(doc.get("model", doc.get("model_id"))),
        task=_opt_str(doc.get("task", doc.get("task_id"))),
        metric=metric,
        harness=_opt_str(doc.get("harness")) or "evalsig",
        harness_version=_opt_str(doc.get("harness_version")),
        source=src,
        sha256=sha256_hex(data),
        format=fmt,
        status=str(doc.get("status", "success")),
        cluster_key=cluster_key,
        cluster_source=(
            None if cluster_key is None else ("cluster_id" if use_cluster_id else "metadata")
        ),
        n_errored=len(errored),
        errored_items=tuple(errored[:1000]),
        config=config,
    )
    return EvalRun(
        meta,
        np.asarray(ids, dtype=np.str_),
        np.asarray(epochs, dtype=np.int64),
        np.asarray(scores, dtype=np.float64),
        np.asarray(clusters, dtype=np.str_) if cluster_key is not None else None,
        np.asarray(present, dtype=bool) if cluster_key is not None else None,
    )


def _score_of(it: dict[str, Any], metric: str, file_metric: Any, src: str, item: str) -> Any:
    if isinstance(it.get("scores"), dict):
        scores = it["scores"]
        if metric in scores:
            return scores[metric]
        raise InputError(
            f"metric {metric!r} not found; this item has {sorted(scores)}", path=src, item=item,
            hint="choose one of those with --metric",
        )
    if "score" in it:
        if file_metric is not None and metric != file_metric:
            raise InputError(
                f"metric {metric!r} not found; the file holds only {file_metric!r}",
                path=src, hint=f"use --metric {file_metric}",
            )
        return it["score"]
    raise InputError("item has no score", path=src, item=item, hint="add a score field")


def _only_metric(items: list[Any], src: str) -> str:
    for it in items:
        if isinstance(it, dict) and isinstance(it.get("scores"), dict):
            names = sorted(it["scores"])
            if len(names) == 1:
                return str(names[0])
            raise InputError(
                f"the file has several metrics {names} and none was chosen", path=src,
                hint="pass --metric",
            )
    return "score"


def _cluster_from_cluster_id(items: list[Any], key: str) -> bool:
    """RunFrame files carry the cluster in `cluster_id`; metadata[key] wins when present."""
    if key == "cluster_id":
        return True
    has_md = any(
        (isinstance(it, dict)
        and isinstance(it.get("metadata"), dict)
        and key in it["metadata"])
        or (isinstance(it, dict) and key in it)
        for it in items
    )
    has_cid = any(isinstance(it, dict) and it.get("cluster_id") is not None for it in items)
    return not has_md and has_cid


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)
