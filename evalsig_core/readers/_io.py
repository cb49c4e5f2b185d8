"""Safe file access for readers: existence, size bounds, decoding and line blocks.

Every failure becomes one `InputError` line naming the file and the fix. Bounds (file size,
line length, JSON size) are module constants so that a hostile file fails fast with a clear
message instead of exhausting memory. Reading a file whole or its first line is `_text`'s;
parsing JSON is `_json`'s.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ..errors import InputError, InputNotFoundError, InputReadError, UsageError
from ._encoding import BOM as BOM  # (re-exported: _json and _dupkeys strip it)
from ._encoding import cr_only, lf_ends, utf8_start

MAX_FILE_BYTES = 4 * 1024**3  # refuse anything larger than 4 GiB outright
MAX_JSON_BYTES = 1024**3  # one JSON document (not JSONL) is parsed whole: 1 GiB at most
MAX_LINE_BYTES = 32 * 1024**2  # one JSONL / CSV line: 32 MiB at most
CHUNK_BYTES = 256 * 1024

# Stable finding codes of read errors (finding_codes.FINDING_CODES documents them).
E_READ = "E101"
E_METRIC = "E102"
E_FIELD = "E109"
E_BOUND = "E110"
E_AGGREGATE = "E111"


@dataclass(frozen=True)
class ReadOptions:
    """What the caller chose; readers never guess a metric, filter or cluster key.

    `id_col`, `score_col`, `cluster_col` and `epoch_col` name CSV/TSV columns (`score_col`
    defaults to the metric, then to `score`).
    """

    metric: str | None = None
    cluster: str | None = None
    filter: str | None = None
    allow_failed_run: bool = False
    id_col: str = "item_id"
    score_col: str | None = None
    cluster_col: str | None = None
    epoch_col: str = "epoch"


# Every reader reaches the file system through these two names (tests inject faults here).
_open = open
_stat = os.stat
# errnos meaning "there is no such file": 66. Any other OSError on an existing path is 74.
_NOT_FOUND = {errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG}
_NO_STAT = "cannot be accessed"
_MISSING_HINT = "check the path (and the working directory)"
_READ_HINTS = {
    errno.EACCES: "make the file (and every directory above it) readable by this user",
    errno.EPERM: "make the file (and every directory above it) readable by this user",
    errno.EIO: "the storage failed while reading; check the disk or mount, or copy the file "
    "again",
}


def os_error(p: Path | str, exc: OSError, what: str = "exists but cannot be read", *,
             subject: str = "file", missing_hint: str = _MISSING_HINT,
             dir_hint: str | None = None) -> InputError:
    """One line for an OSError met while opening or reading `p`: a missing file is 66, a
    directory 65, anything else (permission denied, I/O error, ...) 74 with the OS reason.
    A failed stat says "cannot be accessed": the file may not even exist.

    Public for the flows (which may import the core, never the reverse): `subject` names the
    file ("candidate run"), `missing_hint` and `dir_hint` are the caller's fixes (a flow gates
    one file: the run files a directory holds are no fix there; by default they are)."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _NOT_FOUND:
        return InputNotFoundError(f"{subject} not found ({reason})", path=str(p),
                                  hint=missing_hint)
    if exc.errno == errno.EISDIR:
        the = "" if subject == "file" else f"the {subject} "
        return InputError(f"{the}is a directory, a run file was expected", path=str(p),
                          hint=dir_hint or directory_hint(Path(p)))
    return InputReadError(f"{what}: {reason}", path=str(p),
                          hint=_READ_HINTS.get(exc.errno or 0, "check the file and the storage it "
                                               "is on, then run again"))


class InputFile:
    """A binary file opened for reading (`open_input`): an OSError while reading it becomes
    one `os_error` line naming the file, never a traceback or a "corrupt file" (65)."""

    def __init__(self, p: Path, **hints: str) -> None:
        self.path, self._hints = p, hints  # `os_error`'s wording and fixes
        try:
            self._f = _open(p, "rb")
        except OSError as exc:
            raise os_error(p, exc, **hints) from None

    def read(self, n: int = -1) -> bytes:
        try:
            return self._f.read(n)
        except OSError as exc:
            raise os_error(self.path, exc, **self._hints) from None

    def readline(self, n: int = -1) -> bytes:
        try:
            return self._f.readline(n)
        except OSError as exc:
            raise os_error(self.path, exc, **self._hints) from None

    def seek(self, offset: int, whence: int = 0) -> int:
        # a seek before the start is EINVAL, which zipfile catches on a tiny file: unchanged
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> InputFile:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_input(p: Path, **hints: str) -> InputFile:
    """The one way readers open a run file (or a file beside it) for reading; `hints` are
    `os_error`'s keywords (`subject`, `missing_hint`, ...) for its errors."""
    return InputFile(p, **hints)


def stat_input(p: Path) -> os.stat_result:
    try:
        return _stat(p)
    except OSError as exc:
        raise os_error(p, exc, _NO_STAT) from None


