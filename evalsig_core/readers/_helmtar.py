"""The HELM run archive (`<run>.helm.tar`): a HELM run directory as one deterministic file.

A flow stores and promotes one object per run, and a HELM run is a directory. `pack_helm_run`
writes the files the HELM reader reads (`per_instance_stats.json`, and `run_spec.json` and
`scenario_state.json` when present) into a POSIX ustar archive, in the order of `RUN_FILES`,
uncompressed, every header fixed (mode 0644, uid and gid 0, no owner names, mtime 0), ended by
two zero blocks: the same run directory always gives the same bytes, so the same SHA-256 (the
store's version key). Why no compression: gzip's bytes depend on the zlib build, and an
uncompressed member is read in one pass. `tar -xf` unpacks it.

`read_archive` reads one back in one pass (hashing every byte: the run's SHA-256 is the
archive's), keeping only the members asked for. Anything such an archive never holds is one
line naming the archive and the fix (exit 65): another member name (a path, `../x`, a
directory), a link or any other non-regular member, a pax or GNU extension header, a name
twice, a member over 1 GiB (E110), a corrupt header, a truncated member, no
`per_instance_stats.json`, anything but zeros after the end-of-archive block (tar readers stop
there: a member appended after it would be hidden from them). The standard library's
`tarfile` only parses the 512-byte headers (`TarInfo.frombuf`); nothing is ever extracted.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from ..errors import InputError
from ._io import (
    CHUNK_BYTES,
    E_BOUND,
    MAX_FILE_BYTES,
    MAX_JSON_BYTES,
    InputFile,
    check_size,
    is_file,
    open_input,
)

PER_INSTANCE = "per_instance_stats.json"
RUN_FILES = (PER_INSTANCE, "scenario_state.json", "run_spec.json")  # what a run reads
SUFFIX = ".helm.tar"
_BLOCK = 512
_MAGIC = b"ustar"  # at offset 257 of a ustar header (POSIX "ustar\x0000", GNU "ustar  \x00")
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)
_PACK_HINT = "give the HELM run directory itself; a flow packs it into a valid archive"


def member_src(archive: Path | str, name: str) -> str:
    """How errors name a member: `run.helm.tar(per_instance_stats.json)`, as make and ld
    name an archive's members."""
    return f"{archive}({name})"


def sniff_archive(p: Path) -> bool:
    """Whether the file at `p` starts with a ustar header (a tar archive)."""
    with open_input(p) as f:
        head = f.read(_BLOCK)
    return head[257:262] == _MAGIC


