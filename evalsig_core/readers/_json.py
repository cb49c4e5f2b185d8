"""JSON for readers: one parse path (orjson when installed, json as the reference and fallback).

The standard library is also the fallback for what orjson refuses but JSON logs contain (NaN /
Infinity tokens) and for integers orjson would round (20 digits or more), so both give the same
values. Every failure becomes one `InputError` line naming the file, the line and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._encoding import utf8_start
from ._io import BOM, E_BOUND, MAX_JSON_BYTES, is_file, line_blocks
from ._text import read_bytes

try:  # the fastest parser available; json is the reference behaviour
    import orjson

    _fast_loads: Any = orjson.loads
except ImportError:  # pragma: no cover - orjson is in the dev extra
    _fast_loads = json.loads


def parse_json(text: str | bytes, path: str, *, line: int | None = None) -> Any:
    """Parse one JSON document; NaN/Infinity tokens are accepted (the doctor reports them).

    Nesting is bounded by the parsers themselves (orjson refuses more than 1024 levels, the
    standard library raises RecursionError): both become one E110 line. Walking the parsed
    value to enforce a tighter bound would cost more than the parse itself. A document in
    UTF-16 or UTF-32 (an archive member) is refused as the files are (`_encoding`).
    """
    if isinstance(text, bytes):
        text = text.removeprefix(BOM) if line is not None else utf8_start(text, path, "JSON")
    try:
        value = _fast_loads(text)
    except (ValueError, RecursionError):
        return _slow_loads(text, path, line)
    if _fast_loads is not json.loads and _LONG_NUMBER[type(text)].search(text):
        value = _slow_loads(text, path, line)  # orjson turns integers >= 2**64 into floats
    return value


# 20 digits in a row: an integer orjson cannot hold (it would become a float, and two distinct
# item ids could collide); json keeps it exact. Long float mantissas match too (same result).
_LONG_NUMBER: dict[type, Any] = {bytes: re.compile(rb"\d{20}"), str: re.compile(r"\d{20}")}


def reparse_exact(line: bytes) -> Any:
    """A JSON line parsed again with json, for the per-line hot paths whose id came back from
    the fast parse as a float (an integer beyond 2**64 that orjson rounded, or a genuine
    float id): the callers check the id's type, one comparison per line."""
    return json.loads(line)


def exact_lines(p: Path) -> Iterator[Any]:
    """The JSON lines of `p` that hold a run of 20 digits, parsed again with json (integers
    exact). For an error message about a value orjson rounded (it reads an integer >= 2**64 as
    a float): the file is read again only when such a message is written. Lines json refuses
    are skipped (the reader reported them already, or they hold no such value)."""
    for block in line_blocks(p, ends=True):  # (JSON lines: CR line ends too)
        for line in block:
            if _LONG_NUMBER[bytes].search(line):
                try:
                    yield json.loads(line)
                except (ValueError, RecursionError):
                    continue


def _slow_loads(text: str | bytes, path: str, line: int | None) -> Any:
    where = f" line {line}" if line is not None else ""
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(
            f"JSON{where} is nested too deeply", path=path, hint="this is not an eval log",
            code=E_BOUND,
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{'line ' + str(line) + ' is ' if line else ''}not valid UTF-8 (byte {exc.start})",
            path=path, hint="re-save the file as UTF-8",
        ) from None
    except json.JSONDecodeError as exc:
        at = f"line {line}" if line is not None else f"line {exc.lineno} column {exc.colno}"
        raise _several_values(exc, path, line) or InputError(
            f"invalid JSON at {at}: {exc.msg}", path=path,
            hint="the file is truncated or not JSON; re-export it",
        ) from None


_JSON_SPACE = " \t\r\n"


def _several_values(exc: json.JSONDecodeError, path: str,
                    line: int | None) -> InputError | None:
    """The error for text holding more than one JSON value ("Extra data") when what separates
    them says what is wrong: a lone CR (JSON lines with classic Mac line ends, one line to a
    reader that splits lines at LF), or a line break after a first value that is an array (a
    JSONL file whose lines are arrays). None: the generic message."""
    if exc.msg != "Extra data":
        return None
    doc, end = exc.doc, exc.pos
    while end > 0 and doc[end - 1] in _JSON_SPACE:  # back over the whitespace between them
        end -= 1
    gap = doc[end:exc.pos]
    if "\r" in gap and "\n" not in gap:  # all of a file with CR line ends is its line 1
        where = f" (line {line} holds two JSON lines)" if line is not None and line > 1 else ""
        return InputError(f"the file uses CR line ends (classic Mac){where}; evalsig reads LF "
                          "or CRLF line ends", path=path,
                          hint="convert the line ends to LF, e.g. tr '\\r' '\\n' < old > new")
    start = 0
    while doc[start] in _JSON_SPACE:  # to the first value (no copy of a 1 GiB document)
        start += 1
    if "\n" in gap and doc[start:start + 1] == "[":
        first = line if line is not None else doc.count("\n", 0, start) + 1
        return InputError(f"line {first} is a JSON array, and more JSON follows: each line "
                          "of a JSONL file must be one object", path=path,
                          hint="write one JSON object per line (the run header or an item)")
    return None


def parse_line(line: bytes, path: str, lineno: int) -> Any:
    """The slow path of a JSONL line the fast parser refused: blank (None), NaN tokens, errors."""
    if not line.strip():
        return None
    return parse_json(line, path, line=lineno)


FAST_LOADS = _fast_loads


def parse_any_line(line: bytes, path: str, lineno: int) -> Any:
    """One JSONL line: the fast parser, else `parse_line` (None for a blank line)."""
    try:
        return _fast_loads(line)
    except ValueError:
        return parse_line(line, path, lineno)


def read_json_doc(p: Path) -> tuple[Any, bytes]:
    """One whole JSON document (bounded by MAX_JSON_BYTES) and its bytes."""
    data = read_bytes(p, limit=MAX_JSON_BYTES)
    return parse_json(data, str(p)), data


def read_metadata_json(p: Path) -> tuple[dict[str, Any], InputError | None]:
    """A JSON file beside the run read for metadata only (lm-eval `results_*.json`, HELM
    `run_spec.json`): its document, or {} when it is absent or unusable (the metadata is then
    unknown). A file that exists but cannot be read (permission, I/O error), is not valid
    JSON, is too big or is not a JSON object is not an error for the run, but it is never
    skipped silently: its `InputError` comes back for the reader to record in
    `RunMeta.unread_metadata` (the doctor's W220)."""
    try:
        if not is_file(p):
            return {}, None
    except InputError as exc:
        return {}, exc
    return metadata_doc(lambda: read_json_doc(p)[0], str(p))


def metadata_doc(load: Callable[[], Any], src: str) -> tuple[dict[str, Any], InputError | None]:
    """`read_metadata_json` of a file that exists (`load` reads and parses it, raising
    `InputError`; `src` names it): also an archive member."""
    try:
        doc = load()
    except InputError as exc:
        return {}, exc
    if not isinstance(doc, dict):
        return {}, InputError(f"holds a JSON {type(doc).__name__}, not the object the harness "
                              "writes", path=src, hint="copy the harness's file again")
    return doc, None


def unread_entry(exc: InputError | None) -> tuple[tuple[str, str], ...]:
    """`RunMeta.unread_metadata` for the error `read_metadata_json` returned (or None)."""
    return () if exc is None else ((exc.message, exc.hint or "copy the harness's file again"),)
