"""Encodings and line ends the fuzzing of the readers (mutations.py) met with misleading errors.

UTF-16 and UTF-32 (with or without a byte-order mark) are refused by every reader in one line,
where a UTF-16 JSON document without a mark was read and the same file with one was "not valid
UTF-8"; a doubled UTF-8 mark is named; CSV/TSV and JSON lines with classic Mac line ends (CR
only) are read; a lone CR in LF-ended JSON lines, and JSON lines that are arrays, say so
instead of "Extra data".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import InputError, read_run
from evalsig_core.cli import main
from evalsig_core.readers import _io, _text
from tests.conftest import SHARED_FIXTURES, write_runframe
from tests.core.readers.mutations import assert_one_line_error
from tests.core.readers.zipmaker import DEFLATED, write_zip

BOM = b"\xef\xbb\xbf"
ITEMS = [{"item_id": f"q{i}", "score": float(i % 2)} for i in range(4)]
CSV = "item_id,score\n" + "".join(f"{x['item_id']},{x['score']}\n" for x in ITEMS)
JSONL = "".join(json.dumps(x) + "\n" for x in ITEMS)
LM = SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline"
INSPECT_JSON = SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.json"
HELM = SHARED_FIXTURES / "helm-0.5.16" / "baseline"


def _refused(path: Path, message: str, **kw: Any) -> InputError:
    with pytest.raises(InputError, match=message) as info:
        read_run(path, **kw)
    assert_one_line_error(info.value, path)
    assert int(info.value.exit_code) == 65 and info.value.code == "E101"
    return info.value


# ---- UTF-16 and UTF-32 ----------------------------------------------------------------------


def _lm_copy(tmp_path: Path) -> Path:
    shutil.copytree(LM, tmp_path / "lm")
    (src,) = (tmp_path / "lm").glob("samples_passage_mc_*")
    return src


def _helm_copy(tmp_path: Path) -> Path:
    shutil.copytree(HELM, tmp_path / "helm")
    return tmp_path / "helm"


# (file name, how to place the text, read options): every reader that reads a text file
_TEXT_RUNS: list[tuple[str, Any, dict[str, Any]]] = [
    ("run.json", lambda d: (d / "run.json", json.dumps(
        {"schema": "evalsig.run/1", "metric": "m", "items": ITEMS})), {}),
    ("run.jsonl", lambda d: (d / "run.jsonl", JSONL), {}),
    ("run.csv", lambda d: (d / "run.csv", CSV), {}),
    ("run.tsv", lambda d: (d / "run.tsv", CSV.replace(",", "\t")), {}),
    ("inspect.json", lambda d: (d / "log.json", INSPECT_JSON.read_text("utf-8")),
     {"metric": "match"}),
    ("lm-eval", lambda d: ((p := _lm_copy(d)), p.read_text("utf-8")), {"metric": "acc"}),
    ("helm", lambda d: ((p := _helm_copy(d) / "per_instance_stats.json"),
                        p.read_text("utf-8")), {"metric": "exact_match"}),
]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize(("name", "place", "kw"), _TEXT_RUNS, ids=[r[0] for r in _TEXT_RUNS])
def test_utf16_and_utf32_are_refused_by_every_reader_with_or_without_a_mark(
        tmp_path: Path, encoding: str, name: str, place: Any, kw: dict[str, Any]) -> None:
    """Before: a UTF-16-LE or UTF-32-LE JSON document without a mark was read (json.loads
    guesses the encoding), with a mark it was "not valid UTF-8"; UTF-16 JSONL was "invalid
    JSON at line 2 column 1: Extra data" and UTF-16 CSV "no column 'item_id'; the header has
    ['i\\x00t\\x00...']"."""
    path, text = place(tmp_path)
    path.write_bytes(text.encode(encoding))
    wide = encoding[:6].upper()
    target = path.parent if name == "helm" else path
    _refused(target, f"file is {wide} encoded; evalsig reads UTF-8 \\(fix: re-save it as UTF-8",
             **kw)


@pytest.mark.parametrize(("name", "fmt"), [("run.json", "evalsig-json"),
                                           ("run.jsonl", "evalsig-jsonl"), ("run.csv", "csv"),
                                           ("log.json", "inspect-json")])