def pack_helm_run(run_dir: Path, out: IO[bytes]) -> None:
    """Write the deterministic archive of the HELM run directory `run_dir` to `out`.

    Raises the reader's errors: no per_instance_stats.json (65), a file over 1 GiB (E110), a
    file that cannot be read (74) or that changes while it is packed (65)."""
    if not is_file(run_dir / PER_INSTANCE):
        raise InputError(f"directory has no {PER_INSTANCE}", path=str(run_dir),
                         hint="pass a HELM run directory (benchmark_output/runs/<suite>/<run>)")
    for name in RUN_FILES:
        p = run_dir / name
        if not is_file(p):
            continue
        size = check_size(p, MAX_JSON_BYTES)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0
        out.write(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"))
        with open_input(p) as f:
            left = size
            while left:
                block = f.read(min(left, CHUNK_BYTES))
                if not block:
                    raise InputError("the file changed while it was packed", path=str(p),
                                     hint="pack the run again once the harness has finished")
                out.write(block)
                left -= len(block)
        out.write(bytes(-size % _BLOCK))
    out.write(bytes(2 * _BLOCK))


@dataclass(frozen=True)
class Archive:
    """The members of a HELM run archive that were asked for (`data`), every member name
    (`names`) and the SHA-256 of the whole archive."""

    path: Path
    data: dict[str, bytes]
    names: tuple[str, ...]
    sha256: str


def read_archive(path: Path, wanted: Collection[str]) -> Archive:
    """Read the HELM run archive at `path` in one pass, keeping the `wanted` members."""
    check_size(path, MAX_FILE_BYTES)
    hasher = hashlib.sha256()
    kept: dict[str, bytes] = {}
    names: list[str] = []
    with open_input(path) as f:
        while True:
            head = _read(f, _BLOCK, hasher)
            if head.count(0) == _BLOCK or not head:  # the end-of-archive block (or none)
                break
            name, size = _member(path, head, names)
            names.append(name)
            if name in wanted:
                kept[name] = _read(f, size, hasher)
                if len(kept[name]) < size:
                    _bad(path, f"member {name!r} is truncated", "the archive was cut short; "
                         "copy it again")
            else:
                _skip(f, size, hasher, path, name)
            _read(f, -size % _BLOCK, hasher)
        while rest := _read(f, CHUNK_BYTES, hasher):  # zero padding: part of the file
            if rest.count(0) != len(rest):  # tar stops at the end block: hidden from it
                _bad(path, "data after the end of the archive", "the file was appended to "
                     "or damaged; pack the run directory again")
    if PER_INSTANCE not in names:
        _bad(path, f"the archive has no {PER_INSTANCE}" + (
            f" (it holds {', '.join(names)})" if names else " (it is empty)"), _PACK_HINT)
    return Archive(path, kept, tuple(names), hasher.hexdigest())


def _member(path: Path, head: bytes, seen: list[str]) -> tuple[str, int]:
    """The name and size of the member whose header is `head`, or the error refusing it."""
    if len(head) < _BLOCK:
        _bad(path, "the archive is truncated (a member header is cut short)",
             "the archive was cut short; copy it again")
    try:
        info = tarfile.TarInfo.frombuf(head, "utf-8", "strict")
    except (tarfile.HeaderError, UnicodeDecodeError, ValueError) as exc:
        _bad(path, f"member #{len(seen) + 1} has a corrupt tar header ({exc})",
             "the archive is damaged; copy it again, or pack the run directory again")
    name = info.name
    if name not in RUN_FILES:
        _bad(path, f"member {name[:120]!r} is not a file of a HELM run archive (it holds only "
             f"{', '.join(RUN_FILES)})", _PACK_HINT)
    if info.type not in _REGULAR:
        kind = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link",
                tarfile.DIRTYPE: "a directory"}.get(info.type, f"of tar type {info.type!r}")
        _bad(path, f"member {name!r} is {kind}, not a regular file", _PACK_HINT)
    if name in seen:
        _bad(path, f"member {name!r} appears twice (a tar reader keeps only the last)",
             _PACK_HINT)
    if info.size < 0:  # base-256 size fields can be negative: read(-n) reads everything
        _bad(path, f"member {name!r} has a negative size ({info.size})",
             "the archive is damaged; copy it again, or pack the run directory again")
    if info.size > MAX_JSON_BYTES:
        _bad(path, f"member {name!r} is {info.size} bytes, over the {MAX_JSON_BYTES} byte "
             "limit", "split the run; this is not a HELM run archive evalsig wrote",
             code=E_BOUND)
    return name, info.size


def _read(f: InputFile, n: int, hasher: hashlib._Hash) -> bytes:
    data = f.read(n) if n else b""
    hasher.update(data)
    return data


def _skip(f: InputFile, size: int, hasher: hashlib._Hash, path: Path, name: str) -> None:
    """Hash a member not asked for without keeping it."""
    while size:
        block = _read(f, min(size, CHUNK_BYTES), hasher)
        if not block:
            _bad(path, f"member {name!r} is truncated", "the archive was cut short; copy it "
                 "again")
        size -= len(block)


def _bad(path: Path, message: str, hint: str, code: str = "E101") -> NoReturn:
    raise InputError(message, path=str(path), hint=hint, code=code)
