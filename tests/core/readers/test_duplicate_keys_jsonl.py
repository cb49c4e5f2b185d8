"""A JSONL item line that repeats a key evalsig reads is refused (E117) with its line number.

orjson and json keep the last of two equal keys: `{"item_id": "a", "score": 1, "score": 0}` read
as score 0. The native JSONL reader compares, per block of lines, the colons that can end a key
with the keys parsed (`_dupkeys`); the lines of a block where they differ are checked one by one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import read_run
from evalsig_core.cli import main
from evalsig_core.errors import InputError
from evalsig_core.readers import _io
from tests.core.readers.test_duplicate_keys import _refused as refused


def _item(i: int, **extra: Any) -> str:
    return json.dumps({"item_id": f"q{i}", "epoch": 1, "score": i % 2,
                       "metadata": {"passage_id": f"P{i // 3}"}, **extra})


def _run(p: Path, lines: list[str], header: bool = False) -> Path:
    head = ['{"schema": "evalsig.run/1", "metric": "accuracy"}'] if header else []
    p.write_text("\n".join([*head, *lines]) + "\n")
    return p


def _with(line: str, extra: str) -> str:
    """`line` (a JSON object) with `extra` written before its closing brace."""
    return f"{line[:-1]}, {extra}}}"


def _refused(p: Path, key: str, item: str, lineno: int, **kw: Any) -> str:
    """test_duplicate_keys' one-line E117 refusal, naming the line of the repeat."""
    text = refused(p, key, item, **kw)
    assert f"the key {key!r} appears twice in line {lineno}" in text
    return text


def test_a_repeated_score_on_an_item_line_is_refused(tmp_path: Path) -> None:
    lines = [_item(i) for i in range(4)]
    lines[2] = _with(lines[2], '"score": 1')  # q2 scored 0, then 1: read as 1 before
    _refused(_run(tmp_path / "r.jsonl", lines), "score", "q2", 3, cluster="passage_id")


def test_the_doctor_reports_a_repeated_score_on_an_item_line_as_e117(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = _run(tmp_path / "b.jsonl", [_item(i) for i in range(40)])
    lines = [_item(i) for i in range(40)]
    lines[5] = _with(lines[5], '"score": 0')
    c = _run(tmp_path / "c.jsonl", lines)
    assert main(["doctor", str(b), str(c), "--output", "json"], env={}) == 65
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["code"], finding["file"]) == ("E117", str(c))
    assert "line 6" in finding["message"]


def test_a_repeated_item_id_key_is_refused_naming_the_id_read(tmp_path: Path) -> None:
    lines = [_item(i) for i in range(4)]
    lines[1] = _with(lines[1], '"item_id": "q9"')  # q1 vanished, q9 appeared
    _refused(_run(tmp_path / "r.jsonl", lines), "item_id", "q9", 2)


def test_a_repeated_cluster_label_is_refused_when_clustering(tmp_path: Path) -> None:
    lines = [_item(i) for i in range(4)]
    lines[3] = lines[3].replace('"passage_id": "P1"', '"passage_id": "P1", "passage_id": "P7"')
    p = _run(tmp_path / "r.jsonl", lines)
    assert "line 4 metadata" in _refused(p, "passage_id", "q3", 4, cluster="passage_id")
    assert read_run(p).n_records == 4  # without --cluster the label is not read


def test_a_repeated_key_evalsig_does_not_read_is_ignored_at_any_depth(tmp_path: Path) -> None:
    # as in JSON documents: only keys evalsig reads are refused (the value kept is unused)
    lines = [_item(i) for i in range(4)]
    lines[0] = _with(lines[0], '"note": "a", "note": "b"')
    lines[1] = _with(lines[1], '"trace": {"step": 1, "step": 2}')
    lines[2] = lines[2].replace('"passage_id": "P0"', '"passage_id": "P0", "src": "x", '
                                '"src": "y"')
    run = read_run(_run(tmp_path / "r.jsonl", lines), cluster="passage_id")
    assert run.scores.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_a_key_spelled_with_unicode_escapes_is_the_same_key(tmp_path: Path) -> None:
    lines = [_item(i) for i in range(3)]
    lines[1] = _with(lines[1], '"sc\\u006fre": 0')
    _refused(_run(tmp_path / "r.jsonl", lines), "score", "q1", 2)


def test_an_escaped_colon_in_a_string_does_not_hide_a_duplicate(tmp_path: Path) -> None:
    # "\u003a" is ':' once parsed (and written back), but not a colon byte in the line
    lines = [_item(i) for i in range(3)]
    lines[1] = _with(lines[1], '"note": "a\\u003ab", "epoch": 2')
    _refused(_run(tmp_path / "r.jsonl", lines), "epoch", "q1", 2)


def test_a_key_written_with_spaces_before_its_colon_is_counted(tmp_path: Path) -> None:
    lines = [_item(i) for i in range(3)]
    lines[2] = _with(lines[2], '"score" \t :1')
    _refused(_run(tmp_path / "r.jsonl", lines), "score", "q2", 3)


def test_colons_inside_strings_are_not_duplicates(tmp_path: Path) -> None:
    lines = [json.dumps({"item_id": f"mmlu:algebra:{i}", "score": 1,
                         "metadata": {"passage_id": f"P{i}", "at": "12:30",
                                      "quote": 'he said "score": 1, then " : "'}})
             for i in range(5)]
    run = read_run(_run(tmp_path / "r.jsonl", lines), cluster="passage_id")
    assert run.item_ids.tolist()[:2] == ["mmlu:algebra:0", "mmlu:algebra:1"]
    assert run.scores.tolist() == [1.0] * 5


