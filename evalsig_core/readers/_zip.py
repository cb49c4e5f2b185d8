"""Bounded reading of zip members, including zstd (method 93) that Python 3.11 cannot decode.

`zipfile` parses the central directory (it knows every member's method, sizes and local-header
offset even when it cannot decompress it); the member bytes are then read from the local header
and decompressed here: stored (0), DEFLATE (8) with zlib, zstd (93) with `zstandard`. Every
member is bounded (declared and actual decompressed size, total across members, member count)
and its CRC-32 is checked, so a zip bomb or a corrupt archive is one clear error.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from types import TracebackType

import zstandard

from ..errors import InputError
from ._io import E_BOUND, open_input

MAX_MEMBERS = 1_000_000
MAX_MEMBER_BYTES = 1024**3  # one decompressed member
MAX_TOTAL_BYTES = 4 * 1024**3  # everything decompressed from one archive to be parsed
# members only checked (decompressed, CRC, then dropped: the transcripts behind summaries.json)
# have their own, larger budget: a 6 GiB agent log read through its summaries was refused by
# the 4 GiB one once every member was checked; this still bounds a bomb's work (~1 min)
MAX_CHECKED_BYTES = 64 * 1024**3
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_STORED, _DEFLATED, _ZSTD = 0, 8, 93
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # local file header, 30 bytes


class SafeZip:
    """A read-only zip archive with bounded member reads. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.src = str(path)
        self.total = 0
        self.checked = 0  # bytes decompressed by `read(..., check_only=True)`
        self._fp = open_input(path)
        try:
            self._check_member_count()
            self._zip = zipfile.ZipFile(self._fp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
            self._fp.close()
            raise InputError(
                f"not a readable zip archive ({exc})", path=self.src,
                hint="the file is truncated or corrupt; copy or re-export the log",
            ) from None
        except BaseException:
            self._fp.close()
            raise
        self.names = {i.filename: i for i in self._zip.infolist()}
        self.read_names: set[str] = set()  # the members `read` so far

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._fp.close()

    def _check_member_count(self) -> None:
        """Refuse before `zipfile` builds one object per member of a giant directory."""
        self._fp.seek(0, io.SEEK_END)
        size = self._fp.tell()
        tail_len = min(size, 65536 + 22)
        self._fp.seek(size - tail_len)
        tail = self._fp.read(tail_len)
        at = tail.rfind(EMPTY_ZIP_MAGIC)
        if at < 0 or at + 22 > len(tail):
            return  # zipfile reports the missing end record
        entries = struct.unpack_from("<H", tail, at + 10)[0]
        if entries == 0xFFFF and at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":
            off = struct.unpack_from("<Q", tail, at - 20 + 8)[0]
            self._fp.seek(off)
            rec = self._fp.read(56)
            if rec[:4] == b"PK\x06\x06" and len(rec) == 56:
                entries = struct.unpack_from("<Q", rec, 32)[0]
        if entries > MAX_MEMBERS:
            raise InputError(
                f"zip archive has {entries} members, over the limit of {MAX_MEMBERS}",
                path=self.src, hint="this is not an eval log (possible zip bomb)", code=E_BOUND,
            )

    def read(self, name: str, *, check_only: bool = False) -> bytes:
        """One member, decompressed and CRC-checked, within the size bounds. `check_only`: the
        caller only checks the member and drops it; it counts against MAX_CHECKED_BYTES
        instead of MAX_TOTAL_BYTES."""
        info = self.names.get(name)
        if info is None:
            raise InputError(f"zip archive has no member {name!r}", path=self.src,
                             hint="the log is incomplete; re-export it")
        where = f"member {name!r}"
        if info.file_size > MAX_MEMBER_BYTES:
            self._bomb(f"{where} would decompress to {info.file_size} bytes")
        raw = self._raw(info, where)
        cap, used = ((MAX_CHECKED_BYTES, self.checked) if check_only else
                     (MAX_TOTAL_BYTES, self.total))
        limit = min(info.file_size, MAX_MEMBER_BYTES, cap - used)
        out = self._decompress(info, raw, limit + 1, where)
        if len(out) > limit:
            if len(out) > info.file_size:
                self._bomb(f"{where} decompresses to more than its declared "
                           f"{info.file_size} bytes")
            self._bomb(f"the archive decompresses to more than {cap} bytes")
        if len(out) != info.file_size or zlib.crc32(out) != info.CRC:
            raise InputError(f"{where} is corrupt (size or CRC mismatch)", path=self.src,
                             hint="the file is truncated or damaged; re-export the log")
        if check_only:
            self.checked += len(out)
        else:
            self.total += len(out)
        self.read_names.add(name)
        return out

    def _raw(self, info: zipfile.ZipInfo, where: str) -> bytes:
        # a directory offset beyond where the directory lies gives a negative offset
        # (zipfile shifts every member by the difference): seek() raised EINVAL (exit 70)
        head = b""
        if info.header_offset >= 0:
            self._fp.seek(info.header_offset)
            head = self._fp.read(_LOCAL.size)
        if len(head) < _LOCAL.size or head[:4] != ZIP_MAGIC:
            raise InputError(f"{where}: bad local header", path=self.src,
                             hint="the file is truncated or corrupt; re-export the log")
        fields = _LOCAL.unpack(head)
        name_len, extra_len = fields[-2], fields[-1]
        self._fp.seek(info.header_offset + _LOCAL.size + name_len + extra_len)
        raw = self._fp.read(info.compress_size)
        if len(raw) < info.compress_size:
            raise InputError(f"{where} is truncated", path=self.src,
                             hint="the file was cut short; copy or re-export the log")
        return raw

    def _decompress(self, info: zipfile.ZipInfo, raw: bytes, cap: int, where: str) -> bytes:
        try:
            if info.compress_type == _STORED:
                return raw[:cap]
            if info.compress_type == _DEFLATED:
                return zlib.decompressobj(-15).decompress(raw, cap)
            if info.compress_type == _ZSTD:
                return _zstd(raw, cap)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise InputError(f"{where} cannot be decompressed ({exc})", path=self.src,
                             hint="the file is corrupt; re-export the log") from None
        raise InputError(
            f"{where} uses zip compression method {info.compress_type}", path=self.src,
            hint="evalsig reads stored, DEFLATE and zstd members; re-export with inspect-ai",
        )

    def _bomb(self, what: str) -> None:
        raise InputError(what, path=self.src,
                         hint="this is not an eval log (possible zip bomb)", code=E_BOUND)


def _zstd(raw: bytes, cap: int) -> bytes:
    """Decompress a zstd member, stopping after `cap` bytes whatever the frame claims."""
    parts: list[bytes] = []
    n = 0
    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True) as r:
        while n < cap:
            part = r.read(min(cap - n, 16 * 1024**2))
            if not part:
                break
            parts.append(part)
            n += len(part)
    return b"".join(parts)