def test_utf16_is_refused_under_a_forced_format_too(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes((CSV if fmt == "csv" else JSONL).encode("utf-16-le"))
    _refused(path, "file is UTF-16 encoded", format=fmt)


def test_a_utf16_archive_member_is_refused(tmp_path: Path) -> None:
    """A member of an Inspect .eval archive was decoded from UTF-16 by json.loads."""
    header = {"version": 2, "status": "success", "eval": {"task": "t", "model": "m"}}
    sample = {"id": "a", "epoch": 1, "scores": {"match": {"value": 1}}}
    path = write_zip(tmp_path / "log.eval", {
        "header.json": json.dumps(header).encode("utf-16-le"),
        "summaries.json": json.dumps([sample]).encode()}, method=DEFLATED)
    _refused(path, "JSON is UTF-16 encoded; evalsig reads UTF-8", metric="match")


def test_a_utf16_metadata_file_is_recorded_as_unread(tmp_path: Path) -> None:
    """lm-eval's results_*.json in UTF-16 was read for the run's metadata; now it is refused
    like the run files, and recorded for the doctor (W220), not skipped silently."""
    src = _lm_copy(tmp_path)
    (results,) = src.parent.glob("results_*.json")
    results.write_bytes(results.read_text("utf-8").encode("utf-16-le"))
    run = read_run(src, metric="acc")
    ((message, fix),) = run.meta.unread_metadata
    assert message == f"{results}: file is UTF-16 encoded; evalsig reads UTF-8"
    assert fix.startswith("re-save it as UTF-8")


def test_a_utf8_file_with_nul_bytes_is_not_called_utf16(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(b"\x00" * 8 + b"\n")
    with pytest.raises(InputError) as info:
        read_run(path)
    assert "UTF-16" not in str(info.value) and "UTF-32" not in str(info.value)


# ---- byte-order marks -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "text", "fmt"), [
    ("run.json", json.dumps({"schema": "evalsig.run/1", "metric": "m", "items": ITEMS}), None),
    ("run.jsonl", JSONL, None), ("run.jsonl", JSONL, "evalsig-jsonl"),
    ("run.csv", CSV, None), ("run.csv", CSV, "csv"),
    ("run.json", json.dumps({"schema": "evalsig.run/1", "metric": "m", "items": ITEMS}),
     "evalsig-json"),
])
def test_a_doubled_byte_order_mark_is_named(tmp_path: Path, name: str, text: str,
                                            fmt: str | None) -> None:
    """Before: "no column 'item_id'; the header has ['\\ufeff{\\"schema\\"...']" (the file was
    taken for a CSV) or a JSON parse error."""
    path = tmp_path / name
    path.write_bytes(BOM + BOM + text.encode())
    _refused(path, "file starts with two byte-order marks \\(fix: remove one of them",
             format=fmt or "auto")
    path.write_bytes(BOM + text.encode())  # one mark is read, as before
    assert read_run(path, format=fmt or "auto").n_records == 4


def test_a_mark_before_blank_lines_is_skipped_with_them(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(BOM + b"\n\n" + JSONL.encode())
    assert read_run(path).item_ids.tolist() == ["q0", "q1", "q2", "q3"]


# ---- CR line ends ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "delimiter"), [("run.csv", ","), ("run.tsv", "\t")])
@pytest.mark.parametrize("fmt", [None, "forced"])
def test_a_csv_with_cr_line_ends_is_read(tmp_path: Path, name: str, delimiter: str,
                                         fmt: str | None) -> None:
    """Before: "malformed CSV near line 1: new-line character seen in unquoted field - do you
    need to open the file in universal-newline mode?". CR line ends are unambiguous for CSV:
    the file reads as its LF twin, and a CR inside a quoted cell stays in the cell."""
    rows = [["item_id", "score", "note"], ["a", "1", '"x\ry"'], ["b", "0", "z"],
            ["c", "1", ""]]
    path = tmp_path / name
    path.write_bytes("\r".join(delimiter.join(r) for r in rows).encode() + b"\r")
    run = read_run(path, cluster="note", format="auto" if fmt is None else name[-3:])
    assert run.item_ids.tolist() == ["a", "b", "c"] and run.scores.tolist() == [1.0, 0.0, 1.0]
    assert run.clusters is not None and run.clusters.tolist()[:2] == ["x\ry", "z"]


def test_a_csv_with_a_bad_cell_after_cr_line_ends_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    path.write_bytes(b"item_id,score\ra,1\rb,high\r")
    with pytest.raises(InputError, match="item 'b': score is 'high', not a number") as info:
        read_run(path)
    assert_one_line_error(info.value, path)
    path.write_bytes(b"item_id,score\ra,1\rb,0,extra\r")
    with pytest.raises(InputError, match="line 3 has 3 cells, the header has 2"):
        read_run(path)


@pytest.mark.parametrize("fmt", ["auto", "lm-eval-samples"])
def test_lm_eval_samples_with_cr_line_ends_are_read_as_their_lf_twin(tmp_path: Path,
                                                                   fmt: str) -> None:
    """Before: "the file uses CR line ends (classic Mac); evalsig reads LF or CRLF line ends".
    A raw CR in JSON lines can only end a line (JSON strings escape it), so the lines end
    there, in the one line splitter (`_io.line_blocks`)."""
    path = _lm_copy(tmp_path)
    lf = read_run(path, metric="acc", cluster="passage_id")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    cr = read_run(path, metric="acc", cluster="passage_id", format=fmt)
    assert cr.item_ids.tolist() == lf.item_ids.tolist() and cr.n_records == 40
    assert cr.scores.tolist() == lf.scores.tolist()
    assert cr.clusters is not None and cr.clusters.tolist() == lf.clusters.tolist()  # type: ignore[union-attr]


@pytest.mark.parametrize("header", [False, True])
@pytest.mark.parametrize("fmt", ["auto", "evalsig-jsonl"])
def test_native_jsonl_with_cr_line_ends_is_read(tmp_path: Path, header: bool, fmt: str) -> None:
    head = '{"schema": "evalsig.run/1", "metric": "accuracy"}\r' if header else ""
    path = tmp_path / "run.jsonl"
    path.write_bytes(("\r" + head + JSONL.replace("\n", "\r")).encode())
    run = read_run(path, format=fmt)
    assert run.item_ids.tolist() == ["q0", "q1", "q2", "q3"]
    assert run.scores.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_an_error_in_a_cr_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    lines = JSONL.splitlines()
    lines[2] = lines[2].replace('"score": 0.0', '"score": 0.0,')
    path.write_bytes("\r".join(lines).encode())
    _refused(path, "invalid JSON at line 3")


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64])
def test_cr_and_crlf_line_ends_split_across_chunks(tmp_path: Path, chunk: int) -> None:
    # a CR that ends a chunk may begin a CRLF: one line end, never a blank line between
    path = tmp_path / "run.jsonl"
    path.write_bytes(b'{"a": 1}\r{"b": 2}\r\n{"c": 3}\r\r{"d": 4}\r')
    lines = [line for block in _io.line_blocks(path, chunk=chunk, ends=True) for line in block]
    assert lines == [b'{"a": 1}\n', b'{"b": 2}\n', b'{"c": 3}\n', b"\n", b'{"d": 4}\n']


