"""Bugs found by the bug bash of evalsig_core and the `evalsig` CLI (one test per bug)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from evalsig_core.cli import main
from tests.conftest import SHARED_FIXTURES, write_runframe

_IDS = [f"q{i}" for i in range(40)]
_CLUSTERS = [f"P{i % 8}" for i in range(40)]
_B = [float(i % 3 == 0) for i in range(40)]
_C = [float(i % 2 == 0) for i in range(40)]


def _gate(b: Path, c: Path, *extra: str, metric: str = "accuracy") -> list[str]:
    # (a metric is a keyword: `--metric` given twice is a usage error)
    return ["gate", "--baseline", str(b), "--candidate", str(c), "--metric", metric,
            "--cluster", "passage_id", "--min-delta", "0.01", *extra]


@pytest.mark.parametrize("scale", [1e300, 1e200])
def test_scores_too_large_for_float64_statistics_are_refused(
        scale: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Scores of 1e300 (same scale in both runs) squared to inf inside the statistics: the gate
    # reported "significant": true with p = 0.0001 for a delta of -1.25e+299, SE null, and
    # numpy printed a dozen RuntimeWarnings on stderr. 1e308 against -1e308 gave E113 "the
    # candidate's range is about 1x the baseline's ... divide the candidate's scores by 1".
    b = write_runframe(tmp_path / "b.json", _IDS, [scale * s for s in _B], _CLUSTERS,
                       metric="reward")
    c = write_runframe(tmp_path / "c.json", _IDS, [scale * s + 1.0 for s in _C], _CLUSTERS,
                       metric="reward")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail the test
        code = main(_gate(b, c, "--output", "json", metric="reward"), {})
    out, err = capsys.readouterr()
    assert code == 65 and json.loads(out)["kind"] == "doctor"  # the refusal, not a verdict
    assert "E115" in err and "c.json" in err and "rescale" in err
    assert "E113" not in err and "RuntimeWarning" not in err


def test_opposite_extreme_scores_name_the_real_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = write_runframe(tmp_path / "b.json", _IDS, [1e308 if s else -1e308 for s in _B],
                       _CLUSTERS, metric="reward")
    c = write_runframe(tmp_path / "c.json", _IDS, [1e308 if s else -1e308 for s in _C],
                       _CLUSTERS, metric="reward")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(_gate(b, c, metric="reward"), {}) == 65
    err = capsys.readouterr().err
    assert "E115" in err and "E113" not in err and "scores by 1)" not in err


@pytest.mark.parametrize("output", ["tty", "markdown", "html"])
def test_a_huge_margin_prints_in_g_notation_not_as_hundreds_of_digits(
        output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--min-delta 1e308` printed "min_delta 1000000000000000010979063629440455417404923096
    # 7731184633681068290315758540491149153716332897849468889906124966972117251561159028374
    # ..." (309 digits) in the reason, the table and the interval line's axis labels.
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    args = _gate(b, c, "--output", output)
    args[args.index("--min-delta") + 1] = "1e308"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the HTML density axis overflowed ("Linf" paths)
        assert main(args, {}) == 1  # REJECT: significant or not, delta never reaches 1e308
    out = capsys.readouterr().out
    assert "1e+308" in out and "100000000000" not in out and "inf," not in out.lower()


def test_watch_prints_a_huge_margin_in_g_notation(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    assert main(["watch", "--baseline", str(b), "--candidate", str(c), "--metric", "accuracy",
                 "--min-delta", "1e300", "--mode", "non-inferiority"], {}) == 0
    out = capsys.readouterr().out
    assert "-1e+300" in out and "100000000000" not in out


def test_an_unreachable_alpha_does_not_suggest_a_300_digit_resample_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    assert main(_gate(b, c, "--alpha", "1e-300"), {}) == 64
    err = capsys.readouterr().err
    assert "paired_t or clustered_t" in err and len(err) < 400


@pytest.mark.parametrize(("flags", "cluster"), [
    (["--sd", "0.5"], []),
    (["--sd", "0.5"], ["--cluster", "passage_id"]),
    (["--icc", "0.5", "--cluster-size", "3"], ["--cluster", "passage_id"]),
    (["--cv", "0.4", "--cluster-size", "3"], ["--cluster", "passage_id"]),
])
def test_power_never_drops_a_flag_the_pilot_would_overwrite(
        flags: list[str], cluster: list[str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `power --baseline B --candidate C --sd 0.5 --n 10` printed "sd of d 0.5883": the pilot's
    # estimate silently replaced the --sd given (and with --cluster, --icc/--cluster-size/--cv).
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    args = ["power", "--baseline", str(b), "--candidate", str(c), "--metric", "accuracy",
            "--n", "100", *cluster, *flags]
    assert main(args, {}) == 64
    err = capsys.readouterr().err
    assert flags[0] in err and "pilot" in err


def test_power_with_a_pilot_without_clusters_keeps_the_design_flags(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # without --cluster the pilot estimates only sd: --icc and --cluster-size are the user's
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    assert main(["power", "--baseline", str(b), "--candidate", str(c), "--metric", "accuracy",
                 "--n", "100", "--icc", "0.5", "--cluster-size", "3", "--output", "json"],
                {}) == 0
    assert json.loads(capsys.readouterr().out)["design_effect"] == pytest.approx(2.0)


def test_stdin_dash_is_a_usage_error_not_a_missing_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--candidate -` said "-: file not found" (66), as if a file named "-" were missing
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    assert main(["gate", "--baseline", str(b), "--candidate", "-", "--metric", "accuracy",
                 "--min-delta", "0.01"], {}) == 64
    err = capsys.readouterr().err
    assert "standard input" in err and "file not found" not in err


def test_a_symlink_loop_is_named_as_such(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    assert main(["doctor", str(b), str(loop), "--metric", "accuracy"], {}) == 66
    out, err = capsys.readouterr()
    assert "link loop" in out + err


_LMEVAL = SHARED_FIXTURES / "lm-eval-0.4.13"


@pytest.mark.skipif(not _LMEVAL.is_dir(), reason="shared harness logs not present")
def test_lmeval_metric_comma_filter_means_metric_and_filter(
        capsys: pytest.CaptureFixture[str]) -> None:
    # lm-eval's own name of the metric, `exact_match,strict-match`, was "not found; it has
    # ['exact_match'] (fix: choose one of those with --metric)", a hint that drops the filter.
    b = next((_LMEVAL / "baseline").glob("samples_passage_gen_*.jsonl"))
    c = next((_LMEVAL / "candidate").glob("samples_passage_gen_*.jsonl"))
    outs = []
    for flags in (["--metric", "exact_match,strict-match"],
                  ["--metric", "exact_match", "--filter", "strict-match"],
                  ["--metric", "exact_match,strict-match", "--filter", "strict-match"]):
        assert main(["compare", str(b), str(c), *flags, "--cluster", "passage_id",
                     "--output", "json"], {}) == 0
        outs.append(json.loads(capsys.readouterr().out)["comparison"])
    # shared/fixtures/harness-logs/README.md: strict-match n 40, delta -0.025
    assert outs[0]["n_pairs"] == 40 and outs[0]["delta"] == pytest.approx(-0.025, abs=1e-12)
    assert outs[0] == outs[1] == outs[2]
    assert main(["compare", str(b), str(c), "--metric", "exact_match,strict-match",
                 "--filter", "flexible-extract"], {}) == 64
    assert "names the filter 'strict-match'" in capsys.readouterr().err


def test_the_tty_allow_bound_does_not_blame_few_clusters_with_many(
        examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 120 clusters, df 119: the line read "(one-sided 97.5%: few clusters or low df)", but
    # auto uses alpha/2 for every clustered design (README "Methods")
    assert main(["gate", "--baseline", str(examples / "baseline.json"), "--candidate",
                 str(examples / "candidate.json"), "--metric", "accuracy", "--cluster",
                 "passage_id", "--min-delta", "0.005"], {}) == 0
    line = next(x for x in capsys.readouterr().out.splitlines()
                if x.lstrip().startswith("decision bound"))
    assert "few clusters" not in line and "at one-sided 97.5% (ALLOW needs L > 0" in line


@pytest.mark.parametrize("column", ["accuracy", "item_id", "passage_id", "epoch"])
def test_a_csv_column_named_twice_is_refused_not_guessed(
        column: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "item_id,accuracy,accuracy,passage_id" read the second accuracy column silently
    cols = ["item_id", "accuracy", "passage_id", "epoch"]
    header = [*cols, column]
    rows = [",".join(header)]
    for i in range(40):
        cells = {"item_id": f"q{i}", "accuracy": str(_B[i]), "passage_id": _CLUSTERS[i],
                 "epoch": "1"}
        dup = {"item_id": f"x{i}", "accuracy": "0", "passage_id": "Z", "epoch": "2"}[column]
        rows.append(",".join([*(cells[c] for c in cols), dup]))
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    ok = tmp_path / "b.csv"
    ok.write_text("\n".join([",".join(cols)] + [f"q{i},{_B[i]},{_CLUSTERS[i]},1"
                                                 for i in range(40)]) + "\n")
    assert main(["compare", str(ok), str(tmp_path / "c.csv"), "--metric", "accuracy",
                 "--cluster", "passage_id"], {}) == 65
    err = capsys.readouterr().err
    assert f"column {column!r} appears 2 times" in err and "c.csv" in err


def test_a_missing_csv_id_column_names_the_cli_fix(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # the hint was "name the column with id_col", a keyword the CLI did not have; then
    # "item_id (Python: read_run(..., id_col=))"; now the CLI has --id-col
    (tmp_path / "b.csv").write_text("id,accuracy\n" + "".join(f"q{i},1\n" for i in range(5)))
    assert main(["doctor", str(tmp_path / "b.csv"), str(tmp_path / "b.csv"), "--metric",
                 "accuracy"], {}) == 65
    out, err = capsys.readouterr()
    assert "name the column with --id-col (id_col=)" in out + err


def test_an_integer_score_beyond_float64_is_bad_data_not_an_internal_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a JSON score 10**400 raised OverflowError: "internal error" (70)
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, [10**400, *_C[1:]], _CLUSTERS)
    assert main(_gate(b, c), {}) == 65
    err = capsys.readouterr().err
    assert "q0" in err and "401 digits" in err and "internal error" not in err


_HELM = SHARED_FIXTURES / "helm-0.5.16"


@pytest.mark.skipif(not _HELM.is_dir(), reason="shared harness logs not present")
@pytest.mark.parametrize(("field", "value", "message"), [
    ("sum", 10**400, "sum beyond float64"),  # was "internal error: OverflowError" (70)
    ("count", -1, "has count -1"),  # a negative count flipped the item's score sign
], ids=["huge-sum", "negative-count"])
def test_a_helm_stat_that_is_not_a_score_is_bad_data(
        field: str, value: int, message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    stats = json.loads((_HELM / "candidate" / "per_instance_stats.json").read_text())
    for st in stats[0]["stats"]:
        if st["name"]["name"] == "exact_match":
            st[field] = value
    run = tmp_path / "candidate"
    run.mkdir()
    (run / "per_instance_stats.json").write_text(json.dumps(stats))
    assert main(["compare", str(_HELM / "baseline"), str(run), "--metric", "exact_match"],
                {}) == 65
    err = capsys.readouterr().err
    assert message in err and "id0" in err and "internal error" not in err


def test_a_config_key_spelled_both_ways_is_a_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # min_delta = 0.01 and min-delta = 0.02 in one file: 0.02 won without a word
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    (tmp_path / "evalsig.toml").write_text("min_delta = 0.01\nmin-delta = 0.02\n")
    monkeypatch.chdir(tmp_path)
    assert main(["gate", "--baseline", str(b), "--candidate", str(c), "--metric",
                 "accuracy"], {}) == 64
    err = capsys.readouterr().err
    assert "evalsig.toml" in err and "set twice" in err


@pytest.mark.parametrize("target", ["b.json", "c.json"])
def test_a_suite_report_never_overwrites_an_entry_run(
        target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `evalsig suite s.toml --json c.json` replaced the entry's candidate run with the report
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    before = (tmp_path / target).read_bytes()
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "s"\n[[entry]]\nname = "a"\nmetric = "accuracy"\n'
                     'baseline = "b.json"\ncandidate = "c.json"\nmin_delta = 0.01\n')
    assert b.exists() and c.exists()
    assert main(["suite", str(suite), "--json", str(tmp_path / target)], {}) == 64
    assert "entry 'a'" in capsys.readouterr().err
    assert (tmp_path / target).read_bytes() == before


def test_a_suite_with_report_paths_reads_its_file_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # the report-path check parsed the suite file, then the suite command parsed it again
    write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "s"\n[[entry]]\nname = "a"\nmetric = "accuracy"\n'
                     'baseline = "b.json"\ncandidate = "c.json"\nmin_delta = 0.01\n')
    reads: list[Path] = []
    read_text = Path.read_text

    def counted(self: Path, *a: Any, **kw: Any) -> str:
        reads.append(self)
        return read_text(self, *a, **kw)

    monkeypatch.setattr(Path, "read_text", counted)
    code = main(["--no-config", "suite", str(suite), "--json", str(tmp_path / "r.json")], {})
    assert code in (0, 1, 2) and (tmp_path / "r.json").exists()
    assert [p for p in reads if p.name == "s.toml"] == [suite]


def test_a_report_never_overwrites_the_config_file_that_was_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `gate ... --json evalsig.toml` replaced the project's defaults with the report
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    config = tmp_path / "evalsig.toml"
    config.write_text('metric = "accuracy"\nmin-delta = 0.01\n')
    monkeypatch.chdir(tmp_path)
    assert main(["gate", "--baseline", str(b), "--candidate", str(c), "--json",
                 "evalsig.toml"], {}) == 64
    assert "config file" in capsys.readouterr().err
    assert config.read_text() == 'metric = "accuracy"\nmin-delta = 0.01\n'


def test_doctor_refuses_a_single_paired_item_as_gate_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # doctor said "OK (0 errors)" and exit 0; gate then exited 65 "mcnemar needs at least 2
    # paired items" without naming a file
    b = write_runframe(tmp_path / "b.json", _IDS, _B)
    c = write_runframe(tmp_path / "c.json", _IDS[:1], _C[:1])
    assert main(["doctor", str(b), str(c), "--metric", "accuracy"], {}) == 65
    assert "E105" in capsys.readouterr().out
    assert main(["gate", "--baseline", str(b), "--candidate", str(c), "--metric", "accuracy",
                 "--min-delta", "0.01"], {}) == 65
    err = capsys.readouterr().err
    assert "only 1 item (q0)" in err and "c.json" in err


def test_an_item_whose_score_and_scores_disagree_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # {"score": 1.0, "scores": {"accuracy": 0.0}} in a run of accuracy: scores[accuracy] was
    # taken silently (candidate mean 0.425 where `score` says 0.575)
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    doc: dict[str, Any] = {"schema": "evalsig.run/1", "run_id": "c", "model": "m", "task": "t",
           "metric": "accuracy",
           "items": [{"item_id": i, "score": s, "scores": {"accuracy": 1.0 - s if k == 3 else s,
                                                           "f1": 0.5}}
                     for k, (i, s) in enumerate(zip(_IDS, _C, strict=True))]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    assert main(["compare", str(b), str(tmp_path / "c.json"), "--metric", "accuracy"],
                {}) == 65
    err = capsys.readouterr().err
    assert "q3" in err and "disagree" in err
    # `score` is the run's metric (accuracy): another metric of `scores` is no conflict (a
    # second file: the same file twice is E116)
    (tmp_path / "c2.json").write_text(json.dumps(doc | {"run_id": "c2"}))
    assert main(["compare", str(tmp_path / "c.json"), str(tmp_path / "c2.json"), "--metric",
                 "f1"], {}) == 0
    for it in doc["items"]:  # agreeing values stay readable
        it["scores"]["accuracy"] = it["score"]
    (tmp_path / "c.json").write_text(json.dumps(doc))
    assert main(["compare", str(b), str(tmp_path / "c.json"), "--metric", "accuracy"],
                {}) == 0


def test_a_resamples_typo_is_refused_before_any_draw(capsys: pytest.CaptureFixture[str]) -> None:
    # --resamples 100000000 (a typo of 10000000) ran the wild bootstrap to 11.5 GB; now 64
    base = SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.json"
    cand = SHARED_FIXTURES / "inspect-0.3.285" / "candidate_e1.json"
    code = main(["compare", str(base), str(cand), "--metric", "match", "--cluster",
                 "passage_id", "--method", "wild_cluster_bootstrap", "--resamples", "100000000"])
    assert code == 64
    err = capsys.readouterr().err.strip()
    assert "resamples must be at most 10,000,000" in err and len(err.splitlines()) == 1


def test_a_cluster_key_missing_everywhere_is_e107_alone(capsys: pytest.CaptureFixture[str]) -> None:
    # --cluster nope on the real Inspect runs: E107 for both runs is the problem; the one
    # pseudo-cluster of the missing label also gave "E108 only 1 cluster" and "in 1 clusters"
    f = SHARED_FIXTURES / "inspect-0.3.285"
    code = main(["doctor", str(f / "baseline_e1.json"), str(f / "candidate_e1.json"),
                 "--metric", "match", "--cluster", "nope", "--output", "json"])
    assert code == 65
    doc = json.loads(capsys.readouterr().out)
    codes = [x["code"] for x in doc["findings"]]
    assert codes.count("E107") == 2 and "E108" not in codes and "I302" not in codes
    (i301,) = [x for x in doc["findings"] if x["code"] == "I301"]
    assert "cluster" not in i301["message"]


def test_a_bad_config_value_names_the_config_file_not_a_flag(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # metric = "" in evalsig.toml said "argument --metric: expected a name", a flag nobody typed
    (tmp_path / "evalsig.toml").write_text('metric = ""\n')
    monkeypatch.chdir(tmp_path)
    f = SHARED_FIXTURES / "inspect-0.3.285"
    code = main(["compare", str(f / "baseline_e1.json"), str(f / "candidate_e1.json")])
    assert code == 64
    err = capsys.readouterr().err.strip()
    assert "evalsig.toml" in err and "metric = ''" in err and "argument --metric" not in err
    assert len(err.splitlines()) == 1


def _renamed(tmp_path: Path, how: Any, name: str) -> Path:
    """The real Inspect candidate as evalsig-json with every item id passed through `how`."""
    from evalsig_core import read_run

    run = read_run(SHARED_FIXTURES / "inspect-0.3.285" / "candidate_e1.json", metric="match")
    doc = {"format": "evalsig-json", "metric": "match", "items": [
        {"id": how(str(i)), "score": float(s)}
        for i, s in zip(run.item_ids.tolist(), run.scores.tolist(), strict=True)]}
    out = tmp_path / name
    out.write_text(json.dumps(doc))
    return out


@pytest.mark.parametrize(("how", "shown"), [
    (str.upper, "'P01-Q1'"),  # case
    (lambda s: s + " ", "'p01-q1 '"),  # a trailing space
])
def test_ids_that_differ_only_in_case_or_spaces_are_named(
        tmp_path: Path, how: Any, shown: str, capsys: pytest.CaptureFixture[str]) -> None:
    # the real ids p01-q1 ... p08-q5 against the same ids upper-cased / space-padded: "share no
    # item id" gave no clue that all 40 are the same items
    base = SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.json"
    cand = _renamed(tmp_path, how, "cand.json")
    code = main(["doctor", str(base), str(cand), "--metric", "match", "--output", "json"])
    assert code == 65
    (e105,) = [f for f in json.loads(capsys.readouterr().out)["findings"]
               if f["code"] == "E105"]
    assert "40 of the baseline's ids match a candidate id" in e105["message"]
    assert shown in e105["message"] and "'p01-q1'" in e105["message"]


def test_a_decomposed_accent_is_shown_escaped_in_the_w201_hint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # half the ids gain an accent, NFC in the baseline and NFD in the candidate: they look
    # identical on screen, so the example is shown with ascii() escapes
    from evalsig_core import read_run

    real = read_run(SHARED_FIXTURES / "inspect-0.3.285" / "baseline_e1.json", metric="match")
    ids = real.item_ids.tolist()

    def accent(s: str, form: str) -> str:
        import unicodedata
        return unicodedata.normalize("NFC" if form == "NFC" else "NFD", s + "-é") if ids.index(
            s) % 2 else s

    for name, form in (("b.json", "NFC"), ("c.json", "NFD")):
        doc = {"format": "evalsig-json", "metric": "match", "items": [
            {"id": accent(i, form), "score": float(v)}
            for i, v in zip(ids, real.scores.tolist(), strict=True)]}
        (tmp_path / name).write_text(json.dumps(doc))
    code = main(["doctor", str(tmp_path / "b.json"), str(tmp_path / "c.json"), "--output",
                 "json"])
    assert code == 0  # 20 ids pair; the other 20 are dropped with a warning
    (w201,) = [f for f in json.loads(capsys.readouterr().out)["findings"]
               if f["code"] == "W201"]
    assert "20 baseline-only and 20 candidate-only" in w201["message"]
    assert "20 of the baseline's ids match a candidate id" in w201["message"]
    assert "'p01-q2-\\xe9'" in w201["message"] and "'p01-q2-e\\u0301'" in w201["message"]


def _outputs(argv: list[str], tmp_path: Path,
             capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Every format of one command's report, the HTML without its style sheet (whose CSS
    classes and `margin:` properties are not report text)."""
    import re

    paths = {f: tmp_path / f"report.{f}" for f in ("json", "markdown", "html")}
    flags = [w for f, p in paths.items() for w in (f"--{f}", str(p))]
    code = main([*argv, *flags], {})
    assert code in (0, 1, 2)
    out = {"tty": capsys.readouterr().out}
    out.update({f: p.read_text(encoding="utf-8") for f, p in paths.items()})
    out["html"] = re.sub(r"<style>.*?</style>", "", out["html"], flags=re.S)
    return out


