"""Read a run file of any supported harness into an `EvalRun`.

The format is detected from content (zip magic, JSON keys), never from the file name alone.
This module is the one registry of formats; each reader lives in its own module.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, UsageError
from ..run import EvalRun
from . import native
from ._io import ReadOptions, check_path, decode_text, parse_json, read_bytes

__all__ = ["FORMATS", "ReadOptions", "read_run"]

FORMATS = ("auto", "evalsig-json", "evalsig-jsonl")


def read_run(
    path: str | os.PathLike[str],
    *,
    metric: str | None = None,
    cluster: str | None = None,
    filter: str | None = None,
    format: str = "auto",
    allow_failed_run: bool = False,
) -> EvalRun:
    """Read one run. Raises `InputNotFoundError` (66) or `InputError` (65) with a one-line fix."""
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    opts = ReadOptions(metric=metric, cluster=cluster, filter=filter,
                       allow_failed_run=allow_failed_run)
    p = check_path(path)
    data = read_bytes(p)
    run = _dispatch(p, data, opts, format)
    if run.meta.status not in ("success", "started") and not opts.allow_failed_run:
        raise InputError(
            f"the run's status is {run.meta.status!r}", path=str(p),
            hint="re-run the eval, or pass --allow-failed-run to gate the samples it has",
            code="E106",
        )
    return run


def _dispatch(p: Path, data: bytes, opts: ReadOptions, fmt: str) -> EvalRun:
    src = str(p)
    if data[:4] == b"PK\x03\x04":
        raise InputError(
            "zip archive (Inspect .eval?) is not supported by this build", path=src,
            hint="convert it with `inspect log convert --to json`",
        )
    text = decode_text(data, src)
    stripped = text.lstrip()
    if fmt in ("auto", "evalsig-json") and stripped.startswith("{") and (
        fmt == "evalsig-json" or _is_single_json(stripped)
    ):
        doc = parse_json(text, src)
        if native.sniff_json(doc):
            return native.read_native_json(p, data, doc, opts)
        raise InputError(
            "JSON file is not a recognised run format", path=src,
            hint="expected an evalsig run (schema evalsig.run/1 or an evalsig 0.1 RunFrame)",
        )
    if stripped.startswith("["):
        parse_json(text, src)  # a clear error for broken or absurdly nested JSON first
        raise InputError(
            "a JSON array is not a recognised run format", path=src,
            hint="expected an evalsig run object with an items list",
        )
    first = stripped.split("\n", 1)[0]
    if first.startswith("{"):
        head = parse_json(first, src, line=1)
        if fmt == "evalsig-jsonl" or native.sniff_jsonl_line(head):
            return native.read_native_jsonl(p, data, opts)
    raise InputError(
        "unrecognised run format", path=src,
        hint="supported: evalsig JSON/JSONL run files",
    )


def _is_single_json(text: str) -> bool:
    """A JSONL file's first line is a complete object followed by more lines."""
    first, sep, rest = text.partition("\n")
    if not sep or not rest.strip():
        return True
    try:
        import json

        json.loads(first)
    except ValueError:
        return True  # the first line is not a complete document: a pretty-printed JSON file
    return False
