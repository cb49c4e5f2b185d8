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

JSONL item lines are not checked: the cheapest check that never misses a duplicate (numpy
counts of the key names, per block) measured +6% of the native JSONL reader's CPU and +12% of
lm-eval's, over the 5% these hot paths may spend on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from ._io import BOM

try:
    import orjson

    def _dumps(value: Any) -> bytes:
        try:
            return orjson.dumps(value)
        except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits
            return json.dumps(value).encode()
except ImportError:  # pragma: no cover - orjson is in the dev extra

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
    if _colons(raw) == _colons(_dumps(value)) and not _escaped_colon(raw):
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


def refuse_line_duplicates(lines: list[bytes], base: int, spec: Spec, src: str,
                           parse: Callable[[bytes, int], Any]) -> None:
    """Raise E117 for the first of `lines` (a block of JSON lines after `base` others) that
    repeats a key `spec` reads, naming its line number. For a block whose colons differ from
    its keys (`keys_of`): each line is parsed again (`parse(line, lineno)`, None for a blank
    one) and checked as a document is, its colons against those of its value written back."""
    for i, line in enumerate(lines):
        if b":" not in line:
            continue
        value = parse(line, base + i + 1)
        if value is None or (line.count(b":") == _dumps(value).count(b":")
                             and not _escaped_colon(line)):
            continue
        refuse_duplicates(line, value, spec, src, f"line {base + i + 1}")


def keys_of(value: Any) -> int:
    """The keys of an object and of the objects among its values (not deeper): a lower bound
    of the keys of a parsed JSON line, for the block check of `refuse_line_duplicates`."""
    if type(value) is not dict:
        return 0
    return len(value) + sum(len(v) for v in value.values() if type(v) is dict)


def _colons(raw: bytes, chunk: int = 1 << 18) -> int:
    """The colons of `raw`, counted a cache-sized chunk at a time (a third faster than one
    pass over a 40 MB document)."""
    a = np.frombuffer(raw, dtype=np.uint8)
    return sum(int(np.count_nonzero(a[i:i + chunk] == 58)) for i in range(0, len(a), chunk))


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