def test_nested_objects_and_errored_items_are_read_as_before(tmp_path: Path) -> None:
    lines = [_item(i, trace={"steps": [{"a": 1}, {"b": {"c": 2}}]}) for i in range(4)]
    lines.append(json.dumps({"item_id": "q4", "error": "timeout"}))
    lines.append(json.dumps({"item_id": "q5", "scores": {"accuracy": 1, "f1": 0.5}}))
    run = read_run(_run(tmp_path / "r.jsonl", lines, header=True))
    assert run.scores.tolist() == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert run.meta.n_errored == 1


@pytest.mark.parametrize("header", [False, True])
def test_a_duplicate_beside_objects_the_key_sum_leaves_out_is_refused(
        tmp_path: Path, header: bool) -> None:
    # objects nested in metadata are not in the reader's key sum: such blocks are parsed again
    # (as one array, or line by line when a blank line, here the header's, is in the block)
    lines = [_item(i, metadata={"passage_id": f"P{i}", "src": {"ds": "x", "split": "test"}})
             for i in range(50)]
    p = _run(tmp_path / "r.jsonl", lines, header=header)
    assert read_run(p, cluster="passage_id").n_records == 50
    lines[40] = _with(lines[40], '"score": 1')
    p = _run(tmp_path / "r.jsonl", lines, header=header)
    _refused(p, "score", "q40", 41 + header, cluster="passage_id")


def test_a_repeated_metric_inside_scores_is_refused(tmp_path: Path) -> None:
    lines = [json.dumps({"item_id": f"q{i}", "scores": {"accuracy": 1, "f1": 0.5}})
             for i in range(3)]
    lines[1] = lines[1].replace('"f1": 0.5', '"f1": 0.5, "accuracy": 0')
    p = _run(tmp_path / "r.jsonl", lines)
    assert "line 2 scores" in _refused(p, "accuracy", "q1", 2, metric="accuracy")


@pytest.mark.parametrize("more", [{}, {"subject": "math", "level": 3}])
def test_a_duplicate_far_into_a_large_file_names_its_line(tmp_path: Path,
                                                           more: dict[str, Any]) -> None:
    # 30000 lines span several 256 KiB read chunks; the header line counts as line 1. With
    # metadata beyond the cluster key, the first block is parsed again, then every key counted
    lines = [_item(i, metadata={"passage_id": f"P{i // 3}", **more}) for i in range(30000)]
    lines[27182] = _with(lines[27182], '"score": 1')
    p = _run(tmp_path / "r.jsonl", lines, header=True)
    assert p.stat().st_size > 4 * _io.CHUNK_BYTES
    _refused(p, "score", "q27182", 27184, cluster="passage_id")


def test_block_colon_counts_are_those_of_their_lines_at_any_chunk_size(
        tmp_path: Path) -> None:
    # a line split across chunks is counted once, in the block that holds it whole
    rng = random.Random(7)
    lines = [_with(_item(i), f'"pad": "{":" * rng.randrange(40)}", "k" :{i}') for i in range(60)]
    p = _run(tmp_path / "r.jsonl", lines)
    for chunk in (16, 64, 100, 1000):
        blocks = list(_io.line_blocks(p, chunk=chunk))
        assert [b.colons(keys_only=True) for b in blocks] == [
            sum(map(_io.key_colons, b)) for b in blocks]
        assert sum(b.colons(keys_only=True) for b in blocks) == _io.key_colons(p.read_bytes())
        assert sum(b.colons() for b in blocks) == p.read_bytes().count(b":")


@pytest.mark.parametrize("at", [0, 1, 2, 3])
def test_a_duplicate_in_a_block_of_items_of_every_shape_is_refused(tmp_path: Path,
                                                                    at: int) -> None:
    # the key sum counts `dated` keys per regular item, one less without an epoch and the
    # surplus of items with more keys: a repeat in any of them is refused
    shapes = [json.dumps({"item_id": "q0", "score": 1, "metadata": {"passage_id": "P"}}),
              _item(1), _item(2, note="n"), json.dumps({"item_id": "q3", "error": "boom"})]
    lines = [shapes[i % 4].replace(f'"q{i % 4}"', f'"q{i}"') for i in range(40)]
    lines[20 + at] = _with(lines[20 + at], '"item_id": "x"')
    _refused(_run(tmp_path / "r.jsonl", lines), "item_id", "x", 21 + at, cluster="passage_id")


@pytest.mark.parametrize("epoch", ["true", "1.0"])
def test_an_epoch_equal_to_one_but_not_the_integer_is_refused(tmp_path: Path,
                                                              epoch: str) -> None:
    # the parsing loop takes a column of epochs that are all the integer 1 without a scan
    lines = [_item(i) for i in range(10)]
    lines[7] = lines[7].replace('"epoch": 1', f'"epoch": {epoch}')
    with pytest.raises(InputError, match=f"item 'q7': epoch is {epoch}, not an integer"):
        read_run(_run(tmp_path / "r.jsonl", lines), cluster="passage_id")


def test_json_lines_keep_their_newline_within_the_line_bound(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the JSON readers' lines end with their newline; the bound is on the line without it
    monkeypatch.setattr(_io, "MAX_LINE_BYTES", 100)
    fit = _item(1, pad="x" * (100 - len(_item(1, pad=""))))
    assert len(fit) == 100
    p = _run(tmp_path / "r.jsonl", [_item(0)] * 3 + [fit])
    assert read_run(p).n_records == 4
    p = _run(tmp_path / "s.jsonl", [_item(0)] * 3 + [_with(fit, '"k": 1')])
    with pytest.raises(InputError, match="line 4 is longer than 100 bytes"):
        read_run(p)
