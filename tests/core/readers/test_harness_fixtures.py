"""Real harness logs read to the ground truth of shared/fixtures/harness-logs/README.md.

Each row of the README's ground-truth table is one test: paired n, both means, the mean
difference, the number of items that differ, and the iid and CR1 standard errors (computed
here from the paired differences, independently of evalsig's stats module).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalsig_core import InputError, read_run
from evalsig_core.pairing import pair
from tests.conftest import SHARED_FIXTURES

F = SHARED_FIXTURES
I285, I200 = F / "inspect-0.3.285", F / "inspect-0.3.200-deflate"
LM, HELM = F / "lm-eval-0.4.13", F / "helm-0.5.16"


def lm(run: str, task: str) -> Path:
    (path,) = (LM / run).glob(f"samples_{task}_*.jsonl")
    return path


def _se_iid(d: np.ndarray) -> float:
    return float(d.std(ddof=1) / math.sqrt(len(d)))


def _se_cr1(d: np.ndarray, codes: np.ndarray) -> float:
    # CR1: V = G/(G-1) * sum_g (sum_{i in g} (d_i - mean))^2 / n^2
    n, G = len(d), int(codes.max()) + 1
    s = np.bincount(codes, weights=d - d.mean(), minlength=G)
    return math.sqrt(G / (G - 1) * float((s * s).sum()) / n**2)


ROWS = [
    # (id, baseline, candidate, read kwargs, n, mean_b, mean_c, diff, n_differ, se_iid, se_cr1)
    ("inspect-eval-zstd", I285 / "baseline_e1.eval", I285 / "candidate_e1.eval",
     {"metric": "match"}, 40, 0.625, 0.425, -0.200, 18, 0.102532, 0.129173),
    ("inspect-json", I285 / "baseline_e1.json", I285 / "candidate_e1.json",
     {"metric": "match"}, 40, 0.625, 0.425, -0.200, 18, 0.102532, 0.129173),
    ("inspect-eval-deflate", I200 / "baseline_e1.eval", I200 / "candidate_e1.eval",
     {"metric": "match"}, 40, 0.625, 0.425, -0.200, 18, 0.102532, 0.129173),
    ("inspect-errors-tolerated-eval", I285 / "baseline_e1.eval",
     I285 / "candidate_errors_tolerated_e1.eval", {"metric": "match"},
     37, 0.648649, 0.432432, -0.216216, 18, 0.110521, 0.141357),
    ("inspect-errors-tolerated-json", I285 / "baseline_e1.json",
     I285 / "candidate_errors_tolerated_e1.json", {"metric": "match"},
     37, 0.648649, 0.432432, -0.216216, 18, 0.110521, 0.141357),
    ("lm-eval-mc-acc", lm("baseline", "passage_mc"), lm("candidate", "passage_mc"),
     {"metric": "acc"}, 40, 0.500, 0.650, 0.150, 14, 0.091638, 0.089801),
    ("lm-eval-gen-strict", lm("baseline", "passage_gen"), lm("candidate", "passage_gen"),
     {"metric": "exact_match", "filter": "strict-match"},
     40, 0.425, 0.400, -0.025, 21, 0.115955, 0.109144),
    ("lm-eval-gen-flexible", lm("baseline", "passage_gen"), lm("candidate", "passage_gen"),
     {"metric": "exact_match", "filter": "flexible-extract"},
     40, 0.450, 0.475, 0.025, 19, 0.110288, 0.103259),
    ("helm-run-dir", HELM / "baseline", HELM / "candidate", {"metric": "exact_match"},
     40, 0.475, 0.725, 0.250, 16, 0.093026, 0.100889),
]


@pytest.mark.parametrize(("b", "c", "kw", "n", "mb", "mc", "diff", "ndiff", "se", "cr1"),
                         [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_fixture_pair_matches_the_ground_truth(b: Path, c: Path, kw: dict[str, Any], n: int,
                                               mb: float, mc: float, diff: float, ndiff: int,
                                               se: float, cr1: float) -> None:
    rb = read_run(b, cluster="passage_id", **kw)
    rc = read_run(c, cluster="passage_id", **kw)
    p = pair(rb, rc)
    assert p.n == n
    assert p.baseline.mean() == pytest.approx(mb, abs=5e-7)
    assert p.candidate.mean() == pytest.approx(mc, abs=5e-7)
    assert p.d.mean() == pytest.approx(diff, abs=5e-7)
    assert int(np.count_nonzero(p.d)) == ndiff
    assert _se_iid(p.d) == pytest.approx(se, abs=5e-7)
    assert p.cluster_codes is not None and p.n_clusters == 8
    assert _se_cr1(p.d, p.cluster_codes) == pytest.approx(cr1, abs=5e-7)


def test_helm_per_instance_stats_file_reads_like_its_run_directory() -> None:
    a = read_run(HELM / "baseline", metric="exact_match")
    b = read_run(HELM / "baseline" / "per_instance_stats.json", metric="exact_match")
    assert a.scores.tolist() == b.scores.tolist() and a.item_ids.tolist() == b.item_ids.tolist()
    assert a.epochs.tolist() == [1] * 40  # train_trial_index 0 is epoch 1


@pytest.mark.parametrize("ext", ["eval", "json"])
@pytest.mark.parametrize(("metric", "mean"), [
    ("graded", 0.5625), ("abs_error", -8.975), ("dict_scorer.exact", 0.425),
    ("dict_scorer.closeness", 0.572825)])
def test_inspect_value_types_read_to_their_means(ext: str, metric: str, mean: float) -> None:
    run = read_run(I285 / f"candidate_valuetypes_e1.{ext}", metric=metric)
    assert run.n_records == 40
    assert run.scores.mean() == pytest.approx(mean, abs=5e-7)


def test_inspect_letter_grades_map_c_p_i_n() -> None:
    run = read_run(I285 / "candidate_valuetypes_e1.eval", metric="graded")
    values, counts = np.unique(run.scores, return_counts=True)
    # C/P/I/N = 17/11/9/3 (README); I and N both map to 0
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {0.0: 12, 0.5: 11,
                                                                       1.0: 17}


def test_inspect_errored_samples_are_excluded_and_counted() -> None:
    run = read_run(I285 / "candidate_errors_tolerated_e1.eval", metric="match")
    assert run.n_records == 37 and run.meta.n_errored == 3
    assert sorted(run.meta.errored_items) == ["p02-q3", "p05-q1", "p07-q5"]


def test_inspect_failed_run_is_refused_unless_allowed() -> None:
    path = I285 / "candidate_errors_status-error_e1.eval"
    with pytest.raises(InputError, match="status is 'error'.*--allow-failed-run") as info:
        read_run(path, metric="match")
    assert info.value.code == "E106"
    run = read_run(path, metric="match", allow_failed_run=True)
    assert (run.n_records, run.meta.n_errored, run.meta.status) == (10, 3, "error")


def test_inspect_records_harness_version_and_config_fingerprint() -> None:
    new = read_run(I285 / "baseline_e1.eval", metric="match")
    old = read_run(I200 / "baseline_e1.eval", metric="match")
    assert new.meta.harness == "inspect_ai" and new.meta.harness_version == "0.3.285"
    assert old.meta.config["harness_version"] == "0.3.200"
    assert new.meta.config["task"] == "passage_qa"
    assert new.meta.config["dataset"] == "passage_qa_synthetic"


def test_lmeval_reads_harness_version_from_the_results_file_beside_it() -> None:
    run = read_run(lm("baseline", "passage_mc"), metric="acc")
    assert run.meta.harness == "lm-eval" and run.meta.harness_version == "0.4.13"
    assert run.meta.task == "passage_mc" and run.meta.config["filter"] == "none"
    assert run.item_ids[:2].tolist() == ["0", "1"]  # doc_id compared as a string


@pytest.mark.parametrize(("path", "kw", "message"), [
    (I285 / "candidate_valuetypes_e1.eval", {},
     r"several scores \['abs_error', 'dict_scorer.closeness', 'dict_scorer.exact', 'graded'\]"),
    (I285 / "baseline_e1.eval", {"metric": "accuracy"},
     r"scorer 'accuracy' not found.*\['match'\]"),
    (I285 / "candidate_valuetypes_e1.json", {"metric": "dict_scorer"},
     r"dict with keys \['closeness', 'exact'\].*--metric dict_scorer.<key>"),
    (I285 / "candidate_valuetypes_e1.eval", {"metric": "dict_scorer.f1"},
     r"'dict_scorer.f1' not found; the value is \['closeness', 'exact'\]"),
    (lm("baseline", "passage_gen"), {"metric": "exact_match"},
     r"several filters \['flexible-extract', 'strict-match'\]"),
    (lm("baseline", "passage_gen"), {"metric": "exact_match", "filter": "loose"},
     r"filter 'loose' not found; the file has \['flexible-extract', 'strict-match'\]"),
    (lm("baseline", "passage_mc"), {}, r"several metrics \['acc', 'acc_norm'\]"),
    (lm("baseline", "passage_mc"), {"metric": "f1"}, r"'f1' not found.*\['acc', 'acc_norm'\]"),
    (HELM / "baseline", {"metric": "f1"}, r"stat 'f1' not found.*'exact_match'"),
    (HELM / "baseline", {"metric": "exact_match", "filter": "valid"},
     r"split 'valid' not found.*\['test'\]"),
    (I285 / "baseline_e1.eval", {"metric": "match", "filter": "strict-match"},
     r"--filter 'strict-match' does not apply: inspect-eval files have no filters"),
])
def test_unknown_metric_scorer_or_filter_lists_what_exists(path: Path, kw: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        read_run(path, **kw)
    assert info.value.code == "E102"


def test_lmeval_results_file_points_to_the_samples_file() -> None:
    (results,) = (LM / "baseline").glob("results_*.json")
    with pytest.raises(InputError, match=r"results file.*samples_passage_gen_") as info:
        read_run(results, metric="acc")
    assert info.value.code == "E111"


@pytest.mark.parametrize("name", ["stats.json", "scenario_state.json", "run_spec.json"])
def test_helm_files_without_instance_scores_point_to_the_run_directory(name: str) -> None:
    with pytest.raises(InputError, match="per_instance_stats.json") as info:
        read_run(HELM / "baseline" / name, metric="exact_match")
    assert info.value.code == "E111"


def test_format_is_detected_from_content_not_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "results.csv"
    renamed.write_bytes((I285 / "baseline_e1.eval").read_bytes())
    assert read_run(renamed, metric="match").meta.format == "inspect-eval"
    renamed = tmp_path / "run.eval"
    renamed.write_bytes(lm("baseline", "passage_mc").read_bytes())
    assert read_run(renamed, metric="acc").meta.format == "lm-eval-samples"


def test_doctor_cli_on_lmeval_fixtures_with_a_filter(capsys: pytest.CaptureFixture[str]) -> None:
    from evalsig_core.cli import main

    rc = main(["doctor", str(lm("baseline", "passage_gen")), str(lm("candidate", "passage_gen")),
               "--metric", "exact_match", "--filter", "flexible-extract", "--cluster",
               "passage_id", "--output", "json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["ok"] is True
    assert {f["code"] for f in report["findings"]} == {"W206", "I301", "I302"}


def test_doctor_cli_reports_both_unreadable_files(capsys: pytest.CaptureFixture[str]) -> None:
    from evalsig_core.cli import main

    (results,) = (LM / "baseline").glob("results_*.json")
    rc = main(["doctor", str(results), str(I285 / "candidate_errors_status-error_e1.eval"),
               "--metric", "match", "--output", "json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 65 and sorted(f["code"] for f in report["findings"]) == ["E106", "E111"]