@pytest.mark.parametrize("extra", [
    ["--cluster", "passage_id"],  # auto: WCR, ALLOW at alpha/2, the skewness note on U
    ["--method", "paired_t", "--alpha", "0.6"],  # W219: no MDE at this level
])
def test_compare_names_no_margin_and_no_verdict(
        extra: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # compare has no policy: its tty legend drew a margin glyph, its method_reason said
    # "ALLOW needs the one-sided bound at alpha/2", its notes named ALLOW's and REJECT's
    # bounds and W219 "the bound ALLOW compares"
    from tests.conftest import EXAMPLES

    b, c = str(EXAMPLES / "baseline.json"), str(EXAMPLES / "candidate.json")
    for fmt, text in _outputs(["compare", b, c, *extra], tmp_path, capsys).items():
        for word in ("ALLOW", "REJECT", "margin", "by the policy"):
            assert word not in text, f"{fmt}: {word!r} in {text}"


def test_the_gate_still_names_its_margin_and_allow_bound(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import EXAMPLES

    b, c = str(EXAMPLES / "baseline.json"), str(EXAMPLES / "candidate.json")
    out = _outputs(["gate", "--baseline", b, "--candidate", c, "--cluster", "passage_id",
                    "--min-delta", "0.005"], tmp_path, capsys)
    assert "margin" in out["tty"] and "ALLOW needs the one-sided bound" in out["tty"]
    doc = json.loads(out["json"])
    assert "ALLOW needs" in doc["comparison"]["method_reason"]
    assert any("ALLOW uses" in n for n in doc["comparison"]["notes"])


def _help(command: str) -> str:
    """A sub-command's --help text, on one line."""
    from evalsig_core.cli import build_parser
    from evalsig_core.cli._parser import _subparsers

    return " ".join(_subparsers(build_parser())[command].format_help().split())


def test_suite_help_names_the_files_correction_as_the_default(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--correction` said "(default holm)", but a suite file with `correction = "bh"` ran bh
    write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "s"\ncorrection = "bh"\n[[entry]]\nname = "a"\n'
                     'metric = "accuracy"\nbaseline = "b.json"\ncandidate = "c.json"\n'
                     'min_delta = 0.01\n')
    main(["--no-config", "suite", str(suite), "--output", "json"], {})
    assert json.loads(capsys.readouterr().out)["correction"] == "bh"
    assert "(default: the suite file's [suite] correction, else holm)" in _help("suite")


def test_history_help_gives_the_default_limit() -> None:
    # --limit defaults to 20 decisions; the help said only "at most N decisions (0: all)"
    assert "(default 20; 0: all)" in _help("history")


def test_compare_alpha_help_names_the_two_sided_interval_it_reports() -> None:
    # it said "one-sided error rate", but compare's interval is the two-sided (1 - alpha) one
    text = _help("compare")
    alpha = text.split("--alpha ALPHA")[-1].split("--method", 1)[0]
    assert "one-sided error rate" not in alpha
    assert "two-sided (1 - alpha)" in alpha and "alpha/2 per side" in alpha


@pytest.mark.parametrize("flag", ["--baseline", "--metric"])
def test_an_argument_that_is_not_utf8_is_a_usage_error(
        flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A file name or value with a non-UTF-8 byte reaches Python as a lone surrogate
    # (b"\xff" -> "\udcff"): the run read fine, then `--output json` ended in "internal error:
    # PydanticSerializationError" (exit 70) after the verdict had been decided.
    b = write_runframe(tmp_path / "b.json", _IDS, _B, _CLUSTERS)
    c = write_runframe(tmp_path / "c.json", _IDS, _C, _CLUSTERS)
    odd = tmp_path / "b\udcff.json"
    odd.write_bytes(b.read_bytes())
    argv = _gate(b, c, "--output", "json")
    argv[argv.index(flag) + 1] = str(odd) if flag == "--baseline" else "acc\udcff"
    code = main(argv, {})
    out, err = capsys.readouterr()
    assert code == 64 and out == "" and "internal error" not in err
    assert "\\udcff" in err and "not valid UTF-8" in err and err.count("\n") == 1
