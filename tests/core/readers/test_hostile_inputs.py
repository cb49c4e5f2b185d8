"""Hostile and broken input: one clear line naming the file and the fix, a stable exit code.

Complements tests/core/test_native_reader.py (empty file, truncated JSON, a non-UTF-8 first
byte, BOM and CRLF in a JSON document, absurd nesting of a JSON document, a directory, a
missing file), here for the line formats (native JSONL, lm-eval samples, CSV/TSV) and through
the CLI. Zip archives (truncated, bombs) are in test_inspect_archive.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import InputError, read_run
from evalsig_core.cli import main
from evalsig_core.readers import _io
from tests.conftest import write_runframe


def _jsonl(path: Path, rows: list[Any], *, eol: str = "\n", bom: bool = False) -> Path:
    text = eol.join(r if isinstance(r, str) else json.dumps(r) for r in rows) + eol
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def _lm(i: int, acc: Any = 1.0, **kw: Any) -> dict[str, Any]:
    return {"doc_id": i, "doc": {"passage_id": f"P{i % 3}"}, "filter": "none",
            "metrics": ["acc"], "acc": acc, **kw}


def _item(i: str, score: Any = 1.0, **kw: Any) -> dict[str, Any]:
    return {"item_id": i, "score": score, **kw}


def _raises(path: Path, message: str, code: str | None = None, **kw: Any) -> InputError:
    with pytest.raises(InputError, match=message) as info:
        read_run(path, **kw)
    text = str(info.value)
    assert str(path) in text and "\n" not in text and "(fix: " in text
    if code is not None:
        assert info.value.code == code
    return info.value


@pytest.mark.parametrize("content", [b"", b"   \n\n  \r\n", b"\xef\xbb\xbf"])
def test_empty_or_blank_file(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(content)
    _raises(p, "file is empty")


def test_truncated_jsonl_names_the_broken_line(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "r.jsonl", [_item("a"), _item("b"), '{"item_id": "c", "sco'])
    _raises(p, "invalid JSON at line 3", "E101")


def test_truncated_lmeval_samples_names_the_broken_line(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "s.jsonl", [_lm(0), _lm(1), '{"doc_id": 2, "doc": {"pass'])
    _raises(p, "invalid JSON at line 3", metric="acc")


def test_non_utf8_byte_in_a_later_line(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(b'{"item_id": "a", "score": 1}\n{"item_id": "\xff\xfe", "score": 1}\n')
    _raises(p, "line 2 is not valid UTF-8")


def test_non_utf8_csv_row(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_bytes(b"item_id,score\na,1\n\xe9t\xe9,0\n")
    _raises(p, "line 3 is not valid UTF-8")


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [False, True])
def test_bom_and_crlf_in_line_formats(tmp_path: Path, eol: str, bom: bool) -> None:
    native = _jsonl(tmp_path / "r.jsonl", [_item("a", 1), _item("b", 0)], eol=eol, bom=bom)
    assert read_run(native).scores.tolist() == [1.0, 0.0]
    lm = _jsonl(tmp_path / "s.jsonl", [_lm(0), _lm(1, 0.0)], eol=eol, bom=bom)
    assert read_run(lm, metric="acc").scores.tolist() == [1.0, 0.0]
    csv = tmp_path / "r.csv"
    csv.write_bytes((b"\xef\xbb\xbf" if bom else b"")
                    + eol.join(["item_id,score", "a,1", "b,0"]).encode())
    assert read_run(csv).item_ids.tolist() == ["a", "b"]


def test_nan_and_infinity_tokens_are_kept_for_the_doctor(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "r.jsonl", ['{"item_id": "a", "score": NaN}',
                                      '{"item_id": "b", "score": -Infinity}', _item("c")])
    scores = read_run(p).scores
    assert np.isnan(scores[0]) and scores[1] == -np.inf and scores[2] == 1.0
    csv = tmp_path / "r.csv"
    csv.write_text("item_id,score\na,nan\nb,inf\n")
    assert not np.isfinite(read_run(csv).scores).any()


@pytest.mark.parametrize(("rows", "message"), [
    ([_item("a"), _item("b", "0.5")], r"item 'b': score 'score' is str '0.5', not a number"),
    ([_item("a"), _item("b", None)], r"item 'b': score 'score' is null, not a number"),
    ([_item("a"), _item("b", {"x": 1})], r"item 'b': score 'score' is dict"),
    ([_item("a", epoch="1")], r"item 'a': epoch is '1', not an integer"),
    ([_item("a", epoch=1.5)], r"epoch is 1.5, not an integer"),
])
def test_strings_where_numbers_belong_in_jsonl(tmp_path: Path, rows: list[Any],
                                              message: str) -> None:
    _raises(_jsonl(tmp_path / "r.jsonl", rows), message, "E109")


def test_string_score_in_lmeval_samples(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "s.jsonl", [_lm(0), _lm(1, "1.0")])
    _raises(p, r"item '1': score 'acc' is str '1.0'", "E109", metric="acc")


@pytest.mark.parametrize(("text", "message"), [
    ("item_id,score\na,high\n", r"item 'a': score is 'high', not a number"),
    ("item_id,score\na,\n", r"item 'a': score is '', not a number"),
    ("item_id,score,epoch\na,1,first\n", r"item 'a': epoch is 'first', not an integer"),
])
def test_strings_where_numbers_belong_in_csv(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "r.csv"
    p.write_text(text)
    _raises(p, message, "E109")


@pytest.mark.parametrize(("path_name", "rows", "kw"), [
    ("r.jsonl", [_item("a"), {"score": 1}], {}),
    ("r.jsonl", [_item("a"), _item("")], {}),
    ("s.jsonl", [_lm(0), {"filter": "none", "metrics": ["acc"], "acc": 1, "doc_id": None}],
     {"metric": "acc"}),
])
def test_missing_item_ids(tmp_path: Path, path_name: str, rows: list[Any],
                          kw: dict[str, str]) -> None:
    _raises(_jsonl(tmp_path / path_name, rows), r"record #2 has no item_id", "E109", **kw)


def test_missing_item_id_cell_in_csv(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("item_id,score\na,1\n,0\n")
    _raises(p, r"record #2 has no item_id", "E109")


def test_cluster_key_missing_on_some_items_is_marked_not_guessed(tmp_path: Path) -> None:
    lm = _jsonl(tmp_path / "s.jsonl", [_lm(0), {**_lm(1), "doc": {}}, _lm(2)])
    run = read_run(lm, metric="acc", cluster="passage_id")
    assert run.cluster_present is not None
    assert run.cluster_present.tolist() == [True, False, True]
    csv = tmp_path / "r.csv"
    csv.write_text("item_id,score,passage_id\na,1,P1\nb,0,\n")
    run = read_run(csv, cluster="passage_id")
    assert run.cluster_present is not None and run.cluster_present.tolist() == [True, False]


def test_deeply_nested_jsonl_line(tmp_path: Path) -> None:
    deep = '{"item_id": "b", "score": 1, "x": ' + "[" * 100000 + "]" * 100000 + "}"
    p = _jsonl(tmp_path / "r.jsonl", [_item("a"), deep])
    _raises(p, "line 2 is nested too deeply", "E110")


@pytest.mark.parametrize("where", ["first", "second"])
def test_a_100_mb_line_is_refused_by_its_length(tmp_path: Path, where: str) -> None:
    huge = '{"item_id": "x", "score": 1, "pad": "' + "x" * (100 * 1024**2) + '"}'
    rows = [huge, _item("a")] if where == "first" else [_item("a"), huge, _item("b")]
    err = _raises(_jsonl(tmp_path / "r.jsonl", rows), "longer than 32 MiB")
    assert err.code in ("E110", "E101")
    if where == "second":
        assert "line 2 is longer" in str(err) and err.code == "E110"


def test_line_bound_applies_to_lmeval_samples(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_io, "MAX_LINE_BYTES", 1000)
    p = _jsonl(tmp_path / "s.jsonl", [_lm(0), _lm(1, pad="x" * 5000)])
    with pytest.raises(InputError, match="line 2 is longer than"):
        read_run(p, metric="acc")


def test_a_line_longer_than_the_read_chunk_is_reassembled(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "r.jsonl", [_item("a", pad="y" * 100), _item("b", pad="z" * 300)])
    blocks = list(_io.line_blocks(p, chunk=64))
    lines = [line for block in blocks for line in block]
    assert [json.loads(line)["item_id"] for line in lines] == ["a", "b"]


def test_directory_where_a_file_is_expected(tmp_path: Path) -> None:
    _raises(tmp_path, "is a directory", format="csv")
    _raises(tmp_path, "is a directory")


def test_jsonl_whose_lines_are_not_objects(tmp_path: Path) -> None:
    p = _jsonl(tmp_path / "r.jsonl", [_item("a"), [1, 2]])
    _raises(p, "line 2 is list, not an object")


def test_unrecognised_text_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("just some notes\n")
    _raises(p, "unrecognised run format", "E101")


@pytest.mark.parametrize("content", [
    b"", b'{"run_id": "r", "items": [', b"\xff\xfe{}", b"item_id,score\na,high\n",
    b"PK\x03\x04truncated"])
def test_gate_on_bad_input_prints_one_line_exits_65_and_no_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    good = write_runframe(tmp_path / "good.json", ["a", "b"], [1, 0])
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    rc = main(["gate", "--baseline", str(bad), "--candidate", str(good), "--min-delta", "0"])
    out, err = capsys.readouterr()
    assert rc == 65 and out == ""
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err


def test_gate_on_a_missing_file_exits_66(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    good = write_runframe(tmp_path / "good.json", ["a"], [1])
    rc = main(["gate", "--baseline", str(tmp_path / "nope.eval"), "--candidate", str(good),
               "--min-delta", "0"])
    _, err = capsys.readouterr()
    assert rc == 66 and "file not found" in err


def test_duplicate_item_epoch_in_a_file_is_a_doctor_error(tmp_path: Path) -> None:
    from evalsig_core.doctor import diagnose

    dup = _jsonl(tmp_path / "b.jsonl", [_item("a", epoch=1), _item("a", 0, epoch=1),
                                        _item("b", epoch=1)])
    ok = _jsonl(tmp_path / "c.jsonl", [_item("a"), _item("b")])
    report = diagnose(read_run(dup), read_run(ok))
    assert not report.ok and [f.code for f in report.errors] == ["E104"]
    assert report.errors[0].examples == ["a epoch 1"]


def test_non_finite_scores_in_a_file_are_a_doctor_error(tmp_path: Path) -> None:
    from evalsig_core.doctor import diagnose

    bad = _jsonl(tmp_path / "b.jsonl", ['{"item_id": "a", "score": Infinity}', _item("b")])
    ok = _jsonl(tmp_path / "c.jsonl", [_item("a"), _item("b")])
    report = diagnose(read_run(bad), read_run(ok))
    assert [f.code for f in report.errors] == ["E103"] and report.exit_code == 65


@pytest.mark.parametrize("name", ["r.jsonl", "samples_t_2026-01-01T00-00-00.jsonl", "r.csv"])
def test_sha256_of_a_streamed_file_is_the_file_hash(tmp_path: Path, name: str) -> None:
    import hashlib

    if name.endswith(".csv"):
        p = tmp_path / name
        p.write_text("item_id,score\n" + "".join(f"q{i},{i % 2}\n" for i in range(50000)))
    elif name.startswith("samples"):
        p = _jsonl(tmp_path / name, [_lm(i) for i in range(20000)])
    else:
        p = _jsonl(tmp_path / name, [_item(f"q{i}") for i in range(20000)])
    run = read_run(p, metric="acc" if name.startswith("samples") else None)
    assert run.meta.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize(("field", "message", "code"), [
    # in an id or label E109, as a NUL there is (it was E101): the record's value is not text
    ("item_id", r"record #2 has item_id 'q1\\ud800'.*lone UTF-16 surrogate", "E109"),
    ("label", r"item 'q1': record #2 has cluster label 'P1\\ud800'.*lone UTF-16 surrogate",
     "E109"),
    ("model_id", r"the run's model 'm\\ud800'.*lone UTF-16 surrogate", "E101"),
])
def test_a_lone_surrogate_escape_is_refused_by_record(tmp_path: Path, field: str,
                                                      message: str, code: str) -> None:
    # JSON allows the escape "\ud800" alone (half a UTF-16 pair); Python's json reads it, but
    # no report holding it can be written as UTF-8: the JSON report was "internal error:
    # PydanticSerializationError" (exit 70) after the verdict had been decided.
    ids, labels, extra = ["q0", "q1"], ["P0", "P1"], dict[str, Any]()
    if field == "item_id":
        ids[1] += "\ud800"
    elif field == "label":
        labels[1] += "\ud800"
    else:
        extra[field] = "m\ud800"
    p = write_runframe(tmp_path / "r.json", ids, [1, 0], labels, **extra)
    assert "\\ud800" in p.read_text()  # json.dumps escapes it: the file itself is ASCII
    _raises(p, message, code, cluster="passage_id")


def test_gate_json_on_a_lone_surrogate_exits_65_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_runframe(tmp_path / "good.json", ["a", "b"], [1, 0])
    bad = write_runframe(tmp_path / "bad.json", ["a", "b\udfff"], [1, 1])
    rc = main(["gate", "--baseline", str(good), "--candidate", str(bad), "--min-delta", "0",
               "--output", "json"])
    _, err = capsys.readouterr()
    assert rc == 65 and "internal error" not in err
    assert err.count("\n") == 1 and str(bad) in err and "surrogate" in err


def test_an_escaped_surrogate_pair_is_one_character_and_reads(tmp_path: Path) -> None:
    p = write_runframe(tmp_path / "r.json", ["q\U0001f600", "\ud7ff", "\ue000"], [1, 0, 1],
                       ["P\U0001f600", "P", "P"])
    assert "\\ud83d\\ude00" in p.read_text()  # the pair json.dumps writes for U+1F600
    run = read_run(p, cluster="passage_id")
    assert run.clusters is not None
    assert run.item_ids.tolist()[0] == "q\U0001f600" and run.clusters[0] == "P\U0001f600"


@pytest.mark.parametrize("filt", [{"name": "none"}, ["none"], 3])
def test_an_lmeval_filter_that_is_not_a_name_is_refused_by_record(tmp_path: Path,
                                                                  filt: Any) -> None:
    # "filter": {...} or [...] was "internal error: TypeError: unhashable type" (exit 70)
    p = _jsonl(tmp_path / "samples_t_2026-01-01T00-00-00.jsonl",
               [_lm(0), _lm(1), _lm(2, filter=filt)])
    _raises(p, r"item '2': record #3 has filter .*, not a name", "E109", metric="acc")
