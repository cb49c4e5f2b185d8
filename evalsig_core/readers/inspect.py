"""Inspect AI logs: `.eval` archives (zstd or DEFLATE members) and `.json` logs.

A `.eval` is a zip holding `header.json` (run status, task, model, scorers), `summaries.json`
(one small record per sample: id, epoch, metadata, scores, error) and `samples/<id>_epoch_<n>.json`
(the full transcripts). The fast path parses only `header.json` and `summaries.json`; when the
summaries are absent (an interrupted run) or list fewer samples than there are sample files
(stale), every sample file is parsed instead. Summaries listing more samples than there are
sample files are an error naming the missing ones. Every other member is decompressed and
CRC-checked, and a sample file checked to hold a whole JSON object: a damaged member is an
error naming it, never a run gated without a word. A `.json` log holds the same header keys
and a `samples` list.

Epochs are Inspect's, numbered from 1 (`samples/<id>_epoch_1.json` is the first): an epoch
below 1, a boolean or a non-integer is an error naming the sample, never read as epoch 1.

The metric is the scorer name (`--metric match`) or `scorer.key` for dict-valued scores. Values
map as Inspect maps them (C=1, P=0.5, I=0, N=0, yes/true=1, no/false=0, numeric strings,
booleans, numbers), except that a value Inspect would silently turn into 0 is an error here.
Errored samples are excluded and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..numtext import shown_value
from ..run import EvalRun
from ._columns import Columns, build_run
from ._dupkeys import ANY, Spec, refuse_duplicates
from ._io import E_FIELD, E_METRIC, ReadOptions, sha256_file, sha256_hex
from ._json import parse_json, read_json_doc
from ._zip import SafeZip

_VALUE_MAP = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_NUMERIC = re.compile(r"^\d*\.?\d*$")


def sniff_json(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("eval"), dict)
            and ("samples" in doc or "status" in doc) and "version" in doc)


def is_eval_archive(z: SafeZip) -> bool:
    return "header.json" in z.names or "_journal/start.json" in z.names


def read_inspect_eval(path: Path, opts: ReadOptions) -> EvalRun:
    src = str(path)
    with SafeZip(path) as z:
        if not is_eval_archive(z):
            raise InputError(
                "zip archive is not an Inspect log (no header.json or _journal/start.json)",
                path=src, hint="pass an Inspect .eval log, or a supported run file",
            )
        sample = _sample_spec(opts)
        if "header.json" in z.names:
            header = _member(z, "header.json", _HEADER_SPEC, src)
        else:  # an interrupted run: only the start record was written
            start = _member(z, "_journal/start.json", _HEADER_SPEC, src)
            if not isinstance(start, dict):  # a list was "not a mapping" (exit 70)
                raise InputError("_journal/start.json is not an object", path=src,
                                 hint="re-export the log")
            header = {"status": "started", **start}
        sample_names = [n for n in z.names if n.startswith("samples/") and n.endswith(".json")]
        records: list[Any] | None = None
        if "summaries.json" in z.names:
            records = _member(z, "summaries.json", sample, src)
            if not isinstance(records, list) or len(records) < len(sample_names):
                records = None  # stale summaries: the sample files decide
            elif sample_names:
                _no_sample_missing(records, sample_names, src)
        source = "summaries.json"
        if records is None:
            source = "samples/*.json"
            records = [_sample(z, n, sample, src) for n in sample_names]
        _verify_the_rest(z, src)
    if not isinstance(header, dict):
        raise InputError("header.json is not an object", path=src, hint="re-export the log")
    return _build(header, records, opts, src, sha256_file(path), "inspect-eval", source)


def read_inspect_json(path: Path, opts: ReadOptions, doc: Any = None,
                      data: bytes | None = None) -> EvalRun:
    if doc is None or data is None:
        doc, data = read_json_doc(path)
    src = str(path)
    if not sniff_json(doc):
        raise InputError("JSON file is not an Inspect log", path=src,
                         hint="expected the keys version, status, eval and samples")
    refuse_duplicates(data, doc, {**_HEADER_SPEC, "samples": _sample_spec(opts)}, src)
    samples = doc.get("samples")
    if samples is None:
        raise InputError(
            "the log has no samples", path=src,
            hint="re-run the eval with log_samples enabled (the default), or pass the .eval",
            code="E105",
        )
    return _build(doc, samples, opts, src, sha256_hex(data), "inspect-json", "samples")


# What `_build` and `_resolve_metric` read of the header (`_dupkeys.Spec`).
_HEADER_SPEC: Spec = {
    "version": None, "status": None,
    "eval": {"task": None, "task_version": None, "model": None, "run_id": None,
             "packages": {"inspect_ai": None}, "dataset": {"name": None, "samples": None},
             "scorers": {"name": None}}}


def _sample_spec(opts: ReadOptions) -> Spec:
    """What `_collect` and `_resolve_metric` read of a sample (every scorer's value keys)."""
    spec: Spec = {"id": None, "epoch": None, "error": None,
                  "scores": {ANY: {"value": {ANY: None}}}}
    if opts.cluster is not None:
        spec["metadata"] = {opts.cluster: None}
    return spec


def _member(z: SafeZip, name: str, spec: Spec, src: str) -> Any:
    """An archive member parsed, refusing a duplicate key `spec` reads (E117); an error names
    the member."""
    data = z.read(name)
    try:
        value = parse_json(data, src)
    except InputError as exc:
        if type(exc) is not InputError:
            raise
        raise InputError(f"member {name!r}: {exc.message.removeprefix(src + ': ')}", path=src,
                         hint=exc.hint, code=exc.code) from None
    refuse_duplicates(data, value, spec, src, name)
    return value


def _sample(z: SafeZip, name: str, spec: Spec, src: str) -> Any:
    value = _member(z, name, spec, src)
    if not isinstance(value, dict):  # was "sample #11 is not an object": which file?
        raise InputError(f"member {name!r} holds a JSON {type(value).__name__}, not a sample",
                         path=src, hint=_DAMAGED, code=E_FIELD)
    return value


_DAMAGED = "the log is damaged or incomplete; copy it again or re-export it from Inspect"


def _no_sample_missing(records: list[Any], names: list[str], src: str) -> None:
    """Refuse summaries.json listing more samples than the archive has sample files: the
    sample files decided before, and the run silently lost the samples whose files were gone
    (40 summaries, 39 files: a run of 39)."""
    if len(records) == len(names):
        return
    expected = {f"samples/{r.get('id')}_epoch_{r.get('epoch', 1)}.json" for r in records
                if isinstance(r, dict)}  # Inspect's name for a sample's file
    missing = sorted(expected - set(names))
    shown = f"; missing: {', '.join(missing[:3])}" if missing else ""
    raise InputError(f"summaries.json lists {len(records)} samples but the archive holds "
                     f"{len(names)} sample files{shown}", path=src, hint=_DAMAGED)


def _verify_the_rest(z: SafeZip, src: str) -> None:
    """Every member not read yet is read and discarded: decompressed, its size and CRC
    checked (`SafeZip.read`), a sample file checked to hold one whole JSON object. The scores
    come from summaries.json, but a damaged sample file means a damaged log, which is never
    gated in silence. Cost: decompression, not parsing (bench_readers' 10k-sample archive:
    0.10 -> 0.55 s, still 25x faster than parsing every sample)."""
    for name in z.names:
        if name in z.read_names:
            continue
        data = z.read(name, check_only=True)
        if name.startswith("samples/") and name.endswith(".json") and not (
                data[:64].lstrip()[:1] == b"{" and data[-64:].rstrip()[-1:] == b"}"):
            raise InputError(f"member {name!r} is not a whole JSON object (truncated or not "
                             "JSON)", path=src, hint=_DAMAGED)


def _build(header: dict[str, Any], records: Any, opts: ReadOptions, src: str, sha: str,
           fmt: str, source: str) -> EvalRun:
    if not isinstance(records, list):
        raise InputError(f"{source} is not a list of samples", path=src, hint="re-export the log")
    ev = _obj(header.get("eval"))
    scorer, key = _resolve_metric(opts.metric, ev, records, src)
    metric = scorer if key is None else f"{scorer}.{key}"
    cols = _collect(records, scorer, key, metric, opts.cluster, src)
    packages, dataset = _obj(ev.get("packages")), _obj(ev.get("dataset"))
    version = packages.get("inspect_ai")
    config = {"harness": "inspect_ai", "harness_version": version, "task": ev.get("task"),
              "task_version": ev.get("task_version"), "dataset": dataset.get("name"),
              "dataset_samples": dataset.get("samples")}
    meta = dict(run_id=_s(ev.get("run_id")), model=_s(ev.get("model")), task=_s(ev.get("task")),
                metric=metric, harness="inspect_ai", harness_version=_s(version), source=src,
                sha256=sha, format=fmt, status=str(header.get("status", "success")),
                cluster_key=opts.cluster,
                cluster_source=None if opts.cluster is None else f"metadata ({source})",
                config=config)
    return build_run(cols, meta, src, first_epoch=1)  # Inspect numbers epochs from 1


def _collect(records: Iterable[Any], scorer: str, key: str | None, metric: str,
             cluster: str | None, src: str) -> Columns:
    cols = Columns(clusters=[] if cluster is not None else None)
    for pos, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise InputError(f"sample #{pos + 1} is not an object", path=src,
                             hint="re-export the log", code=E_FIELD)
        sid = rec.get("id")
        if rec.get("error"):
            cols.add_errored(sid if rec.get("epoch", 1) == 1 else f"{sid} epoch {rec['epoch']}")
            continue
        if sid is None:  # was "item 'None': sample has no score 'match'; it has []"
            raise InputError(f"sample #{pos + 1} has no id", path=src, code=E_FIELD,
                             hint="every sample needs an id to be paired; re-export the log")
        item = str(sid)
        scores = rec.get("scores") or {}
        if not isinstance(scores, dict):  # 3 raised TypeError (70); "match" was indexed
            raise InputError(f"sample's scores is {shown_value(scores)}, not an object",
                             path=src, item=item, hint="re-export the log", code=E_FIELD)
        if scorer not in scores:
            raise InputError(
                f"sample has no score {scorer!r}; it has {sorted(scores)}", path=src, item=item,
                hint="choose one of those with --metric", code=E_METRIC,
            )
        cols.ids.append(sid)
        cols.epochs.append(rec.get("epoch", 1))
        cols.scores.append(_value(scores[scorer], key, metric, src, item))
        if cols.clusters is not None:
            md = rec.get("metadata")
            cols.clusters.append(md.get(cluster) if isinstance(md, dict) else None)
    return cols


def _value(score: Any, key: str | None, metric: str, src: str, item: str) -> Any:
    v = score.get("value") if isinstance(score, dict) else score
    if key is not None:
        if not isinstance(v, dict) or key not in v:
            has = sorted(v) if isinstance(v, dict) else type(v).__name__
            raise InputError(f"score {metric!r} not found; the value is {has}", path=src,
                             item=item, hint="choose an existing key with --metric scorer.key",
                             code=E_METRIC)
        v = v[key]
    return to_number(v, metric, src, item)


def to_number(v: Any, metric: str, src: str, item: str) -> Any:
    """Inspect's value_to_float, without its silent 0 for values it does not know."""
    if isinstance(v, bool | int | float):
        return v
    if isinstance(v, str):
        if v in _VALUE_MAP:
            return _VALUE_MAP[v]
        low = v.strip().lower()
        if low in _WORDS:
            return _WORDS[low]
        if low and low != "." and _NUMERIC.match(low):
            return float(low)
    shown = "null" if v is None else f"{type(v).__name__} {str(v)[:40]!r}"
    if isinstance(v, dict):
        raise InputError(f"score {metric!r} is a dict with keys {sorted(v)}", path=src,
                         item=item, hint=f"pass --metric {metric}.<key>", code=E_METRIC)
    raise InputError(f"score {metric!r} is {shown}, not a number", path=src, item=item,
                     hint="scores must be numbers, booleans or C/P/I/N", code=E_FIELD)


def _resolve_metric(metric: str | None, ev: dict[str, Any], records: list[Any],
                    src: str) -> tuple[str, str | None]:
    """(scorer, key or None) from `--metric`, checked against the scorers the log has."""
    values: dict[str, Any] = {}
    scorers = ev.get("scorers")  # names only, for the choices; 3 was a TypeError (70)
    for s in scorers if isinstance(scorers, list) else []:
        if isinstance(s, dict) and s.get("name") is not None:
            values.setdefault(str(s["name"]), None)
    for rec in records[:200]:
        scores = rec.get("scores") if isinstance(rec, dict) else None
        if isinstance(scores, dict):
            for name, sc in scores.items():
                v = sc.get("value") if isinstance(sc, dict) else sc
                if values.get(name) is None:
                    values[name] = v
    choices = sorted(
        [n for n, v in values.items() if not isinstance(v, dict)]
        + [f"{n}.{k}" for n, v in values.items() if isinstance(v, dict) for k in v])
    if metric is None:
        if len(choices) != 1:
            raise InputError(
                f"the log has several scores {choices} and none was chosen" if choices
                else "the log has no scores", path=src,
                hint="pass --metric with one of those", code=E_METRIC)
        metric = choices[0]
    if metric in values:
        return metric, None
    for i, ch in enumerate(metric):
        if ch == "." and metric[:i] in values:
            return metric[:i], metric[i + 1:]
    raise InputError(f"scorer {metric!r} not found; the log has {choices}", path=src,
                     hint="choose one of those with --metric (scorer or scorer.key)",
                     code=E_METRIC)


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _s(v: Any) -> str | None:
    return None if v is None else str(v)
