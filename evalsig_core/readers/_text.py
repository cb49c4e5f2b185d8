"""A run file's text read whole (`read_bytes`, `check_text`) or by its first line
(`read_head`, for format detection and the native JSONL header): within `_io`'s bounds, UTF-8
by its first bytes, and never empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from ..errors import InputError
from ._encoding import cr_only, lf_ends, utf8_start
from ._io import CHUNK_BYTES, MAX_FILE_BYTES, MAX_LINE_BYTES, check_size, open_input

__all__ = ["Head", "check_text", "read_bytes", "read_head"]


def read_bytes(p: Path, *, limit: int = MAX_FILE_BYTES) -> bytes:
    """The whole file, bounded by `limit`; an empty file is an error."""
    check_size(p, limit)
    with open_input(p) as f:
        data = f.read()
    return check_text(data, str(p))


def check_text(data: bytes, src: str) -> bytes:
    """`data` (a whole file, or an archive member named `src`) unless it is empty or not
    UTF-8 by its first bytes: one line naming `src`."""
    utf8_start(data[:8], src)  # the encoding, from the first bytes
    if not data.strip():
        raise InputError("file is empty", path=src, hint="re-export the run; it has no items")
    return data


@dataclass(frozen=True)
class Head:
    """The first non-blank line of a file (BOM removed) and what follows it."""

    line: bytes
    complete: bool  # False when the line is longer than the bound it was read with
    more: bool  # non-blank content follows the line


def read_head(p: Path, n: int | None = None) -> Head:
    check_size(p, MAX_FILE_BYTES)
    n = MAX_LINE_BYTES if n is None else n
    with open_input(p) as f:
        raw = f.readline(n + 1)
        first = utf8_start(raw, str(p))
        if cr_only(first):  # the lines end at CR: `readline` read up to n + 1 bytes of them
            bounded = len(raw) > n
            lines = [x for x in BytesIO(lf_ends(first)).readlines() if x.strip()]
            first = lines[0] if lines else b""
            complete = first.endswith(b"\n") or not bounded
            more = len(lines) > 1 or bounded or bool(f.read(CHUNK_BYTES).strip())
        else:
            while first and not first.strip():  # leading blank lines
                first = raw = f.readline(n + 1)
            complete = raw.endswith(b"\n") or len(raw) <= n
            more = bool(f.read(CHUNK_BYTES).strip()) if complete else True
    if not first.strip() and not more:
        raise InputError("file is empty", path=str(p), hint="re-export the run; it has no items")
    return Head(first, complete, more)