def is_file(p: Path) -> bool:
    """Whether `p` is a regular file; False when nothing is there, and a 74 line when the
    system cannot tell (a directory above it is not searchable), not a raw PermissionError."""
    try:
        return stat.S_ISREG(_stat(p).st_mode)
    except OSError as exc:
        if exc.errno in _NOT_FOUND:
            return False
        raise os_error(p, exc, _NO_STAT) from None


def check_path(path: str | os.PathLike[str], *, directory_ok: bool = False) -> Path:
    p = Path(path)
    if "\0" in str(path):  # os.stat's "ValueError: embedded null byte" was internal (70)
        raise UsageError(f"{str(path)!r}: a file name cannot hold a NUL character",
                         hint="fix the path (in a suite file: its baseline or candidate)")
    try:
        st = _stat(p)
    except OSError as exc:
        if exc.errno not in _NOT_FOUND:
            raise os_error(p, exc, _NO_STAT) from None
        if str(path) == "-":  # "-: file not found" read as a missing file named "-"
            raise UsageError("'-' (standard input) is not supported as a run file",
                             hint="save the run to a file and pass its path") from None
        what = ("is a symbolic link to a missing file (or a link loop)" if _is_link(p)
                else "file not found")
        raise InputNotFoundError(
            what, path=str(p), hint="check the path (and the working directory)"
        ) from None
    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        # `<(cat run.jsonl)` is a pipe: detection consumed its head and the reader saw the
        # rest ("invalid JSON at line 1", or a run without its first lines)
        kind = ("a pipe" if stat.S_ISFIFO(st.st_mode) else "a socket" if
                stat.S_ISSOCK(st.st_mode) else "a device")
        raise UsageError(f"{p} is {kind}, not a run file: evalsig reads a run file more "
                         "than once", hint="save the run to a file and pass its path")
    if stat.S_ISDIR(st.st_mode) and not directory_ok:
        raise InputError("is a directory, a run file was expected", path=str(p),
                         hint=directory_hint(p))
    return p


# Names that are runs in a harness's output directory, most likely first: lm-eval's samples
# files and Inspect's logs, then any file a reader takes. lm-eval results_*.json hold no items.
_RUN_NAMES = (re.compile(r"samples_.*\.jsonl\Z"), re.compile(r".*\.eval\Z"),
              re.compile(r"(?!results_).*\.(jsonl|json|csv|tsv)\Z"))
_LISTED = 3
_HELM_SIDE_FILES = {"run_spec.json", "scenario_state.json", "stats.json"}  # no per_instance


def directory_hint(p: Path, limit: int = 10_000) -> str:
    """The fix for a directory given as a run: the run files it holds (top level, by name).

    An lm-eval output directory holds one samples file per task and Inspect's log directory one
    `.eval` per run, so the hint names the first few; at most `limit` entries are looked at.
    """
    names: list[str] = []
    try:
        with os.scandir(p) as it:
            for i, entry in enumerate(it):
                if i >= limit:
                    break
                try:
                    # a name with a newline or undecodable bytes (a lone surrogate) would
                    # break the one-line error and every UTF-8 report: not offered
                    if entry.is_file() and entry.name.isprintable():
                        names.append(entry.name)
                except OSError:
                    continue
    except OSError:
        names = []
    found = sorted((rank, name) for name in names
                   for rank, rx in enumerate(_RUN_NAMES) if rx.match(name))
    runs = list(dict.fromkeys(name for _, name in found))
    if not runs or _HELM_SIDE_FILES & set(names):
        return ("pass the log file itself (a HELM run directory must contain "
                "per_instance_stats.json)")
    shown = ", ".join(runs[:_LISTED]) + (f" and {len(runs) - _LISTED} more"
                                          if len(runs) > _LISTED else "")
    return (f"pass the log file itself: the directory holds {shown}; give "
            f"{'it' if len(runs) == 1 else 'one of them'}")


def _is_link(p: Path) -> bool:
    try:
        return p.is_symlink()
    except OSError:
        return False


def check_size(p: Path, limit: int) -> int:
    size = stat_input(p).st_size
    if size > limit:
        raise InputError(
            f"file is {size} bytes, over the {limit} byte limit", path=str(p),
            hint="split the run, or export it as JSONL (one item per line)", code=E_BOUND,
        )
    return size


def sha256_file(p: Path, **hints: str) -> str:
    """The file's sha256, read in chunks; an error is `os_error`'s (with `hints`)."""
    h = hashlib.sha256()
    with open_input(p, **hints) as f:
        while block := f.read(CHUNK_BYTES):
            h.update(block)
    return h.hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Lines(list[bytes]):
    """A block of lines from `line_blocks`: `colons()` counts the colons in them at numpy
    speed (the JSONL readers' duplicate-key check, `_dupkeys`), from the bytes they were split
    from (`data[:end]`), less those of a line the reader blanked (`dropped`: a JSONL header)."""

    data: bytes = b""
    end: int = 0
    dropped: bytes = b""

    def colons(self, keys_only: bool = False) -> int:
        """Every colon byte of the lines, or (`keys_only`) those that can end a key
        (`key_colons`)."""
        count = key_colons if keys_only else count_colons
        return count(self.data, self.end) - (count(self.dropped) if self.dropped else 0)


