"""lm-evaluation-harness `samples_<task>_<timestamp>.jsonl` files (written by `--log_samples`).

One line per (document, filter): `doc_id`, `filter`, `metrics` (the metric names) and one field
per metric (`acc`, `exact_match`, ...); `doc` holds the dataset row, where the cluster key is
looked up. A file with several filters needs `--filter`; an unknown metric or filter is an error
listing those that exist. `results_<timestamp>.json` holds only aggregates: reading it is an
error that points to the samples files; when it sits next to the samples file it is read for
the harness version and the task's config fingerprint (one that exists but cannot be read or
parsed is recorded in `RunMeta.unread_metadata`, the doctor's W220).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, UsageError
from ..numtext import shown_value
from ..run import EvalRun
from ._columns import Columns, build_run
from ._io import E_AGGREGATE, E_FIELD, E_METRIC, ReadOptions, line_blocks
from ._json import FAST_LOADS, parse_line, read_metadata_json, reparse_exact, unread_entry

_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<ts>\d{4}-\d\d-\d\dT[\d\-.:]+)\.jsonl$")
_MISSING = object()
_NOT_METRICS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter",
                "metrics", "doc_hash", "prompt_hash", "target_hash"}


def sniff_line(obj: Any) -> bool:
    return isinstance(obj, dict) and "doc_id" in obj and ("filter" in obj or "metrics" in obj)


def sniff_results(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("results"), dict) and (
        "lm_eval_version" in doc or "configs" in doc or "n-samples" in doc)


def results_error(path: Path) -> InputError:
    near = sorted(p.name for p in path.parent.glob("samples_*.jsonl"))[:4]
    where = f" such as {', '.join(near)}" if near else " (samples_<task>_<timestamp>.jsonl)"
    return InputError(
        "this is an lm-eval results file: it holds aggregates, not per-item scores",
        path=str(path), code=E_AGGREGATE,
        hint=f"pass a samples file{where}; run lm-eval with --log_samples to write them",
    )


def read_lmeval_samples(path: Path, opts: ReadOptions) -> EvalRun:
    src = str(path)
    hasher = hashlib.sha256()
    ids: list[Any] = []
    filters: list[Any] = []
    scores: list[Any] = []
    labels: list[Any] = []
    add_id, add_filter, add_score, add_label = (ids.append, filters.append, scores.append,
                                                labels.append)
    metric, chosen_filter = _metric_and_filter(opts)
    key = opts.cluster
    loads = FAST_LOADS
    missing = _MISSING
    base = 0
    for block in line_blocks(path, hasher=hasher, ends=True):
        try:
            for line in block:
                try:
                    obj = loads(line)
                except ValueError:
                    obj = parse_line(line, src, base + block.index(line) + 1)
                    if obj is None:
                        continue
                if metric is None:
                    metric = _only_metric(obj, src)
                value = obj.get(metric, missing)
                if value is missing:
                    raise InputError(
                        f"metric {metric!r} not found in record #{len(ids) + 1}; it has "
                        f"{_metrics_of(obj)}", path=src, code=E_METRIC,
                        hint="choose one of those with --metric")
                if obj.get("doc_id").__class__ is float:  # orjson rounds integers >= 2**64
                    obj = reparse_exact(line)
                add_id(obj.get("doc_id"))
                add_filter(obj.get("filter"))
                add_score(value)
                if key is not None:
                    doc = obj.get("doc")
                    add_label(doc.get(key) if type(doc) is dict else None)
        except AttributeError:  # `.get` on a line that is not an object
            raise InputError(f"record #{len(ids) + 1} is not a JSON object", path=src,
                             hint="this is not an lm-eval samples file", code=E_FIELD) from None
        base += len(block)
    if not ids:
        raise InputError("file has no samples", path=src, hint="re-run lm-eval with --log_samples",
                         code="E105")
    if not set(map(type, filters)) <= {str, type(None)}:  # a list was "unhashable" (70)
        pos = next(i for i, f in enumerate(filters) if f is not None and type(f) is not str)
        raise InputError(f"record #{pos + 1} has filter {shown_value(filters[pos])}, not a "
                         "name", path=src, item=str(ids[pos]), code=E_FIELD,
                         hint="lm-eval writes the filter's name; re-export the samples")
    keep = _select_filter(filters, chosen_filter, src)
    n = len(ids) if keep is None else int(keep.sum())
    cols = Columns(ids=_take(ids, keep), scores=_take(scores, keep),
                   clusters=None if key is None else _take(labels, keep),
                   epoch_ints=np.ones(n, dtype=np.int64))
    chosen = chosen_filter if chosen_filter is not None else str(filters[0])
    meta = _meta(path, src, str(metric), chosen, opts)
    return build_run(cols, {**meta, "sha256": hasher.hexdigest()}, src)


def _metric_and_filter(opts: ReadOptions) -> tuple[str | None, str | None]:
    """lm-eval names a metric under a filter `metric,filter` (`exact_match,strict-match` in
    its results and tables): that spelling means `--metric exact_match --filter strict-match`
    (it was "metric 'exact_match,strict-match' not found; it has ['exact_match']")."""
    metric, filt = opts.metric, opts.filter
    if metric is None or "," not in metric:
        return metric, filt
    name, _, spelled = metric.partition(",")
    if not name or not spelled:
        raise UsageError(f"metric {metric!r}: lm-eval spells a filtered metric 'metric,filter'",
                         hint="pass e.g. --metric exact_match,strict-match, or --metric "
                         "exact_match --filter strict-match")
    if filt is not None and filt != spelled:
        raise UsageError(f"--metric {metric!r} names the filter {spelled!r} but --filter is "
                         f"{filt!r}", hint="drop --filter, or one of the two")
    return name, spelled


def _take(values: list[Any], keep: np.ndarray | None) -> list[Any]:
    if keep is None:
        return values
    idx = np.flatnonzero(keep).tolist()
    return [values[i] for i in idx]


def _select_filter(filters: list[Any], chosen: str | None, src: str) -> np.ndarray | None:
    """None when every line is kept, else the mask of lines with the chosen filter."""
    present = set(filters)
    names = sorted(str(f) for f in present)
    if chosen is None:
        if len(present) == 1:
            return None
        raise InputError(f"the file has several filters {names} and none was chosen", path=src,
                         hint="pass --filter with one of those", code=E_METRIC)
    if chosen not in present:
        raise InputError(f"filter {chosen!r} not found; the file has {names}", path=src,
                         hint="choose one of those with --filter", code=E_METRIC)
    if len(present) == 1:
        return None
    return np.asarray(filters, dtype=object) == chosen


def _metrics_of(obj: dict[str, Any]) -> list[str]:
    named = obj.get("metrics")
    if isinstance(named, list) and named:
        return sorted(str(m) for m in named)
    return sorted(k for k, v in obj.items() if k not in _NOT_METRICS
                  and isinstance(v, int | float))


def _only_metric(obj: dict[str, Any], src: str) -> str:
    names = _metrics_of(obj)
    if len(names) == 1:
        return names[0]
    raise InputError(f"the file has several metrics {names} and none was chosen", path=src,
                     hint="pass --metric with one of those", code=E_METRIC)


def _of_task(doc: dict[str, Any], section: str, task: str | None, bad: list[str]) -> Any:
    """`doc[section][task]` of a results file, or None; a section that is not an object is
    noted in `bad`."""
    sec = doc.get(section)
    if sec is None or isinstance(sec, dict):
        return None if sec is None else sec.get(task)
    bad.append(f"{section!r} is {shown_value(sec)}")
    return None


def _meta(path: Path, src: str, metric: str, filt: str, opts: ReadOptions) -> dict[str, Any]:
    m = _NAME.match(path.name)
    task = m.group("task") if m else None
    config: dict[str, Any] = {"harness": "lm-eval", "task": task, "filter": filt}
    version = model = None
    doc: dict[str, Any] = {}
    unread = None
    if m:  # optional: without it the fingerprint is unknown
        results = path.parent / f"results_{m.group('ts')}.json"
        doc, unread = read_metadata_json(results)
    if doc:
        version = doc.get("lm_eval_version")
        model = doc.get("model_name")
        bad: list[str] = []  # sections of another shape were "internal error" (70)
        tc = _of_task(doc, "configs", task, bad) or {}
        if not isinstance(tc, dict):
            bad.append(f"configs[{task!r}] is {shown_value(tc)}")
            tc = {}
        config.update(
            harness_version=version,
            task_version=_of_task(doc, "versions", task, bad),
            task_hash=_of_task(doc, "task_hashes", task, bad),
            n_shot=_of_task(doc, "n-shot", task, bad),
            dataset=" ".join(str(tc[k]) for k in ("dataset_path", "dataset_name")
                             if tc.get(k)) or None,
        )
        if bad:  # what could be read is kept; the rest is reported (W220), never skipped
            unread = InputError(f"{'; '.join(bad)}, not the object lm-eval writes",
                                path=str(results), hint="copy the harness's file again")
    return dict(model=None if model is None else str(model), task=task,
                metric=metric,
                harness="lm-eval", harness_version=None if version is None else str(version),
                source=src, format="lm-eval-samples",
                status="success", cluster_key=opts.cluster,
                cluster_source=None if opts.cluster is None else "doc", config=config,
                unread_metadata=unread_entry(unread))