@pytest.mark.parametrize(("content", "n", "head"), [
    (b'\r\r{"a": 1}\r{"b": 2}\r', None, (b'{"a": 1}\n', True, True)),  # blank lines first
    (b'\r{"a": 1}\r\r\r', None, (b'{"a": 1}\n', True, False)),  # only blank lines after
    (b'\r{"a": 1}', None, (b'{"a": 1}', True, False)),  # no final line end
    (b'\r{"a": 1}\r\n{"b": 2}\n', None, (b'{"a": 1}\n', True, True)),  # more past the LF
    (b'\r{"a": 12345}\r', 8, (b'{"a": 12', False, True)),  # longer than n
    (b'\r{"a": 1}\r\r\r\r{"b": 2}', 12, (b'{"a": 1}\n', True, True)),  # more past n + 1
])
def test_the_head_of_a_cr_file_is_its_first_non_blank_line(
        tmp_path: Path, content: bytes, n: int | None, head: tuple[bytes, bool, bool]) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(content)
    got = _text.read_head(path, n)
    assert (got.line, got.complete, got.more) == head
    if n is None:  # its LF twin's head, as detection and the native header read it
        path.write_bytes(content.replace(b"\r", b"\n"))
        assert _text.read_head(path, n) == got


def test_one_line_of_jsonl_with_a_cr_line_end_is_named(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes((JSONL[:-1] + "\r" + JSONL).encode())
    _refused(path, r"the file uses CR line ends \(classic Mac\) \(line 4 holds two JSON "
             r"lines\)")


@pytest.mark.parametrize(("content", "line"), [
    (b"[1, 2]\n" + JSONL.encode(), 1),
    (b"\n[1, 2]\n[3, 4]\n", 2),
    (b'["item_id", "score"]\n["a", 1]\n', 1),
])
def test_jsonl_whose_first_line_is_an_array_says_so(tmp_path: Path, content: bytes,
                                                    line: int) -> None:
    """Before: "invalid JSON at line 2 column 1: Extra data" (the file was taken for one JSON
    document, since it starts with '[')."""
    path = tmp_path / "run.jsonl"
    path.write_bytes(content)
    _refused(path, f"line {line} is a JSON array, and more JSON follows: each line of a JSONL "
             "file must be one object")


def test_a_pretty_printed_document_with_cr_line_ends_is_still_read(tmp_path: Path) -> None:
    path = write_runframe(tmp_path / "r.json", ["a", "b"], [1, 0])
    path.write_bytes(path.read_bytes().replace(b",", b",\r"))
    assert read_run(path).n_records == 2


@pytest.mark.parametrize(("content", "says"), [
    (BOM + BOM + JSONL.encode(), "two byte-order marks"),
    ((JSONL[:-1] + "\r" + JSONL).encode(), "CR line ends"),
    (b"[1]\n[2]\n", "line 1 is a JSON array"),
    (JSONL.encode("utf-16"), "UTF-16 encoded")])
def test_gate_on_these_files_exits_65_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str) -> None:
    good = write_runframe(tmp_path / "good.json", ["q0", "q1"], [1, 0])
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    rc = main(["gate", "--baseline", str(bad), "--candidate", str(good), "--min-delta", "0"])
    out, err = capsys.readouterr()
    assert rc == 65 and out == "" and says in err
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err
