"""`evalsig power`: flags and pilot runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalsig_core.cli import main
from evalsig_core.stats.power import power_analysis
from tests.conftest import SHARED_FIXTURES, write_runframe


def test_power_from_flags_equals_power_analysis(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["power", "--sd", "0.4", "--n", "900", "--delta", "0.02", "--icc", "0.05",
                 "--cluster-size", "10", "--output", "json"], {})
    doc = json.loads(capsys.readouterr().out)
    ref = power_analysis(0.4, n=900, delta=0.02, icc=0.05, cluster_size=10, clusters=90,
                         allow_alpha=0.025).to_dict()
    assert code == 0 and doc == ref


def test_a_clustered_design_is_planned_at_the_level_the_gate_decides(
        capsys: pytest.CaptureFixture[str]) -> None:
    # auto decides a clustered gate on its one-sided bound at alpha/2 (stats.auto), so the
    # plan must too, with t on G - 1 df for the G = n / m = 90 clusters (STATS.md). By hand:
    # DEFF = 1 + (10 - 1) * 0.05 = 1.45, SE = 0.4 * sqrt(1.45 / 900) = 0.0160555;
    # MDE = lambda * SE with lambda the noncentral-t effect nct.sf(t_0.975,89 = 1.986979, 89,
    # lambda) = 0.8: lambda = 2.832271 (scipy brentq; STATS.md's t + t: 1.986979 + 0.845679
    # = 2.832658), MDE = 0.0454734. At alpha with z (what power printed before) it was
    # (1.644854 + 0.841621) * SE = 0.0399215: 12% smaller than what the gate could detect.
    assert main(["power", "--sd", "0.4", "--n", "900", "--icc", "0.05", "--cluster-size", "10",
                 "--output", "json"], {}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["alpha"] == 0.05 and doc["allow_alpha"] == 0.025 and doc["df"] == 89
    assert doc["mde"] == pytest.approx(0.0454734, abs=1e-6)
    assert main(["power", "--sd", "0.4", "--n", "900", "--icc", "0.05", "--cluster-size", "10"],
                {}) == 0
    assert "ALLOW at alpha/2 = 0.025" in capsys.readouterr().out
    # without clusters auto decides at alpha (McNemar / paired t), on t with n - 1 = 899 df:
    # lambda * 0.4 / 30 with nct.sf(t_0.95,899 = 1.646550, 899, lambda) = 0.8: lambda =
    # 2.488348 (scipy brentq; t + t: 1.646550 + 0.842021 = 2.488571)
    assert main(["power", "--sd", "0.4", "--n", "900", "--output", "json"], {}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["allow_alpha"] == 0.05 and doc["df"] == 899
    assert doc["mde"] == pytest.approx(2.488348 * 0.4 / 30, abs=1e-6)


def test_an_unclustered_plan_detects_what_the_gate_reports_for_the_same_items(
        capsys: pytest.CaptureFixture[str]) -> None:
    # The gate's paired t on n items has n - 1 df; power used z, so a pilot of the HELM
    # fixture (40 items) promised an MDE of 0.2313 where compare reports 0.2359, and
    # `--sd 0.5 --n 10` promised 0.3931 where the exact noncentral t gives 0.4264 (8% off):
    # nct.sf(t_0.95,9 = 1.833113, 9, lambda) = 0.8 at lambda = 2.696909 (scipy brentq),
    # 2.696909 * 0.5 / sqrt(10) = 0.426419. The pilot's sd is an estimate on 39 df: its MDE
    # is divided by c4(39), as the gate divides its own.
    helm = SHARED_FIXTURES / "helm-0.5.16"
    runs = [str(helm / "baseline"), str(helm / "candidate"), "--metric", "exact_match"]
    assert main(["compare", *runs, "--method", "paired_t", "--output", "json"], {}) == 0
    gate_mde = json.loads(capsys.readouterr().out)["comparison"]["mde"]
    assert main(["power", "--baseline", runs[0], "--candidate", *runs[1:], "--output", "json"],
                {}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["df"] == 39 and doc["mde"] == pytest.approx(gate_mde, rel=1e-12)
    assert main(["power", "--sd", "0.5", "--n", "10", "--output", "json"], {}) == 0
    assert json.loads(capsys.readouterr().out)["mde"] == pytest.approx(0.426419, abs=1e-6)
    # one item: no interval, so no MDE (z gave 1.2432)
    assert main(["power", "--sd", "0.5", "--n", "1", "--output", "json"], {}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mde"] is None and "1 paired item" in doc["note"]


def test_power_from_a_pilot_run_uses_its_variance_and_clusters(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    n = 300
    ids = [f"q{i}" for i in range(n)]
    b = (rng.random(n) < 0.5).astype(float).tolist()
    c = (rng.random(n) < 0.55).astype(float).tolist()
    cl = [f"P{i // 10}" for i in range(n)]
    write_runframe(tmp_path / "b.json", ids, b, cl)
    write_runframe(tmp_path / "c.json", ids, c, cl)
    code = main(["power", "--baseline", str(tmp_path / "b.json"), "--candidate",
                 str(tmp_path / "c.json"), "--metric", "accuracy", "--cluster", "passage_id",
                 "--delta", "0.05", "--output", "json"], {})
    doc = json.loads(capsys.readouterr().out)
    d = np.array(c) - np.array(b)
    assert code == 0 and doc["n"] == n and doc["df"] == 29 and doc["allow_alpha"] == 0.025
    assert doc["clusters"] == 30 and doc["sd_df"] == 29  # the pilot's sd: an estimate on G - 1
    assert doc["sd"] == pytest.approx(float(np.std(d, ddof=1)))


def test_power_refuses_a_pilot_the_doctor_refuses(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A duplicated record was averaged into the pilot's SD (exit 0); an infinite score gave
    # a numpy warning and "sd must be a positive finite number" as a usage error (64).
    ids = [f"q{i}" for i in range(40)]
    write_runframe(tmp_path / "b.json", ids, [float(i % 2) for i in range(40)])
    write_runframe(tmp_path / "dup.json", [*ids, "q0"], [float(i % 3 == 0) for i in range(41)])
    write_runframe(tmp_path / "inf.json", ids, [float("inf")] + [1.0] * 39)
    for bad, code in (("dup.json", "E104"), ("inf.json", "E103")):
        assert main(["power", "--baseline", str(tmp_path / "b.json"), "--candidate",
                     str(tmp_path / bad), "--n", "100"], {}) == 65
        assert "Warning" not in (err := capsys.readouterr().err) and bad in err, code


def test_power_without_sd_or_pilot_is_a_usage_error() -> None:
    assert main(["power", "--n", "100"], {}) == 64


@pytest.mark.parametrize("n", ["0", "-5"])
def test_power_with_no_items_is_a_usage_error_not_an_internal_error(
        n: str, capsys: pytest.CaptureFixture[str]) -> None:
    # --n 0 was a ZeroDivisionError (exit 70); --n -5 a bare "math domain error".
    assert main(["power", "--sd", "0.5", "--n", n], {}) == 64
    assert "n must be at least 1" in capsys.readouterr().err


def test_power_icc_without_a_cluster_size_is_refused_not_ignored(
        capsys: pytest.CaptureFixture[str]) -> None:
    # With the default cluster size 1 the ICC changed nothing: design effect 1.000, silently.
    assert main(["power", "--sd", "0.5", "--n", "100", "--icc", "0.1"], {}) == 64
    assert "--cluster-size" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["paired_t", "clustered_t", "wild_cluster_bootstrap",
                                    "cluster_bootstrap", "paired_bootstrap", "permutation"])
def test_every_method_runs_through_gate_and_is_named_in_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str) -> None:
    rng = np.random.default_rng(4)
    n = 400
    ids = [f"q{i}" for i in range(n)]
    b = (rng.random(n) < 0.5).astype(float).tolist()
    c = (rng.random(n) < 0.7).astype(float).tolist()
    cl = [f"P{i % 20}" for i in range(n)]
    write_runframe(tmp_path / "b.json", ids, b, cl)
    write_runframe(tmp_path / "c.json", ids, c, cl)
    code = main(["gate", "--baseline", str(tmp_path / "b.json"), "--candidate",
                 str(tmp_path / "c.json"), "--metric", "accuracy", "--cluster", "passage_id",
                 "--min-delta", "0.01", "--method", method, "--resamples", "999",
                 "--output", "json"], {})
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["verdict"] == "ALLOW"
    assert doc["comparison"]["method"] == method and doc["comparison"]["method_reason"]


def test_a_zero_resampling_p_value_is_bounded_by_its_draws_not_shown_as_below_1e4(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 99 bootstrap draws, none below 0: the p-value is (0 + 1)/(99 + 1) = 0.01 (Phipson &
    # Smyth 2010). The report printed "< 0.0001", a precision 99 draws cannot have.
    n = 400
    ids = [f"q{i}" for i in range(n)]
    write_runframe(tmp_path / "b.json", ids, [float(i % 2) for i in range(n)])
    write_runframe(tmp_path / "c.json", ids, [1.0 if i % 4 else float(i % 2) for i in range(n)])
    assert main(["gate", "--baseline", str(tmp_path / "b.json"), "--candidate",
                 str(tmp_path / "c.json"), "--min-delta", "0.01", "--method",
                 "paired_bootstrap", "--resamples", "99", "--output", "markdown"], {}) == 0
    assert "| p-value | 0.0100 |" in capsys.readouterr().out


def test_few_clusters_are_planned_with_their_df_and_fewer_than_5_are_undecidable(
        capsys: pytest.CaptureFixture[str]) -> None:
    # 100 items in clusters of 20 are 5 clusters: t on 4 df. By hand: DEFF = 1 + 19 * 0.05
    # = 1.95, SE = 0.4 * sqrt(1.95 / 100) = 0.0558570; MDE = lambda * SE with
    # nct.sf(t_0.975,4 = 2.776445, 4, lambda) = 0.8: lambda = 3.761060 (scipy brentq),
    # MDE = 0.210081. STATS.md's t + t gave (2.776445 + 0.940965) * SE = 0.207643, z 0.156488.
    assert main(["power", "--sd", "0.4", "--n", "100", "--icc", "0.05", "--cluster-size", "20",
                 "--output", "json"], {}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["df"] == 4 and doc["mde"] == pytest.approx(0.210081, abs=1e-6)
    # 80 items are 4 clusters: auto answers INCONCLUSIVE whatever the effect
    assert main(["power", "--sd", "0.4", "--n", "80", "--icc", "0.05", "--cluster-size", "20",
                 "--output", "json"], {}) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mde"] is None and "INCONCLUSIVE below 5 clusters" in doc["note"]
    # a required N of 21 items in clusters of 10 is 2.1 clusters: said, not hidden
    assert main(["power", "--sd", "0.4", "--delta", "0.3", "--icc", "0.05", "--cluster-size",
                 "10"], {}) == 0
    assert "the gate needs at least 5 clusters, about 50 items" in capsys.readouterr().out
