"""Duplicate JSON keys among the keys a reader reads: one E117 line, never the last value.

A JSON parser keeps the last of two equal keys without a word (orjson and json alike), so a
hand-edited or merged record `{"item_id": "a", "score": 1, "score": 0}` read as score 0 and
`{"item_id": "a", ..., "item_id": "b"}` lost the item "a". `refuse_duplicates` checks a JSON
document (or one JSON line, such as a JSONL header) that was already parsed:

- pre-check, at C speed: the colons of the text against the colons of the parsed value written
  back compactly. Every key has one colon and colons inside strings are written back alike, so
  the counts are equal unless a key was dropped (a duplicate, at any depth) or the text spells a
  colon `\\u003a` (then the check below runs too). Measured: 2.5% of the read of an Inspect
  `.eval` (summaries), 4% of a native JSON document's, 5% of a HELM per_instance_stats.json's.
- only when they differ: the document is parsed again with `json` keeping every key, and the
  first duplicate of a key the reader reads (`Spec`) is an error naming the file, the record,
  its item and the key. Duplicates of keys evalsig does not read are ignored.

JSONL item lines (the native reader; `refuse_line_duplicates`) are checked per block of lines
(`_io.line_blocks`), with no second parse and no writing back on the fast path:

- the reader adds up the keys of the objects it parsed: each line's top-level key count, plus
  the keys of its `metadata` object (with --cluster: one, the cluster key, until a block
  needs them all; for the lines its fast path does not take, those of every object value:
  `keys_of`). That sum is at most the keys the objects hold;
- the block's colons are counted at numpy speed: first every colon byte, then (when those
  differ) only the colons right after a quote or whitespace (`_io.key_colons`: a key's colon
  always is; `"12:30"`'s is not). Either count is at least the number of keys written.
  Keys written >= keys held >= the sum, so a count equal to the sum proves no key was
  dropped anywhere in the block, at any depth, whatever escapes the text uses;
- only a block where neither count equals the sum (a repeated key, a colon after a quote
  inside a string, or an object the sum leaves out, such as one nested inside `metadata`) is
  parsed again, as one array written back (the document pre-check), and only if that differs
  too, line by line, each line checked as a document is: the error names the line.
A repeated key evalsig does not read is not refused, at any depth (as in documents). Cost
(bench/bench_readers.py, callgrind): +2.5% of the read with --cluster and metadata of one key,
+11% without --cluster (every metadata key is added up), up to +21% for files the sum misses at
first. lm-eval samples lines are not checked (+17%).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any

from ..errors import InputError
from ._io import BOM, Lines, count_colons
from ._json import parse_any_line

try:
    import orjson

    _loads: Any = orjson.loads

    def _dumps(value: Any) -> bytes:
        try:
            return orjson.dumps(value)
        except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits
            return json.dumps(value).encode()
except ImportError:  # pragma: no cover - orjson is in the dev extra
    _loads = json.loads

    def _dumps(value: Any) -> bytes:
        return json.dumps(value).encode()

E_DUPLICATE = "E117"

# What a reader reads of a JSON value: for an object, the keys it reads mapped to what it reads
# of their values (None: the value as a whole); ANY stands for every key. A list is read element
# by element with the spec of the list itself. IDS names the keys that identify a record.
Spec = dict[str, Any]
ANY = "*"
IDS = ("item_id", "id", "instance_id", "doc_id")


def refuse_duplicates(data: bytes | str, value: Any, spec: Spec, src: str,
                      where: str = "") -> None:
    """Raise E117 if `data` (parsed as `value`) repeats a key `spec` reads; `where` names the
    part of the file `data` is (an archive member, "line 1")."""
    raw = (data.encode() if isinstance(data, str) else data).removeprefix(BOM)
    if count_colons(raw) == count_colons(_dumps(value)) and not _escaped_colon(raw):
        return
    try:
        exact = json.loads(raw, object_pairs_hook=_Pairs.of)
    except (ValueError, RecursionError):  # the reader parsed it: not reached in practice
        return
    found = _first(exact, spec, "", None)
    if found is None:
        return
    key, path, n, item = found
    at = f"{where} " if where else ""
    inside = f" in {at}{path}" if path else (f" in {where}" if where else "")
    raise InputError(
        f"the key {key!r} appears {'twice' if n == 2 else f'{n} times'}{inside}; a JSON "
        "reader keeps only the last value",
        path=src, item=None if item is None else str(item), code=E_DUPLICATE,
        hint=f"remove one of the {'two' if n == 2 else n} {key!r} keys; check how the file "
        "was edited or merged")


def check_block(items: list[bytes], keys: int, base: int, spec: Spec, src: str) -> bool:
    """E117 if a line of `items` (a `Lines` block after `base` lines) repeats a key `spec`
    reads. `keys`: the keys of the objects parsed from it as the reader added them up (at
    most what they hold), compared with the block's colons (module docstring). False when
    they differed and the block was parsed again (it held no such duplicate)."""
    assert isinstance(items, Lines)
    colons = items.colons()
    if keys == colons or keys == items.colons(keys_only=True):
        return True
    refuse_line_duplicates(items, colons, base, spec, src,
                           lambda line, no: parse_any_line(line, src, no))
    return False


def refuse_line_duplicates(lines: list[bytes], colons: int, base: int, spec: Spec, src: str,
                           parse: Callable[[bytes, int], Any]) -> None:
    """Raise E117 for the first of `lines` (a block of JSON lines after `base` others, holding
    `colons` colon bytes) that repeats a key `spec` reads, naming its line number.

    For a block whose colons differ from the keys its reader added up (module docstring): the
    block is parsed again as one JSON array and written back, in two C calls, and its colons
    compared with those written back, as a document's are. Only when they differ too (or the
    block has a blank or unusual line) each line is parsed again (`parse(line, lineno)`, None
    for a blank one) and checked so."""
    if _block_is_clean(lines, colons):
        return
    for i, line in enumerate(lines):
        if b":" not in line:
            continue
        value = parse(line, base + i + 1)
        if value is None or (line.count(b":") == _dumps(value).count(b":")
                             and not _escaped_colon(line)):
            continue
        refuse_duplicates(line, value, spec, src, f"line {base + i + 1}")


def _block_is_clean(lines: list[bytes], colons: int) -> bool:
    """Whether the lines, parsed as one array and written back, keep all `colons` (no key
    dropped). The cyclic GC is paused for the two C calls: the thousands of objects alive at
    once would otherwise trigger collections that cost more than the parse (no Python code
    runs meanwhile, so nothing else sees the pause)."""
    joined = b"[" + b",".join(lines) + b"]"
    if _escaped_colon(joined):
        return False
    enabled = gc.isenabled()
    gc.disable()
    try:
        values = _loads(joined)
        written = _dumps(values).count(b":")
        n = len(values)
        del values
    except (ValueError, TypeError, RecursionError):  # a blank line, NaN: line by line
        return False
    finally:
        if enabled:
            gc.enable()
    return n == len(lines) and written == colons


def keys_of(value: Any) -> int:
    """The keys of an object and of the objects among its values (not deeper): a lower bound
    of the keys of a parsed JSON line, for the block check of `refuse_line_duplicates`."""
    if value.__class__ is not dict:
        return 0
    n = len(value)
    for v in value.values():  # a loop: 270 ns vs a generator's 480 (metadata of 2 keys)
        if v.__class__ is dict:
            n += len(v)
    return n


def _escaped_colon(raw: bytes) -> bool:
    """A colon spelled `\\u003a` in a string: written back as ':', it would hide a duplicate."""
    return b"\\" in raw and (b"\\u003a" in raw or b"\\u003A" in raw)


class _Pairs(dict[str, Any]):
    """An object that repeated keys: the keys and how often each appeared."""

    repeated: dict[str, int]

    @staticmethod
    def of(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) == len(pairs):
            return d
        out = _Pairs(d)
        counts: dict[str, int] = {}
        for k, _ in pairs:
            counts[k] = counts.get(k, 0) + 1
        out.repeated = {k: n for k, n in counts.items() if n > 1}
        return out


def _first(value: Any, spec: Spec, path: str,
           item: Any) -> tuple[str, str, int, Any] | None:
    """(key, JSON path, times, item id) of the first duplicate of a key `spec` reads."""
    if isinstance(value, list):
        for i, el in enumerate(value):
            found = _first(el, spec, f"{path}[{i}]", item)
            if found is not None:
                return found
        return None
    if not isinstance(value, dict):
        return None
    if item is None:
        item = next((value[k] for k in IDS if k in value and k in spec
                     and isinstance(value[k], str | int)), None)
    if isinstance(value, _Pairs):
        for key, n in value.repeated.items():
            if key in spec or ANY in spec:
                return key, path, n, item
    for key, sub in spec.items():
        if sub is None:
            continue
        children = value.items() if key == ANY else [(key, value.get(key))]
        for k, child in children:
            found = _first(child, sub, f"{path}.{k}" if path else str(k), item)
            if found is not None:
                return found
    return None
