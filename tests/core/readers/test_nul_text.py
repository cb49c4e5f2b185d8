"""A NUL character in an item id or a cluster label is one E109 line, in every reader and in
`EvalRun.from_arrays`.

numpy's fixed-width strings drop trailing NULs: "q0\\x00" was the id "q0", so it silently
paired with the other run's "q0", collided with a "q0" of its own run (E104 naming "q0", an
id the file holds once), and the label "P1\\x00" joined the cluster "P1". A NUL is never real
text in an id (a corrupted or binary export): refused wherever it stands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import EvalRun, InputError, read_run
from evalsig_core.cli import main
from evalsig_core.numtext import str_array
from tests.conftest import SHARED_FIXTURES, write_runframe
from tests.core.readers.test_inspect_archive import _eval, _sample

_IDS = [f"q{i}" for i in range(20)]
_LABELS = [f"P{i % 4}" for i in range(20)]
_B = [float(i % 3 == 0) for i in range(20)]
_C = [float(i % 2 == 0) for i in range(20)]


def _write(path: Path, ids: list[Any], labels: list[Any] | None = None,
           scores: list[float] = _B) -> Path:
    """Native JSONL, CSV or TSV (by suffix), or a RunFrame (.json), of `ids` and `labels`."""
    scores = scores[:len(ids)]
    if path.suffix == ".json":
        return write_runframe(path, ids, scores, labels)
    if path.suffix == ".jsonl":
        rows = [{"item_id": i, "score": s, **({} if labels is None else
                                               {"metadata": {"passage_id": labels[n]}})}
                for n, (i, s) in enumerate(zip(ids, scores, strict=True))]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path
    sep = "\t" if path.suffix == ".tsv" else ","
    head = ["item_id", "score"] + ([] if labels is None else ["passage_id"])
    lines = [sep.join(head)] + [sep.join([str(i), str(s)] + ([] if labels is None else
                                                             [str(labels[n])]))
                                for n, (i, s) in enumerate(zip(ids, scores, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    return path


def _refused(path: Path, says: str, item: str | None = None, **kw: Any) -> None:
    with pytest.raises(InputError) as info:
        read_run(path, **kw)
    text = str(info.value)
    assert info.value.code == "E109" and "\n" not in text, text
    assert text.startswith(f"{path}: " + ("" if item is None else f"item {item!r}: ")), text
    assert says in text and "holds a NUL character (fix: " in text, text


_FORMATS = ["r.jsonl", "r.json", "r.csv", "r.tsv"]


@pytest.mark.parametrize("name", _FORMATS)
def test_a_trailing_nul_id_no_longer_pairs_with_the_other_runs_id(tmp_path: Path,
                                                                   name: str) -> None:
    ids = ["q0\x00", *_IDS[1:]]  # was read as "q0" and paired with the candidate's "q0"
    _refused(_write(tmp_path / name, ids), r"record #1 has item_id 'q0\x00'")


@pytest.mark.parametrize("name", _FORMATS)
def test_a_trailing_nul_id_is_no_duplicate_of_its_twin(tmp_path: Path, name: str) -> None:
    ids = [*_IDS[:5], "q3\x00", *_IDS[6:]]  # was E104: "q3" twice
    _refused(_write(tmp_path / name, ids), r"record #6 has item_id 'q3\x00'")


@pytest.mark.parametrize("name", _FORMATS)
def test_a_trailing_nul_label_no_longer_joins_the_cluster(tmp_path: Path, name: str) -> None:
    labels = [*_LABELS[:7], "P3\x00", *_LABELS[8:]]  # was cluster "P3"
    _refused(_write(tmp_path / name, _IDS, labels), r"record #8 has cluster label 'P3\x00'",
             "q7", cluster="passage_id")


@pytest.mark.parametrize("bad", ["\x00", "\x00q", "q\x00q", "q\x00\x00"])
def test_a_nul_anywhere_is_refused(tmp_path: Path, bad: str) -> None:
    # an interior NUL survives numpy, but is no more an id than a trailing one
    _refused(_write(tmp_path / "r.jsonl", [*_IDS[:2], bad]), "record #3 has item_id")
    labels = [*_LABELS[:2], bad]
    _refused(_write(tmp_path / "r.csv", _IDS[:3], labels), "record #3 has cluster label",
             "q2", cluster="passage_id")


def test_ids_not_all_strings_are_checked_too(tmp_path: Path) -> None:
    # integers beside strings, and labels of mixed types, take the per-value paths
    _refused(_write(tmp_path / "r.jsonl", [1, 2, "q\x00"]), r"record #3 has item_id 'q\x00'")
    _refused(_write(tmp_path / "r.jsonl", _IDS[:3], [1, 2.0, "P\x00"]),
             r"record #3 has cluster label 'P\x00'", "q2", cluster="passage_id")


def test_inspect_lm_eval_and_helm_refuse_a_nul(tmp_path: Path) -> None:
    doc = json.loads((SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.json").read_text())
    doc["samples"][2]["id"] += "\x00"
    p = tmp_path / "inspect.json"
    p.write_text(json.dumps(doc))
    _refused(p, r"record #3 has item_id 'p01-q3\x00'")
    ev = _eval(tmp_path / "r.eval", [_sample("s1", 1, "C"), _sample("s2", 1, "I", "P1\x00")])
    _refused(ev, r"record #2 has cluster label 'P1\x00'", "s2", cluster="passage_id")
    rows = [{"doc_id": i, "doc": {"passage_id": "P\x00" if i else "P"}, "filter": "none",
             "metrics": ["acc"], "acc": 1.0} for i in range(2)]
    lm = tmp_path / "samples_t_2024-01-01T00-00-00.jsonl"
    lm.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _refused(lm, r"record #2 has cluster label 'P\x00'", "1", metric="acc",
             cluster="passage_id")
    stats = json.loads((SHARED_FIXTURES / "helm-0.5.16" / "baseline" /
                        "per_instance_stats.json").read_text())
    stats[1]["instance_id"] += "\x00"
    helm = tmp_path / "per_instance_stats.json"
    helm.write_text(json.dumps(stats))
    _refused(helm, r"has item_id 'id1\x00'", metric="exact_match")


@pytest.mark.parametrize("ids", [
    ["a", "b\x00"],  # was ["a", "b"]
    np.array(["a", "b\x00"], dtype=object),
    ["a", "b\x00", 3],  # integers beside strings: was numpy's own conversion
    ["a", "b\x00", 3.0],  # a float id: the per-value path
    np.array(["a", "b\x00c"]),  # a `<U` array keeps an interior NUL
])
def test_from_arrays_refuses_a_nul_id(ids: Any) -> None:
    with pytest.raises(InputError, match=r"^mem: record #2 has item_id 'b\\x00c?', which holds "
                                         r"a NUL character \(fix: ") as info:
        EvalRun.from_arrays(ids, [1.0] * len(ids), source="mem")
    assert info.value.code == "E109"


@pytest.mark.parametrize("clusters", [
    ["P", "P\x00"], np.array(["P", "P\x00"], dtype=object), [1, "P\x00"],
    np.array(["P", "P\x00Q"]),
])
def test_from_arrays_refuses_a_nul_label(clusters: Any) -> None:
    with pytest.raises(InputError, match=r"^mem: item 'y': record #2 has cluster label "
                                         r"'P\\x00Q?', which holds a NUL character") as info:
        EvalRun.from_arrays(["x", "y"], [1.0, 0.0], clusters=clusters, source="mem")
    assert info.value.code == "E109"


@pytest.mark.parametrize("values", [["a", "b\x00"], ["x" * 300, "y\x00" * 200], ["\x00"]])
def test_str_array_refuses_a_nul_at_any_length(values: list[str]) -> None:
    # values of 256 characters or more take the int64 length pass
    with pytest.raises(InputError, match=rf"^f: record #{len(values)} has item_id"):
        str_array(values, "f")


@pytest.mark.parametrize("name", ["b.jsonl", "b.csv"])
def test_gate_refuses_a_nul_id_in_one_line(tmp_path: Path, name: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    b = _write(tmp_path / name, ["q0\x00", *_IDS[1:]], _LABELS)
    c = _write(tmp_path / "c.jsonl", _IDS, _LABELS, _C)
    argv = ["gate", "--baseline", str(b), "--candidate", str(c), "--min-delta", "0.01",
            "--cluster", "passage_id", "--output", "json"]
    assert main(argv, {}) == 65
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert f"{b}: record #1 has item_id 'q0\\x00', which holds a NUL character (fix: " in err
