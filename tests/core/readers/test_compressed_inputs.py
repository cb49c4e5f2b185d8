"""A compressed log says so and how to decompress it (it used to read "not valid UTF-8
(line 1, byte 1) (fix: re-save the file as UTF-8)", which sends the user the wrong way)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from evalsig_core import InputError, read_run
from tests.conftest import EXAMPLES


@pytest.mark.parametrize(("kind", "compress"), [
    ("gzip", gzip.compress), ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
])
def test_a_compressed_run_file_is_named_as_compressed(tmp_path: Path, kind: str,
                                                      compress: object) -> None:
    p = tmp_path / "baseline.json.gz"
    p.write_bytes(compress((EXAMPLES / "baseline.json").read_bytes()))  # type: ignore[operator]
    with pytest.raises(InputError) as exc:
        read_run(p)
    assert exc.value.code == "E101" and exc.value.exit_code == 65
    assert f"{kind}-compressed" in str(exc.value) and "decompress it first" in str(exc.value)
    assert "UTF-8" not in str(exc.value)
