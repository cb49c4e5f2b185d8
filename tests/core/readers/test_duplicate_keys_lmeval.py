"""An lm-eval samples line that repeats a key evalsig reads is refused (E117) with its line.

orjson keeps the last of two equal keys: a line of the real fixture with `"acc": 0` written
after its `"acc": 1` read as 0 without a word (the verdict could flip). The reader counts,
per block of lines, how often each key it reads is written (`_dupkeys.key_counts`) against
the records that hold it; a block where they differ is checked line by line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalsig_core import read_run
from evalsig_core.readers import _dupkeys
from tests.conftest import SHARED_FIXTURES, run_cli
from tests.core.readers.test_duplicate_keys import _refused as refused

MC = SHARED_FIXTURES / "lm-eval-0.4.13" / "candidate" / \
    "samples_passage_mc_2026-11-29T17-05-48.800881.jsonl"


def _copy(tmp_path: Path, edit: dict[int, Any] | None = None, times: int = 1) -> Path:
    """The real samples file (`times` copies of its 40 lines, doc ids made unique), with line
    `i` (from 1) replaced by `edit[i](line)`; the name keeps the harness's pattern."""
    lines = MC.read_text("utf-8").splitlines()
    out = []
    for k in range(times):
        for line in lines:
            obj = json.loads(line)
            obj["doc_id"] += 1000 * k
            out.append(json.dumps(obj))
    for i, fn in (edit or {}).items():
        out[i - 1] = fn(out[i - 1])
    p = tmp_path / MC.name
    p.write_text("\n".join(out) + "\n", "utf-8")
    return p


def _append(extra: str) -> Any:
    return lambda line: f"{line[:-1]}, {extra}}}"


def _refused(p: Path, key: str, item: str | None, lineno: int, **kw: Any) -> str:
    text = refused(p, key, item, **kw)
    assert f"the key {key!r} appears twice in line {lineno}" in text
    return text


def test_a_repeated_metric_on_a_sample_line_is_refused(tmp_path: Path) -> None:
    # before: line 3 read as acc 0.0 (its first "acc" is 1.0); the run's mean moved silently
    assert json.loads(MC.read_text().splitlines()[2])["acc"] == 1.0
    p = _copy(tmp_path, {3: _append('"acc": 0.0')})
    _refused(p, "acc", "2", 3, metric="acc")


@pytest.mark.parametrize(("extra", "key", "item"), [
    ('"doc_id": 77', "doc_id", "77"),
    ('"filter": "strict-match"', "filter", "4"),
    ('"acc" \t: 0.0', "acc", "4"),  # whitespace before the colon
    ('"\\u0061cc": 0.0', "acc", "4"),  # the same key to every JSON parser
])
def test_every_key_the_reader_reads_is_checked(tmp_path: Path, extra: str, key: str,
                                               item: str) -> None:
    p = _copy(tmp_path, {5: _append(extra)})
    _refused(p, key, item, 5, metric="acc", cluster="passage_id")


def test_a_repeated_cluster_label_inside_doc_is_refused_when_clustering(tmp_path: Path) -> None:
    p = _copy(tmp_path, {7: lambda line: line.replace('"passage_id": "P02"',
                                                      '"passage_id": "P02", "passage_id": "P08"')})
    assert "line 7 doc" in _refused(p, "passage_id", "6", 7, metric="acc",
                                    cluster="passage_id")
    assert read_run(p, metric="acc").n_records == 40  # without --cluster it is not read


def test_a_repeated_metrics_list_is_refused_when_it_names_the_metric(tmp_path: Path) -> None:
    p = _copy(tmp_path, {1: lambda line: line.replace('"metrics": ["acc", "acc_norm"]',
                                                      '"metrics": ["acc"], "metrics": ["acc"]')})
    _refused(p, "metrics", None, 1)
    assert read_run(p, metric="acc").n_records == 40  # --metric: the list is not read


def test_a_repeat_many_blocks_into_a_large_file_names_its_line(tmp_path: Path) -> None:
    p = _copy(tmp_path, {3999: _append('"acc": 1.0')}, times=100)  # 4000 lines, ~8 MB
    _refused(p, "acc", str(99 * 1000 + 38), 3999, metric="acc")


def test_repeated_keys_the_reader_does_not_read_are_ignored(tmp_path: Path) -> None:
    p = _copy(tmp_path, {2: _append('"doc_hash": "x"'),
                         9: lambda line: line.replace('"subject": "', '"subject": "a", '
                                                      '"subject": "')})
    run = read_run(p, metric="acc", cluster="passage_id")
    assert run.scores.tolist() == read_run(MC, metric="acc", cluster="passage_id").scores.tolist()


def test_keys_the_reader_reads_found_elsewhere_in_a_line_are_not_repeats(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a dataset row with its own "filter" and "acc", a prompt quoting '"acc": 1': counted as
    # keys, so the block is checked line by line, and read as before
    checked: list[int] = []
    monkeypatch.setattr(_dupkeys, "refuse_line_duplicates",
                        _spy(checked, _dupkeys.refuse_line_duplicates))
    p = _copy(tmp_path, {i: (lambda line: line.replace(
        '"subject": ', '"filter": "f", "acc": 0, "note": "say \\"acc\\": 1", "subject": '))
        for i in range(1, 41)})
    run = read_run(p, metric="acc", cluster="passage_id")
    assert checked and run.scores.tolist() == read_run(MC, metric="acc").scores.tolist()


def _spy(calls: list[int], fn: Any) -> Any:
    def spy(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return fn(*args, **kw)
    return spy


def test_gate_on_a_repeated_metric_exits_65_in_one_line(tmp_path: Path) -> None:
    bad = _copy(tmp_path, {3: _append('"acc": 0.0')})
    base = SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline" / \
        "samples_passage_mc_2026-11-29T17-05-40.616948.jsonl"
    code, out, err = run_cli(["gate", "--baseline", str(base), "--candidate", str(bad),
                              "--metric", "acc", "--min-delta", "0"])
    assert code == 65 and out == "" and err.count("\n") == 1
    assert str(bad) in err and "appears twice in line 3" in err and "Traceback" not in err
