"""The doctor: each check yields its stable code, severity, message, hint and count.

One test per finding code; runs are built in memory with `EvalRun.from_arrays` unless the
finding comes from reading a file (E1xx read errors) or from a real harness log.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import EvalRun, InputError, Policy, gate, read_run
from evalsig_core.doctor import FINDING_CODES, diagnose, finding_from_error, summarize
from evalsig_core.report import DoctorReport, Finding, Severity
from tests.conftest import REPO, SHARED_FIXTURES, run_cli, write_runframe


def _run(ids: list[Any], scores: list[float], clusters: list[Any] | None = None,
         **kw: Any) -> EvalRun:
    kw.setdefault("metric", "accuracy")
    return EvalRun.from_arrays(ids, scores, clusters=clusters, **kw)


def _ids(n: int) -> list[str]:
    return [f"q{i}" for i in range(n)]


def _alt(n: int, offset: int = 0) -> list[float]:
    return [float((i + offset) % 2) for i in range(n)]


def _codes(report: DoctorReport) -> list[str]:
    return [f.code for f in report.findings]


def _one(report: DoctorReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, _codes(report)
    return found[0]


def _clean_pair(n: int = 40, G: int = 20) -> tuple[EvalRun, EvalRun]:
    cl = [f"P{i % G}" for i in range(n)]
    return _run(_ids(n), _alt(n), cl), _run(_ids(n), [float(i % 3 == 0) for i in range(n)], cl)


def test_a_clean_pair_has_no_error_or_warning() -> None:
    b, c = _clean_pair()
    report = diagnose(b, c, cluster="passage_id")
    assert report.ok and report.exit_code == 0
    assert {f.severity for f in report.findings} == {Severity.INFO}
    assert _codes(report) == ["I301", "I302"]


def test_every_code_has_a_severity_prefix_and_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Doctor findings", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| ([EWI]\d{3}) \|", section, flags=re.M)
    assert sorted(documented) == sorted(FINDING_CODES) and len(set(documented)) == len(documented)
    for row in re.findall(r"^\| [EWI]\d{3} \|.*$", section, flags=re.M):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 3 and all(cells), row  # code, meaning, fix


@pytest.mark.parametrize(("content", "kw", "code"), [
    (b"nonsense text\n", {}, "E101"),
    (json.dumps({"schema": "evalsig.run/1", "metric": "acc",
                 "items": [{"item_id": "a", "score": 1}]}).encode(), {"metric": "f1"}, "E102"),
    (b'{"item_id": "a", "score": "x"}\n{"item_id": "b", "score": 1}\n', {}, "E109"),
    (b"[" * 10000 + b"]" * 10000, {}, "E110"),
])
def test_read_errors_become_findings_with_their_code(tmp_path: Path, content: bytes,
                                                     kw: dict[str, Any], code: str) -> None:
    p = tmp_path / "r.json"
    p.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_run(p, **kw)
    f = finding_from_error(info.value)
    assert (f.code, f.severity, f.file) == (code, Severity.ERROR, str(p))
    assert f.message and f.hint and str(p) not in f.message  # the file is its own field


def test_e111_results_file_is_a_finding() -> None:
    (results,) = (SHARED_FIXTURES / "lm-eval-0.4.13" / "baseline").glob("results_*.json")
    with pytest.raises(InputError) as info:
        read_run(results)
    assert finding_from_error(info.value).code == "E111"


def test_e103_non_finite_scores() -> None:
    b, c = _clean_pair()
    c = _run(_ids(40), [np.nan, np.inf, *_alt(38)], [f"P{i % 20}" for i in range(40)])
    f = _one(diagnose(b, c, cluster="passage_id"), "E103")
    assert f.count == 2 and f.examples == ["q0", "q1"] and f.severity is Severity.ERROR


def test_e103_infinite_scores_raise_no_numpy_warning(recwarn: pytest.WarningsRecorder) -> None:
    # inf - inf in the per-item epoch variance printed "RuntimeWarning: invalid value
    # encountered in subtract" and a source line on stderr before the doctor report.
    b, c = _clean_pair()
    c = _run(_ids(40), [np.inf, *_alt(39)], [f"P{i % 20}" for i in range(40)])
    doc = diagnose(b, c, cluster="passage_id")
    assert _one(doc, "E103").count == 1
    assert _one(doc, "I301").message.endswith("delta = n/a (non-finite scores)")  # not +inf
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_e104_duplicate_item_epoch() -> None:
    b = _run(["a", "a", "b", "b"], [1, 0, 1, 1], epochs=[1, 1, 1, 2])
    c = _run(["a", "b"], [1, 0])
    f = _one(diagnose(b, c), "E104")
    assert f.count == 1 and f.examples == ["a epoch 1"]


def test_e105_no_shared_item_and_no_scored_item() -> None:
    report = diagnose(_run(["a"], [1]), _run(["b"], [1]))
    assert not report.ok and "E105" in _codes(report) and report.exit_code == 65
    empty = _run([], [], n_errored=3, errored_items=("x", "y", "z"))
    f = _one(diagnose(_run(["a"], [1]), empty), "E105")
    assert "3 errored samples" in f.message


def test_e106_failed_run_and_w216_when_it_was_allowed() -> None:
    failed = _run(_ids(40), _alt(40), status="error")
    b, _ = _clean_pair()
    assert _one(diagnose(b, failed), "E106").severity is Severity.ERROR
    path = SHARED_FIXTURES / "inspect-0.3.285" / "candidate_errors_status-error_e1.eval"
    allowed = read_run(path, metric="match", allow_failed_run=True)
    base = read_run(SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.eval", metric="match")
    report = diagnose(base, allowed)
    assert report.ok and "E106" not in _codes(report)
    assert _one(report, "W216").severity is Severity.WARNING


def test_e107_cluster_key_missing_on_some_items() -> None:
    cl = [f"P{i % 20}" for i in range(40)]
    b = _run(_ids(40), _alt(40), cl)
    c = _run(_ids(40), _alt(40, 1), [None, None, *cl[2:]])
    f = _one(diagnose(b, c, cluster="passage_id"), "E107")
    assert f.count == 2 and f.examples == ["q0", "q1"]


def test_e108_single_cluster() -> None:
    b = _run(_ids(40), _alt(40), ["P"] * 40)
    c = _run(_ids(40), _alt(40, 1), ["P"] * 40)
    assert _one(diagnose(b, c, cluster="passage_id"), "E108").count == 1


def test_w201_items_in_only_one_run() -> None:
    b, c = _run(_ids(40), _alt(40)), _run(_ids(38), _alt(38, 1))
    f = _one(diagnose(b, c), "W201")
    assert f.count == 2 and f.examples == ["baseline only: q38", "baseline only: q39"]


def test_w202_errored_samples_from_a_real_inspect_log() -> None:
    path = SHARED_FIXTURES / "inspect-0.3.285" / "candidate_errors_tolerated_e1.eval"
    c = read_run(path, metric="match")
    b = read_run(SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.eval", metric="match")
    report = diagnose(b, c)
    assert report.ok
    f = _one(report, "W202")
    assert f.count == 3 and f.examples == ["p02-q3", "p05-q1", "p07-q5"]
    assert _one(report, "W201").count == 3


def test_w203_epoch_counts_differ() -> None:
    b = _run(_ids(40) * 2, _alt(80), epochs=[1] * 40 + [2] * 40)
    c = _run(_ids(40), _alt(40, 1))
    assert "W203" in _codes(diagnose(b, c))


def test_w203_not_raised_by_a_duplicate_that_e104_reports() -> None:
    # one epoch everywhere, but "q0" epoch 1 written twice: E104 says so; counting its two
    # records as two epochs added a W203 "baseline [1, 2], candidate [1]" for the same cause
    b = _run([*_ids(40), "q0"], [*_alt(40), 1.0])
    c = _run(_ids(40), _alt(40, 1))
    codes = _codes(diagnose(b, c))
    assert "E104" in codes and "W203" not in codes


def test_w203_kept_for_uneven_epochs_beside_a_duplicate() -> None:
    b = _run(_ids(40) * 2 + ["q0"], [*_alt(80), 1.0], epochs=[1] * 40 + [2] * 40 + [1])
    c = _run(_ids(40), _alt(40, 1))
    f = _one(diagnose(b, c), "W203")
    assert "baseline [2], candidate [1]" in f.message


def test_w204_cluster_labels_disagree_between_runs() -> None:
    cl = [f"P{i % 20}" for i in range(40)]
    b = _run(_ids(40), _alt(40), cl)
    c = _run(_ids(40), _alt(40, 1), ["X", *cl[1:]])
    f = _one(diagnose(b, c, cluster="passage_id"), "W204")
    assert f.count == 1 and f.examples == ["q0"]


def test_w204_baseline_records_of_one_item_disagree_on_the_cluster() -> None:
    cl = [f"P{i % 20}" for i in range(40)]
    b = _run(_ids(40) * 2, _alt(80), [*cl, "X", *cl[1:]], epochs=[1] * 40 + [2] * 40)
    c = _run(_ids(40), _alt(40, 1), cl)
    f = _one(diagnose(b, c, cluster="passage_id"), "W204")
    assert f.count == 1 and "baseline: 1 record carries" in f.message


@pytest.mark.parametrize(("G", "code"), [(3, "W205"), (8, "W206")])
def test_w205_w206_few_clusters(G: int, code: str) -> None:
    b, c = _clean_pair(40, G)
    assert _one(diagnose(b, c, cluster="passage_id"), code).count == G


def test_w206_names_no_method_the_gate_may_not_use() -> None:
    # W206's hint said "intervals use CR2 with Bell-McCaffrey df" in a report whose method
    # (auto on the HELM fixture's 8 clusters) was the wild cluster bootstrap
    helm = SHARED_FIXTURES / "helm-0.5.16"
    b = read_run(helm / "baseline", metric="exact_match", cluster="passage_id")
    c = read_run(helm / "candidate", metric="exact_match", cluster="passage_id")
    r = gate(b, c, Policy(min_delta=0.0, cluster="passage_id"))
    (w206,) = [f for f in r.findings if f.code == "W206"]
    assert r.comparison.method == "wild_cluster_bootstrap" and "CR2" not in w206.hint


@pytest.mark.parametrize(("G", "code"), [(3, "W205"), (8, "W206")])
def test_w205_w206_name_the_baseline_file_whose_labels_they_count(
        tmp_path: Path, G: int, code: str) -> None:
    # they read "only 3 clusters under key 'passage_id': ..." in a report about two files
    # (in a suite, about many): the pairing clusters by the baseline's labels
    ids, cl = _ids(40), [f"P{i % G}" for i in range(40)]
    b = write_runframe(tmp_path / "b.json", ids, _alt(40), cl)
    c = write_runframe(tmp_path / "c.json", ids, _alt(40, 1), cl)
    f = _one(diagnose(read_run(b, cluster="passage_id"), read_run(c, cluster="passage_id"),
                      cluster="passage_id"), code)
    assert f"{G} clusters under key 'passage_id' (the baseline's labels, in {b})" in f.message
    rc, out, _ = run_cli(["doctor", str(b), str(c), "--cluster", "passage_id"])
    assert rc == 0 and any(code in line and str(b) in line for line in out.splitlines())


def test_w206_on_runs_built_in_memory_reads_as_before() -> None:
    b, c = _clean_pair(40, 8)
    assert _one(diagnose(b, c, cluster="passage_id"), "W206").message == (
        "8 clusters under key 'passage_id'")


def test_a_run_summary_mean_averages_epochs_within_items_first() -> None:
    # the summary mean was over records: an item with 3 epochs weighed 3 times, and the
    # report read "mean (all items) 0.75" beside "mean over paired items 0.5000" although
    # every item was paired (STATS.md: s_i = mean_k s_ik first)
    run = EvalRun.from_arrays(["a", "a", "a", "b", "c", "c"], [1.0, 1.0, 1.0, 0.0, 0.0, 1.0],
                              epochs=[1, 2, 3, 1, 1, 2])
    assert summarize(run).mean == pytest.approx(0.5)  # (1 + 0 + 0.5) / 3
    base = EvalRun.from_arrays(["a", "b", "c"], [0.0, 0.0, 1.0])
    r = gate(base, run, Policy(min_delta=0.0, method="paired_t"))
    assert r.candidate.mean == pytest.approx(r.comparison.candidate_mean)
    nan = EvalRun.from_arrays(["a", "a", "b"], [1.0, float("nan"), 0.0], epochs=[1, 2, 1])
    assert summarize(nan).mean == pytest.approx(0.5)  # the finite epochs of each item


def test_i301_shows_a_tiny_delta_apart_from_zero() -> None:
    # "delta = +0.0000" for a delta of +2e-05 (the gate's reports show +2e-05)
    ids = [f"q{i}" for i in range(50)]
    b = EvalRun.from_arrays(ids, [0.5] * 50)
    c = EvalRun.from_arrays(ids, [0.5 + 1e-3] + [0.5] * 49)
    assert _one(diagnose(b, c), "I301").message == "50 paired items; delta = +2e-05"


def test_w207_config_fingerprints_differ() -> None:
    b, c = _clean_pair()
    b = b.with_meta(config={"task": "t", "harness_version": "0.3.200"})
    c = c.with_meta(config={"task": "t", "harness_version": "0.3.285"})
    f = _one(diagnose(b, c), "W207")
    assert "harness_version" in f.message and f.count == 1


def test_w207_a_config_key_only_one_run_records() -> None:
    # only keys present in both runs were compared: a temperature set in the candidate alone
    # went unflagged
    b, c = _clean_pair()
    b = b.with_meta(config={"task": "t"})
    c = c.with_meta(config={"task": "t", "temperature": "0.7"})
    f = _one(diagnose(b, c), "W207")
    assert f.message == ("config differs between runs: temperature (only the candidate "
                         "records it)") and f.count == 1
    assert "only the baseline" in _one(diagnose(c, b), "W207").message
    assert not [x for x in diagnose(b, b.with_meta(source="other")).findings
                if x.code == "W207"]


def test_w207_between_inspect_versions_of_the_same_runs() -> None:
    new = read_run(SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.eval", metric="match")
    old = read_run(SHARED_FIXTURES / "inspect-0.3.200-deflate" / "candidate_e1.eval",
                   metric="match")
    assert "harness_version" in _one(diagnose(new, old), "W207").message


def test_w208_constant_run() -> None:
    b, _ = _clean_pair()
    assert "every score is 1" in _one(diagnose(b, _run(_ids(40), [1.0] * 40)), "W208").message


def test_w209_few_paired_items() -> None:
    b, c = _clean_pair(12, 6)
    assert _one(diagnose(b, c), "W209").count == 12


def test_w210_proportion_metric_out_of_range() -> None:
    b, _ = _clean_pair()
    c = _run(_ids(40), [100.0 * v for v in _alt(40, 1)], metric="exact_match")
    f = _one(diagnose(b, c), "W210")
    assert f.count == 20 and "outside [0, 1]" in f.message


def test_e113_runs_on_different_scales_are_refused() -> None:
    # A fraction baseline against a percent candidate once gave ALLOW with delta +49.5.
    b, _ = _clean_pair()
    c = _run(_ids(40), [100.0 * v for v in _alt(40, 1)], metric="score")
    report = diagnose(b, c)
    assert "fraction vs percent" in _one(report, "E113").hint and not report.ok


def test_e112_metrics_differ_is_refused() -> None:
    b, c = _clean_pair()
    report = diagnose(b, c.with_meta(metric="f1"))
    assert "'accuracy'" in _one(report, "E112").message and not report.ok


def test_e114_tasks_differ_is_refused() -> None:
    b, c = _clean_pair()
    report = diagnose(b.with_meta(task="mmlu"), c.with_meta(task="gsm8k"))
    assert "'gsm8k'" in _one(report, "E114").message and not report.ok
    assert diagnose(b.with_meta(task="mmlu"), c).ok  # a run that names no task is not compared


def test_w213_effective_df_far_below_the_cluster_count() -> None:
    cl = ["big"] * 100 + [f"P{i}" for i in range(9)]
    ids = _ids(109)
    b, c = _run(ids, _alt(109), cl), _run(ids, _alt(109, 1), cl)
    report = diagnose(b, c, cluster="passage_id")
    w213 = _one(report, "W213")
    assert w213.count == 10 and "the largest holds 92% of the items" in w213.message  # 100/109
    assert "power at the MDE" in w213.hint
    assert "effective df" in _one(report, "I302").message


def test_w214_identical_scores_and_e116_same_file() -> None:
    b, _ = _clean_pair()
    copy = _run(_ids(40), _alt(40))
    assert _one(diagnose(b, copy), "W214").count == 40
    same = b.with_meta(sha256="ab" * 32, source="runs/base.json")
    report = diagnose(same, same)
    assert "E116" in _codes(report) and "W214" not in _codes(report)
    assert not report.ok and "the same path" in _one(report, "E116").message
    cp = same.with_meta(source="runs/cand.json")
    assert "runs/cand.json is a byte-identical copy of runs/base.json" in _one(
        diagnose(same, cp), "E116").message


def test_i301_summary() -> None:
    b, c = _clean_pair()
    f = _one(diagnose(b, c, cluster="passage_id"), "I301")
    assert f.count == 40 and "20 clusters" in f.message and f.severity is Severity.INFO


def test_findings_sort_errors_first_and_serialise_as_strict_json() -> None:
    b = _run(_ids(40), [np.nan, *_alt(39)], status="error")
    report = diagnose(b, _run(_ids(38), _alt(38)))
    sev = [f.severity for f in report.findings]
    assert sev == sorted(sev, key=[Severity.ERROR, Severity.WARNING, Severity.INFO].index)
    def no_constants(token: str) -> None:
        raise AssertionError(f"non-strict JSON token {token}")

    json.loads(report.model_dump_json(), parse_constant=no_constants)


def test_w217_unfinished_run() -> None:
    b, c = _clean_pair()
    f = _one(diagnose(b, c.with_meta(status="started")), "W217")
    assert "40 records" in f.message and f.severity is Severity.WARNING


def test_an_item_id_with_a_newline_or_bidi_control_is_shown_escaped() -> None:
    # "e.g. candidate only: a\n## injected" started a Markdown heading in the PR comment, and
    # U+202E reversed the rest of the line on a terminal
    ids = [f"q{i}" for i in range(40)]
    odd = [*ids[:38], "a\n## injected", "b\u202eevil"]
    scores = np.r_[np.ones(20), np.zeros(20)]
    report = diagnose(EvalRun.from_arrays(ids, scores), EvalRun.from_arrays(odd, scores))
    w201 = next(f for f in report.findings if f.code == "W201")
    assert "candidate only: a\\n## injected" in w201.examples
    assert "candidate only: b\\u202eevil" in w201.examples
    assert all(e.isprintable() for f in report.findings for e in [f.message, *f.examples])
