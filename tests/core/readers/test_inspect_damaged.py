"""A damaged Inspect `.eval` (a sample file with a bad CRC, truncated or not JSON, listed but
unreadable, or missing) is one exit-65 line naming the archive and the member.

Before, the summaries fast path never opened the sample files: each of these archives read as
a clean run of 40 samples, and one whose sample file was missing read as a run of 39 (the
sample files decided when they disagreed with summaries.json). The archives are the real
fixtures with bytes changed, or rebuilt from their members with one of them replaced.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, read_run
from evalsig_core.readers._zip import SafeZip
from tests.conftest import SHARED_FIXTURES, run_cli
from tests.core.readers.mutations import assert_one_line_error
from tests.core.readers.zipmaker import DEFLATED, ZSTD, write_zip

ZSTD_LOG = SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.eval"
DEFLATE_LOG = SHARED_FIXTURES / "inspect-0.3.200-deflate" / "baseline_e1.eval"
MEMBER = "samples/p03-q2_epoch_1.json"


def _refused(p: Path, says: str, member: str = MEMBER, **kw: Any) -> InputError:
    with pytest.raises(InputError) as info:
        read_run(p, metric="match", **kw)
    assert_one_line_error(info.value, p)
    text = str(info.value)
    assert info.value.exit_code == 65 and member in text and says in text, text
    return info.value


def _members(p: Path) -> dict[str, bytes]:
    with SafeZip(p) as z:
        return {name: z.read(name) for name in z.names}


def _patched(src: Path, dst: Path, patch: Callable[[bytearray, zipfile.ZipInfo, int], None]
             ) -> Path:
    """`src` with `patch(data, info, entry)` applied: `info` is MEMBER's, `entry` the offset
    of its central directory record."""
    data = bytearray(src.read_bytes())
    info = zipfile.ZipFile(src).getinfo(MEMBER)
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(MEMBER.encode()))
    patch(data, info, entry)
    dst.write_bytes(bytes(data))
    return dst


def _flip_data(data: bytearray, info: zipfile.ZipInfo, entry: int) -> None:
    start = info.header_offset + 30 + len(MEMBER)
    data[start + info.compress_size // 2] ^= 0xFF


def _crc(data: bytearray, info: zipfile.ZipInfo, entry: int) -> None:
    struct.pack_into("<L", data, entry + 16, info.CRC ^ 1)  # the directory's CRC-32


@pytest.mark.parametrize("log", [ZSTD_LOG, DEFLATE_LOG], ids=["zstd", "deflate"])
def test_a_sample_file_with_a_flipped_byte_is_refused(tmp_path: Path, log: Path) -> None:
    assert read_run(log, metric="match").n_records == 40  # the summaries are intact
    _refused(_patched(log, tmp_path / "r.eval", _flip_data), "")


@pytest.mark.parametrize("log", [ZSTD_LOG, DEFLATE_LOG], ids=["zstd", "deflate"])
def test_a_sample_file_whose_crc_does_not_match_is_refused(tmp_path: Path, log: Path) -> None:
    _refused(_patched(log, tmp_path / "r.eval", _crc), "is corrupt (size or CRC mismatch)")


@pytest.mark.parametrize(("patch", "says"), [
    (lambda d, i, e: struct.pack_into("<L", d, e + 42, 5), "bad local header"),
    (lambda d, i, e: struct.pack_into("<L", d, e + 20, 10**7), "is truncated"),
], ids=["offset", "size"])
def test_a_sample_file_listed_but_unreadable_is_refused(
        tmp_path: Path, patch: Callable[[bytearray, zipfile.ZipInfo, int], None],
        says: str) -> None:
    _refused(_patched(DEFLATE_LOG, tmp_path / "r.eval", patch), says)


@pytest.mark.parametrize("content", [b"not json", b"", b'{"id": "p03-q2", "epoch": 1, "sco'],
                         ids=["not-json", "empty", "truncated"])
def test_a_sample_file_that_is_not_a_whole_json_object_is_refused(
        tmp_path: Path, content: bytes) -> None:
    members = _members(ZSTD_LOG)
    members[MEMBER] = content  # with a matching CRC: the archive was written so
    p = write_zip(tmp_path / "r.eval", members, ZSTD)
    _refused(p, "is not a whole JSON object (truncated or not JSON)")


def test_a_missing_sample_file_is_refused_not_a_run_of_39(tmp_path: Path) -> None:
    members = _members(DEFLATE_LOG)
    del members[MEMBER]
    p = write_zip(tmp_path / "r.eval", members, DEFLATED)
    error = _refused(p, "summaries.json lists 40 samples but the archive holds 39 sample files; "
                     "missing: samples/p03-q2_epoch_1.json", member="summaries.json")
    assert error.hint is not None and "re-export" in error.hint


@pytest.mark.parametrize(("content", "says"), [
    (b"not json", "invalid JSON at line 1 column 1"),
    (b"[1, 2]", "holds a JSON list, not a sample"),
], ids=["not-json", "a-list"])
def test_without_summaries_a_bad_sample_file_is_named(tmp_path: Path, content: bytes,
                                                      says: str) -> None:
    # before: "invalid JSON at line 1 column 1" and "sample #11 is not an object", no member
    members = _members(ZSTD_LOG)
    del members["summaries.json"]
    members[MEMBER] = content
    _refused(write_zip(tmp_path / "r.eval", members, ZSTD), says)


def test_a_damaged_member_beside_the_samples_is_refused_too(tmp_path: Path) -> None:
    members = _members(ZSTD_LOG)
    p = write_zip(tmp_path / "r.eval", members, ZSTD)
    data = bytearray(p.read_bytes())
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(b"reductions.json"))
    struct.pack_into("<L", data, entry + 16, zipfile.ZipFile(p).getinfo("reductions.json").CRC ^ 1)
    p.write_bytes(bytes(data))
    _refused(p, "is corrupt (size or CRC mismatch)", member="reductions.json")


def test_gate_on_a_damaged_archive_exits_65_in_one_line(tmp_path: Path) -> None:
    bad = _patched(ZSTD_LOG, tmp_path / "c.eval", _crc)
    code, out, err = run_cli(["gate", "--baseline", str(ZSTD_LOG), "--candidate", str(bad),
                              "--metric", "match", "--min-delta", "0"])
    assert code == 65 and out == "" and err.count("\n") == 1
    assert str(bad) in err and repr(MEMBER) in err and "Traceback" not in err
