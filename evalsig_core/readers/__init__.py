"""Read a run file of any supported harness into an `EvalRun`.

The format is detected from content (zip magic, the first line, JSON keys), never from the file
name alone. This module is the one registry of formats; each reader lives in its own module:
`native` (evalsig JSON / JSONL and evalsig 0.1 RunFrames), `inspect` (Inspect AI `.eval` and
`.json` logs), `lmeval` (lm-eval samples JSONL), `helm` (HELM run directories) and `tabular`
(CSV / TSV).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..run import EvalRun
from . import helm, inspect, lmeval, native, tabular
from ._io import (
    E_METRIC,
    E_READ,
    MAX_LINE_BYTES,
    Head,
    ReadOptions,
    check_path,
    is_file,
    parse_json,
    read_head,
    read_json_doc,
    size_text,
)
from ._zip import EMPTY_ZIP_MAGIC, ZIP_MAGIC

__all__ = ["FORMATS", "OK_STATUSES", "ReadOptions", "read_run"]

Reader = Callable[[Path, ReadOptions], EvalRun]

_READERS: dict[str, Reader] = {
    "evalsig-json": native.read_native_json,
    "evalsig-jsonl": native.read_native_jsonl,
    "inspect-eval": inspect.read_inspect_eval,
    "inspect-json": inspect.read_inspect_json,
    "lm-eval-samples": lmeval.read_lmeval_samples,
    "helm": helm.read_helm,
    "csv": lambda p, o: tabular.read_tabular(p, o, ","),
    "tsv": lambda p, o: tabular.read_tabular(p, o, "\t"),
}
FORMATS = ("auto", *_READERS)
OK_STATUSES = ("success", "started")
_FILTERED = ("lm-eval-samples", "helm")
# Compressed logs (none of these magics is valid UTF-8, so no text file is mistaken for one).
_COMPRESSED = {b"\x1f\x8b": ("gzip", "gunzip -k"), b"\x28\xb5\x2f\xfd": ("zstd", "zstd -d"),
               b"\xfd7zXZ\x00": ("xz", "unxz -k")}
_SUPPORTED = ("evalsig JSON/JSONL, Inspect .eval/.json logs, lm-eval samples_*.jsonl, "
              "a HELM run directory or per_instance_stats.json, CSV/TSV with a header row")


def read_run(
    path: str | os.PathLike[str],
    *,
    metric: str | None = None,
    cluster: str | None = None,
    filter: str | None = None,
    format: str = "auto",
    allow_failed_run: bool = False,
    id_col: str = "item_id",
    score_col: str | None = None,
    cluster_col: str | None = None,
    epoch_col: str = "epoch",
) -> EvalRun:
    """Read one run. Raises `InputNotFoundError` (66) or `InputError` (65) with a one-line fix.

    `metric` is the metric, Inspect scorer (`scorer.key` for dict values) or HELM stat;
    `filter` the lm-eval filter or HELM split when a file has several; `cluster` the metadata
    key (Inspect `metadata`, lm-eval `doc`, HELM `extra_data`, native `metadata`). The CSV/TSV
    column names default to `item_id`, the metric (else `score`), `epoch` and the cluster key.
    """
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    for name, value in (("metric", metric), ("cluster", cluster), ("filter", filter)):
        if value is not None and not value.strip():
            raise UsageError(f"{name} is an empty string", hint=f"pass a {name} name, or None")
    opts = ReadOptions(metric=metric, cluster=cluster, filter=filter,
                       allow_failed_run=allow_failed_run, id_col=id_col, score_col=score_col,
                       cluster_col=cluster_col, epoch_col=epoch_col)
    p = check_path(path, directory_ok=True)
    if p.is_dir() and format not in ("auto", "helm"):
        check_path(p)  # the "is a directory" error
    run = _READERS[format](p, opts) if format != "auto" else _detect(p, opts)
    if filter is not None and run.meta.format not in _FILTERED:
        raise InputError(
            f"--filter {filter!r} does not apply: {run.meta.format} files have no filters",
            path=str(p), hint="drop --filter (it selects an lm-eval filter or a HELM split)",
            code=E_METRIC,
        )
    if run.meta.status not in OK_STATUSES:
        if not opts.allow_failed_run:
            raise InputError(
                f"the run's status is {run.meta.status!r}", path=str(p),
                hint="re-run the eval, or pass --allow-failed-run to gate the samples it has",
                code="E106",
            )
        # The doctor reads this: a failure the caller accepted is a warning (W216).
        run = run.with_meta(failure_allowed=True)
    return run


def _detect(p: Path, opts: ReadOptions) -> EvalRun:
    if p.is_dir():
        if is_file(p / helm.PER_INSTANCE):
            return helm.read_helm(p, opts)
        check_path(p)  # the "is a directory" error
    head = read_head(p)
    if head.line[:4] in (ZIP_MAGIC, EMPTY_ZIP_MAGIC):
        return inspect.read_inspect_eval(p, opts)
    for magic, (kind, tool) in _COMPRESSED.items():
        if head.line.startswith(magic):  # else "not valid UTF-8 ... re-save as UTF-8"
            raise InputError(f"the file is {kind}-compressed", path=str(p), code=E_READ,
                             hint=f"decompress it first ({tool} {p.name}) and pass the log")
    _check_utf8(p, head)
    start = head.line.lstrip()[:1]
    if start == b"{" and head.complete and head.more:
        first = _try_json(head.line)
        if isinstance(first, dict):
            return _jsonl(p, first, opts)
    if start in (b"{", b"["):
        return _document(p, head, opts)
    delimiter = tabular.sniff_header(head.line)
    if delimiter is not None:
        return tabular.read_tabular(p, opts, delimiter)
    raise InputError("unrecognised run format", path=str(p), hint=f"supported: {_SUPPORTED}",
                     code=E_READ)


def _check_utf8(p: Path, head: Head) -> None:
    try:
        head.line.decode("utf-8")
    except UnicodeDecodeError as exc:
        if head.complete or exc.start < len(head.line) - 4:  # not a character cut by the bound
            raise InputError(f"not valid UTF-8 (line 1, byte {exc.start})", path=str(p),
                             hint="re-save the file as UTF-8", code=E_READ) from None


def _try_json(line: bytes) -> Any:
    try:
        return parse_json(line, "")
    except InputError:
        return None  # not one complete JSON value: a pretty-printed document


def _jsonl(p: Path, first: dict[str, Any], opts: ReadOptions) -> EvalRun:
    if native.sniff_jsonl_line(first):
        return native.read_native_jsonl(p, opts)
    if lmeval.sniff_line(first):
        return lmeval.read_lmeval_samples(p, opts)
    keys = ", ".join(sorted(first)[:8])
    raise InputError(f"JSON lines with keys [{keys}] are not a recognised run format",
                     path=str(p), hint=f"supported: {_SUPPORTED}", code=E_READ)


def _document(p: Path, head: Head, opts: ReadOptions) -> EvalRun:
    try:
        doc, data = read_json_doc(p)
    except InputError as exc:
        if head.complete or exc.code != E_READ:
            raise
        raise InputError(f"{exc.message.removeprefix(str(p) + ': ')}; its first line is longer "
                         f"than {size_text(MAX_LINE_BYTES)}", path=str(p),
                         hint="this is not a per-item log; check the export") from None
    if native.sniff_json(doc):
        return native.read_native_json(p, opts, doc, data)
    if inspect.sniff_json(doc):
        return inspect.read_inspect_json(p, opts, doc, data)
    if helm.sniff_per_instance(doc):
        return helm.read_helm(p, opts, doc, data)
    if lmeval.sniff_results(doc):
        raise lmeval.results_error(p)
    if helm.sniff_other(doc):
        raise helm.other_error(p)
    if native.sniff_jsonl_line(doc):  # a JSONL file of a single item
        return native.read_native_jsonl(p, opts)
    if lmeval.sniff_line(doc):
        return lmeval.read_lmeval_samples(p, opts)
    what = "a JSON array" if isinstance(doc, list) else "JSON file"
    raise InputError(f"{what} is not a recognised run format", path=str(p),
                     hint=f"supported: {_SUPPORTED}", code=E_READ)