def line_blocks(p: Path, *, max_line: int | None = None, chunk: int = CHUNK_BYTES,
                hasher: Any = None, ends: bool = False) -> Iterator[Lines]:
    """The file's lines in blocks, reading `chunk` bytes at a time.

    Lines keep a trailing carriage return (JSON parsers treat it as whitespace), and with
    `ends` their newline too (for JSON lines: splitting so finds each newline with memchr,
    twice as fast as `bytes.split`, which compares byte by byte). JSON lines (`ends`) of a
    file whose first line end is a lone CR (classic Mac) end at each CR: JSON text holds a
    raw CR only between values, never inside a string (a CSV cell may: the tabular reader
    splits its lines itself). Memory stays bounded by
    `chunk + max_line`: a longer line is an error naming its number, never a 100 MB
    allocation. `hasher` (a hashlib object) is updated with every byte read. Small chunks keep
    the split lines in the CPU cache; a line spanning chunks is joined once.
    """
    feed = None if hasher is None else hasher.update
    yield from _blocks(p, MAX_LINE_BYTES if max_line is None else max_line, chunk, feed, ends)


def count_colons(data: bytes, end: int = -1, chunk: int = 1 << 18) -> int:
    """The colon bytes of `data[:end]` (`end` -1: all), counted a cache-sized chunk at a time
    (a third faster than one pass over a 40 MB document)."""
    a = np.frombuffer(data, dtype=np.uint8, count=end)
    return sum(int(np.count_nonzero(a[i:i + chunk] == 58)) for i in range(0, len(a), chunk))


def key_colons(data: bytes, end: int = -1) -> int:
    """The colons of `data[:end]` (`end` -1: all) that can end a key: those right after a
    quote or JSON whitespace. Every key is written `"key":` with at most whitespace before
    its colon, so this is at least the number of keys written; colons inside strings mostly
    follow other bytes (`"12:30"`, `"mmlu:algebra:3"`) and are not counted."""
    a = np.frombuffer(data, dtype=np.uint8, count=end)
    if not a.size:
        return 0
    before = a[np.flatnonzero(a[1:] == 58)]  # the byte before each colon but a first one
    # a quote, or a byte up to the space (JSON whitespace; counting more is safe: the count
    # only has to be at least the keys written)
    return int(np.count_nonzero((before == 34) | (before <= 32))) + int(a[0] == 58)


def _blocks(p: Path, max_line: int, chunk: int, feed: Any, ends: bool) -> Iterator[Lines]:
    src = str(p)
    lineno = 0
    pending: list[bytes] = []
    pending_len = 0
    first = True
    cr: bool | None = None if ends else False  # CR line ends: known at the first line end
    carry = b""  # a CR that ends a chunk: it may begin a CRLF
    with open_input(p) as f:
        while block := f.read(chunk):
            if feed is not None:
                feed(block)
            if first:
                block = utf8_start(block, src)
                first = False
            if cr is None and (b"\r" in block or b"\n" in block):
                cr = cr_only(block)
            if cr:
                block, carry = carry + block, b""
                if block.endswith(b"\r"):
                    block, carry = block[:-1], b"\r"
                block = lf_ends(block)
            if block.find(b"\n") < 0:  # the middle of a long line
                pending.append(block)
                pending_len += len(block)
                if pending_len > max_line:
                    _too_long(src, lineno + 1, max_line)
                continue
            if pending:
                block = b"".join([*pending, block])
                pending, pending_len = [], 0
            if ends:
                lines = Lines(BytesIO(block).readlines())
                rest = b"" if lines[-1].endswith(b"\n") else lines.pop()
            else:
                lines = Lines(block.split(b"\n"))
                rest = lines.pop()
            if len(block) > max_line:
                for i, line in enumerate(lines):
                    if len(line) - (ends and line.endswith(b"\n")) > max_line:
                        _too_long(src, lineno + i + 1, max_line)
            if rest:
                pending, pending_len = [rest], len(rest)
            lineno += len(lines)
            lines.data, lines.end = block, len(block) - len(rest)  # for `colons()`
            yield lines
    if pending:
        last = Lines([b"".join([*pending, b"\n" if carry else b""])])
        last.data, last.end = last[0], len(last[0])
        yield last


def without_first_line(blocks: Iterator[Lines]) -> Iterator[Lines]:
    """The blocks without the first non-blank line (a JSONL header): blanked, so that the line
    numbers of later errors stay, and kept as the block's `dropped` line."""
    dropped = False
    for block in blocks:
        if not dropped:
            for i, line in enumerate(block):
                if line.strip():
                    block[i], block.dropped = b"", line
                    dropped = True
                    break
        yield block


def _too_long(src: str, lineno: int, max_line: int) -> None:
    raise InputError(
        f"line {lineno} is longer than {size_text(max_line)}", path=src,
        hint="this is not a per-item log (one record per line); check the export",
        code=E_BOUND,
    )


def size_text(n: int) -> str:
    return f"{n // 1024**2} MiB" if n >= 1024**2 else f"{n} bytes"
