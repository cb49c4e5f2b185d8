"""Write zip archives with zstd (method 93) members, as inspect-ai >= 0.3.2xx does.

Python 3.11's zipfile can read the directory of such archives but neither read nor write the
members, so tests and benchmarks build them here: local headers, data, central directory.
`declared_size` lets a test lie about a member's size (a zip bomb).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import zstandard

STORED, DEFLATED, ZSTD = 0, 8, 93


def compress(data: bytes, method: int) -> bytes:
    if method == ZSTD:
        return zstandard.ZstdCompressor(level=3).compress(data)
    if method == DEFLATED:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    return data


def write_zip(path: Path, members: dict[str, bytes], method: int = ZSTD,
              declared_size: dict[str, int] | None = None) -> Path:
    declared_size = declared_size or {}
    out = bytearray()
    central = bytearray()
    for name, data in members.items():
        raw = compress(data, method)
        size = declared_size.get(name, len(data))
        crc = zlib.crc32(data)
        fname = name.encode()
        offset = len(out)
        out += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 63, 0, 0, method, 0, 0,
                           crc, len(raw), size, len(fname), 0)
        out += fname + raw
        central += struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 63, 0, 63, 0, 0, method, 0, 0,
                               crc, len(raw), size, len(fname), 0, 0, 0, 0, 0, offset)
        central += fname
    cd_offset = len(out)
    out += central
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                       len(central), cd_offset, 0)
    path.write_bytes(bytes(out))
    return path
