"""Read a run file of any supported harness into an `EvalRun`.

The format is detected from content (zip magic, the first line, JSON keys), never from the file
name alone. This module is the one registry of formats; each reader lives in its own module:
`native` (evalsig JSON / JSONL and evalsig 0.1 RunFrames), `inspect` (Inspect AI `.eval` and
`.json` logs), `lmeval` (lm-eval samples JSONL), `helm` (HELM run directories and HELM run
archives, `<run>.helm.tar`: `pack_helm_run` writes one) and `tabular` (CSV / TSV).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, InputNotFoundError, InputReadError, UsageError
from ..run import EvalRun
from . import helm, inspect, lmeval, native, tabular
from ._helmtar import SUFFIX as HELM_ARCHIVE_SUFFIX
from ._helmtar import pack_helm_run, sniff_archive
from ._io import (
    E_BOUND,
    E_METRIC,
    E_READ,
    MAX_LINE_BYTES,
    ReadOptions,
    check_path,
    is_file,
    os_error,
    sha256_file,
    size_text,
)
from ._json import parse_json, read_json_doc
from ._text import Head, read_head
from ._zip import EMPTY_ZIP_MAGIC, ZIP_MAGIC

__all__ = ["COLUMN_FLAGS", "FORMATS", "HELM_ARCHIVE_SUFFIX", "OK_STATUSES", "ReadOptions",
           "os_error", "pack_helm_run", "read_run", "read_with", "sha256_file"]


def read_with(path: str | os.PathLike[str]) -> list[Path]:
    """The files beside a run path that its reader may also read (a HELM directory's
    per_instance_stats.json, scenario_state.json and run_spec.json, also when the path is its
    per_instance_stats.json; an lm-eval samples file's results_<ts>.json): a report written
    over one of them would destroy the run's data. Any other file reads nothing beside it;
    a directory (or a path that is not a file) is taken for a HELM run directory."""
    p = Path(path)
    if p.name == helm.PER_INSTANCE:
        p = p.parent
    elif (m := lmeval._NAME.match(p.name)) is not None:
        return [p.parent / f"results_{m.group('ts')}.json"]
    elif p.is_file():  # b.json, a CSV, an Inspect log: not b.json/per_instance_stats.json
        return []
    return [p / name for name in helm.RUN_FILES]

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
# read_run's column names (the CLI's --id-col ...): what they default to; CSV/TSV only
COLUMN_FLAGS = {"id_col": "item_id", "score_col": None, "cluster_col": None, "epoch_col": "epoch"}
_TABULAR = ("csv", "tsv")
# Compressed logs (none of these magics is valid UTF-8, so no text file is mistaken for one).
_COMPRESSED = {b"\x1f\x8b": ("gzip", "gunzip -k"), b"\x28\xb5\x2f\xfd": ("zstd", "zstd -d"),
               b"\xfd7zXZ\x00": ("xz", "unxz -k")}
_SUPPORTED = ("evalsig JSON/JSONL, Inspect .eval/.json logs, lm-eval samples_*.jsonl, "
              "a HELM run directory, its per_instance_stats.json or its .helm.tar archive, "
              "CSV/TSV with a header row")


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
    """Read one run. Raises `InputNotFoundError` (66), `InputReadError` (74: the file exists
    but the system cannot read it) or `InputError` (65) with a one-line fix.

    `format` forces a reader; when it fails on content auto-detection reads as another format,
    the error names that format ("drop --format, or use --format X").

    `metric` is the metric, Inspect scorer (`scorer.key` for dict values) or HELM stat;
    `filter` the lm-eval filter or HELM split when a file has several; `cluster` the metadata
    key (Inspect `metadata`, lm-eval `doc`, HELM `extra_data`, native `metadata`). The CSV/TSV
    column names default to `item_id`, the metric (else `score`), `epoch` and the cluster key
    (the CLI's --id-col, --score-col, --epoch-col, --cluster-col); naming one for a file of
    another format is an error, as is a column the file does not have.
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
    try:
        run = _forced(p, format, opts) if format != "auto" else _detect(p, opts)
    except RecursionError:  # orjson parses 1024 levels; str() or json.dumps of a value
        # nested ~1000 deep exceeds Python's recursion limit (it was exit 70)
        raise InputError("a value is nested too deeply", path=str(p), code=E_BOUND,
                         hint="this is not an eval log; check the export") from None
    if filter is not None and run.meta.format not in _FILTERED:
        raise InputError(
            f"--filter {filter!r} does not apply: {run.meta.format} files have no filters",
            path=str(p), hint="drop --filter (it selects an lm-eval filter or a HELM split)",
            code=E_METRIC,
        )
    named = {k: v for k, v in (("id_col", id_col), ("score_col", score_col),
                               ("cluster_col", cluster_col), ("epoch_col", epoch_col))
             if v != COLUMN_FLAGS[k]}
    if named and run.meta.format not in _TABULAR:  # was ignored without a word
        key, value = next(iter(named.items()))
        flag = "--" + key.replace("_", "-")
        raise InputError(
            f"{flag} {value!r} does not apply: {run.meta.format} files have no columns",
            path=str(p), code=E_METRIC,
            hint=f"drop {flag} ({key}=): the column names name CSV/TSV columns")
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
    found = _classify(p)
    if found.error is not None:
        raise found.error
    if found.doc is not None and found.format in _FROM_DOC:
        return _FROM_DOC[found.format](p, opts, found.doc, found.data)
    return _READERS[str(found.format)](p, opts)


@dataclass(frozen=True)
class _Found:
    """What the content of a run file is: a reader's name (`format`), or the `error` that
    auto-detection raises for it; `doc` and `data` when a JSON document was parsed."""

    format: str | None = None
    error: InputError | None = None
    doc: Any = None
    data: bytes | None = None


def _refuse(p: Path, message: str, hint: str) -> _Found:
    return _Found(error=InputError(message, path=str(p), hint=hint, code=E_READ))


def _classify(p: Path) -> _Found:
    """The format `--format auto` reads `p` as (the one detection; never the file name)."""
    if p.is_dir():
        if is_file(p / helm.PER_INSTANCE):
            return _Found("helm")
        try:
            check_path(p)  # the "is a directory" error
        except InputError as exc:
            return _Found(error=exc)
    if sniff_archive(p):  # a tar header holds no line end: before the first line is read
        return _Found("helm")
    head = read_head(p)
    if head.line[:4] in (ZIP_MAGIC, EMPTY_ZIP_MAGIC):
        return _Found("inspect-eval")
    for magic, (kind, tool) in _COMPRESSED.items():
        if head.line.startswith(magic):  # else "not valid UTF-8 ... re-save as UTF-8"
            return _refuse(p, f"the file is {kind}-compressed",
                           f"decompress it first ({tool} {p.name}) and pass the log")
    try:
        _check_utf8(p, head)
    except InputError as exc:
        return _Found(error=exc)
    start = head.line.lstrip()[:1]
    if start == b"{" and head.complete and head.more:
        first = _try_json(head.line)
        if isinstance(first, dict):
            return _jsonl(p, first)
    if start in (b"{", b"["):
        return _document(p, head)
    delimiter = tabular.sniff_header(head.line)
    if delimiter is not None:
        return _Found("tsv" if delimiter == "\t" else "csv")
    return _refuse(p, "unrecognised run format", f"supported: {_SUPPORTED}")


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


def _jsonl(p: Path, first: dict[str, Any]) -> _Found:
    if native.sniff_jsonl_line(first):
        return _Found("evalsig-jsonl")
    if lmeval.sniff_line(first):
        return _Found("lm-eval-samples")
    keys = ", ".join(sorted(first)[:8])
    return _refuse(p, f"JSON lines with keys [{keys}] are not a recognised run format",
                   f"supported: {_SUPPORTED}")


def _document(p: Path, head: Head) -> _Found:
    try:
        doc, data = read_json_doc(p)
    except (InputReadError, InputNotFoundError):
        raise
    except InputError as exc:
        if head.complete or exc.code != E_READ:
            return _Found(error=exc)
        return _Found(error=InputError(
            f"{exc.message.removeprefix(str(p) + ': ')}; its first line is longer than "
            f"{size_text(MAX_LINE_BYTES)}", path=str(p),
            hint="this is not a per-item log; check the export"))
    if lmeval.sniff_results(doc):
        return _Found(error=lmeval.results_error(p))
    for fmt, sniff in _DOC_SNIFFERS:
        if sniff(doc):
            return _Found(fmt, doc=doc, data=data)
    if helm.sniff_other(doc):
        return _Found(error=helm.other_error(p))
    if native.sniff_jsonl_line(doc):  # a JSONL file of a single item
        return _Found("evalsig-jsonl")
    if lmeval.sniff_line(doc):
        return _Found("lm-eval-samples")
    what = "a JSON array" if isinstance(doc, list) else "JSON file"
    return _refuse(p, f"{what} is not a recognised run format", f"supported: {_SUPPORTED}")


_DOC_SNIFFERS: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("evalsig-json", native.sniff_json), ("inspect-json", inspect.sniff_json),
    ("helm", helm.sniff_per_instance))
_FROM_DOC: dict[str, Callable[[Path, ReadOptions, Any, Any], EvalRun]] = {
    "evalsig-json": native.read_native_json, "inspect-json": inspect.read_inspect_json,
    "helm": helm.read_helm}
_DESCRIBED = {
    "evalsig-json": "an evalsig JSON run", "evalsig-jsonl": "an evalsig JSONL run",
    "inspect-eval": "an Inspect .eval log", "inspect-json": "an Inspect .json log",
    "lm-eval-samples": "an lm-eval samples file", "helm": "a HELM per_instance_stats.json",
    "csv": "a CSV file", "tsv": "a TSV file"}


def _forced(p: Path, fmt: str, opts: ReadOptions) -> EvalRun:
    """Read `p` as `fmt` (the caller's --format); when that fails and the content is
    something else, the error says what auto-detection sees and how to read it."""
    try:
        if p.is_dir() and fmt != "helm":
            check_path(p)  # the "is a directory" error
        run = _READERS[fmt](p, opts)
    except InputError as exc:
        if type(exc) is not InputError:
            raise  # a missing or unreadable file: not a question of format
        wrong = _wrong_format(p, fmt, exc)
        if wrong is None:
            raise
        raise wrong from None
    if run.n_records == 0 and run.meta.n_errored == 0:  # a one-line JSON read as JSONL
        wrong = _wrong_format(p, fmt, InputError("no items were read", path=str(p)))
        if wrong is not None:
            raise wrong
    return run


def _wrong_format(p: Path, fmt: str, exc: InputError) -> InputError | None:
    try:
        found = _classify(p)
    except InputError:  # the file cannot be read a second time: keep the first error
        return None
    if found.format == fmt:
        return None  # the file is what was asked for; the error is about its content
    why = exc.message.removeprefix(f"{p}: ")
    if len(why) > 200:  # a JSON line read as a CSV header: its start and its count
        why = f"{why[:140]} … {why[-50:]}"
    is_dir = p.is_dir()
    head = f"--format {fmt} does not fit this {'directory' if is_dir else 'file'} ({why})"
    if found.format is not None:
        described = _DESCRIBED[found.format]
        if is_dir:
            described = "a HELM run directory"
        elif found.format == "helm" and sniff_archive(p):
            described = "a HELM run archive"
        return InputError(f"{head}; it looks like {described}", path=str(p), code=exc.code,
                          hint=f"drop --format (auto-detection reads it as {found.format}), "
                          f"or use --format {found.format}")
    assert found.error is not None
    seen = found.error.message.removeprefix(f"{p}: ")
    seen = "" if seen == why else f" ({seen})"  # "is a directory" said once
    return InputError(f"{head}; auto-detection finds no supported format either{seen}",
                      path=str(p), code=exc.code, hint=found.error.hint)
