"""Reader edges: a compressed log is named as such (it read "not valid UTF-8 ... re-save the
file as UTF-8", the wrong way), and a CSV row wider than its header is refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from evalsig_core import InputError, UsageError, read_run
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


def test_a_csv_row_with_more_cells_than_the_header_is_an_error_not_a_shifted_score(
        tmp_path: Path) -> None:
    # An unquoted comma in the passage cell shifted the columns: item a was read with score
    # 2 (the passage's tail) instead of 1, silently.
    p = tmp_path / "run.csv"
    p.write_text("item_id,passage_id,score\na,P1,2,1\nb,P2,0\n")
    with pytest.raises(InputError) as exc:
        read_run(p, cluster="passage_id")
    assert exc.value.code == "E109" and "line 2 has 4 cells, the header has 3" in str(exc.value)


def test_empty_trailing_cells_are_accepted(tmp_path: Path) -> None:
    # "a,1," (a trailing delimiter some exporters write) shifts no column
    p = tmp_path / "run.csv"
    p.write_text("item_id,score\na,1,\nb,0,\n")
    assert read_run(p).scores.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("name", ["metric", "cluster", "filter"])
def test_an_empty_name_is_a_usage_error(name: str) -> None:
    # read_run(p, cluster="") clustered by a key named '' (the native reader's cluster_id)
    with pytest.raises(UsageError, match=f"{name} is an empty string"):
        read_run(EXAMPLES / "baseline.json", **{name: ""})  # type: ignore[arg-type]
