"""The fast calibration tier of STATS.md (R = 1000, B = 399) and the controls that must fail.

Deterministic: every replication and every bootstrap draw is seeded. The full grid is
`make calibrate` (tests/stats/calibration.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from evalsig_core.sequential import confidence_sequence

from . import calibration as cal

R, B = 1000, 399


@pytest.mark.parametrize("cell", cal.FAST_CELLS, ids=lambda c: c.label)
def test_auto_meets_every_bar_in_the_fast_cells(cell: cal.Cell) -> None:
    res = cal.run_cell(cell, R=R, B=B)
    assert cal.failures(res, R) == [], res


def test_control_iid_se_on_clustered_data_fails_coverage() -> None:
    # The paired t that ignores clusters (evalsig 0.1 with no --cluster) under-covers badly.
    cell = cal.Cell(0.4, 0.3, "sym", 20, True, 1)
    d, _, _ = cal.simulate(cell, 0.0, R, seed=5)
    b = cal._iid(d, "paired_t", cal.ALPHA)
    coverage = float(np.mean((b.lo2 <= 0) & (b.hi2 >= 0)))
    assert coverage < cal.bands(R)["coverage"][0] - 0.1


def _fixed_ci_misses(x: np.ndarray, looks: int) -> float:
    """Share of streams whose fixed 95% t interval excludes the truth (0) at some look."""
    T = x.shape[1]
    at = np.linspace(T // looks, T, looks).astype(int)
    csum, csq = np.cumsum(x, axis=1), np.cumsum(x * x, axis=1)
    n = at.astype(float)
    mean = csum[:, at - 1] / n
    sd = np.sqrt((csq[:, at - 1] - n * mean**2) / (n - 1))
    half = sps.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    return float(np.mean(np.any(np.abs(mean) > half, axis=1)))


def test_control_fixed_ci_rechecked_at_40_looks_misses_about_30_percent() -> None:
    rng = np.random.default_rng(7)
    d = rng.choice([-1.0, 0.0, 1.0], p=[0.2, 0.6, 0.2], size=(R, 4000))
    miss = _fixed_ci_misses(d, 40)
    assert 0.22 < miss < 0.40  # STATS.md: 0.29-0.32


def test_confidence_sequence_stays_valid_over_every_look() -> None:
    rng = np.random.default_rng(7)
    d = rng.choice([-1.0, 0.0, 1.0], p=[0.2, 0.6, 0.2], size=(R, 4000))
    lo, up = confidence_sequence((d + 1) / 2, 0.05)
    miss = float(np.mean(np.any((lo > 0.5) | (up < 0.5), axis=1)))
    assert miss <= 0.05 + 0.028


def test_bands_are_the_stats_md_bars_at_r_2000() -> None:
    b = cal.bands(2000)
    assert b["coverage"] == (0.93, 0.97) and b["false_allow"][1] == 0.07
    assert b["power"] == (0.75, 0.85)
    assert math.isclose(cal.bands(1000)["coverage"][0], 0.95 - 0.0276, abs_tol=1e-3)


def test_only_runs_the_named_cells_and_never_replaces_the_committed_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    committed = Path(cal.__file__).with_name("calibration.md")
    before = committed.read_bytes()
    assert cal.main(["--only", "pi=0.4 icc=0.0 sym iid K=1", "--replications", "200"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| pi=")]
    assert rows == [r for r in rows if "pi=0.4 icc=0.0 sym iid K=1" in r] and len(rows) == 1
    assert committed.read_bytes() == before


def test_only_matching_no_cell_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        cal.main(["--only", "G=7"])
    assert exc.value.code == 2


def test_the_full_grid_enumerates_where_the_product_default_does() -> None:
    # auto's default 10,000 resamples enumerate all 6^5 = 7776 Webb vectors at G = 5 and
    # draw at random from G = 6 on (6^6 > 10,000); the fast tier keeps B everywhere.
    assert cal.draws(5, 399, product_plan=True) == 6**5
    assert cal.draws(6, 399, product_plan=True) == 399
    assert cal.draws(5, 399, product_plan=False) == 399


def test_blocks_of_replications_give_the_one_batch_bounds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # evaluate() splits the replications into cache-sized blocks that share one set of draws;
    # 7-row blocks (the last one ragged) must reproduce one 50-row batch exactly.
    cell = cal.Cell(0.1, 0.3, "skew", 10, False, 1)
    d, codes, n = cal.simulate(cell, 0.0, 50, seed=3)
    args = (d, codes, n, cell, "wild_cluster_bootstrap", 0.025, 399, True)
    monkeypatch.setattr(cal, "CACHE_CELLS", 1 << 30)
    whole = cal.evaluate(*args)
    monkeypatch.setattr(cal, "CACHE_CELLS", 399 * 7)
    blocks = cal.evaluate(*args)
    for f in ("lo2", "hi2", "decision", "mde"):
        assert np.array_equal(getattr(whole, f), getattr(blocks, f)), f


def test_parallel_cells_write_the_table_one_process_writes(tmp_path: Path) -> None:
    only = ["--only", "sym iid", "--replications", "200"]
    assert cal.main([*only, "--jobs", "1", "--output", str(tmp_path / "one.md")]) == 0
    assert cal.main([*only, "--jobs", "2", "--output", str(tmp_path / "two.md")]) == 0
    one = (tmp_path / "one.md").read_text()
    assert one == (tmp_path / "two.md").read_text() and one.count("| pi=") == 4


def test_refresh_recomputes_the_matching_rows_and_keeps_every_other_one(
        tmp_path: Path) -> None:
    out = tmp_path / "table.md"
    assert cal.main(["--only", "sym iid", "--replications", "200", "--output", str(out)]) == 0
    full = out.read_text()
    rows = [line for line in full.splitlines() if line.startswith("| pi=0.1")]
    assert len(rows) == 2
    # a stale row of the matching cells is computed again; the others are kept as they stand
    out.write_text(full.replace(rows[0], rows[0].replace("| mcnemar |", "| paired_t |")))
    assert cal.main(["--refresh", "pi=0.1", "--output", str(out), "--jobs", "1"]) == 0
    assert out.read_text() == full
    # a kept row whose numbers no longer give its verdict: the table was not written by this
    # code, so only the full grid can renew it
    kept = next(line for line in full.splitlines() if line.startswith("| pi=0.4"))
    bad = full.replace(kept, kept.replace("| yes |", "| power 0.1 outside |"))
    out.write_text(bad)
    with pytest.raises(SystemExit) as exc:
        cal.main(["--refresh", "pi=0.1", "--output", str(out)])
    assert exc.value.code == 2 and out.read_text() == bad


def test_jobs_below_one_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        cal.main(["--only", "sym iid", "--jobs", "0"])
    assert exc.value.code == 2


def test_level_sweep_false_allow_falls_with_the_level_and_is_reported() -> None:
    cell = cal.SWEEP_CELLS[1]
    assert (cell.G, cell.per_cluster, cell.law) == (10, 20, "skew")
    res = cal.level_sweep(cell, R=200, B=399)  # draws the product's 10000 (a level < 1/400)
    assert list(res.false_allow) == sorted(res.false_allow, reverse=True)  # lower level: fewer
    # 399 draws cannot resolve 0.001 (nothing ALLOWed: 0.000); 10000 see the samples that
    # hold no regressed cluster (0.0585 at R = 2000)
    assert res.false_allow[-1] > 0.02
    # (1 - p)^G with p = s / (0.16 + s), s = ICC pi = 0.03: simulate()'s skewed law
    assert math.isclose(res.no_regression, (1 - 0.03 / 0.19) ** 10)
    big = cal.SweepResult(cal.SWEEP_CELLS[3], 0.18, (0.2, 0.2, 0.1, 0.09))
    text = "\n".join(cal.sweep_section([res, big], 2000))
    assert "| pi=0.1 icc=0.3 skew G=10 100/cluster K=1 | 0.18 | 0.2000 |" in text
    assert "none of them (down to 0.001) with 100 items per cluster" in text


def test_the_grid_cells_keep_their_labels_and_sizes() -> None:
    # per_cluster defaults to the grid's 20: labels (and so calibration.md rows) unchanged
    cell = cal.Cell(0.1, 0.3, "skew", 10, True, 1)
    assert cell.label == "pi=0.1 icc=0.3 skew G=10 K=1" and cal.sizes(cell).sum() == 200
    assert cal.sizes(cal.Cell(0.1, 0.3, "skew", 10, True, 1, 100)).sum() == 1000


def test_floor_tradeoff_study_shows_what_calibration_md_says() -> None:
    # tests/stats/floor_tradeoff.md: on Pareto sizes the wild bootstrap alone covers the
    # symmetric law where auto's floor over-covers, and fails the skewed law the floor holds
    from . import floor_tradeoff as ft

    R_small = 300
    sym = ft.run(cal.Cell(0.1, 0.1, "sym", 200, False, 1), R=R_small, B=B)
    skew = ft.run(cal.Cell(0.1, 0.1, "skew", 200, False, 1), R=R_small, B=B)
    # seeded; 0.92-0.975 is the coverage bar widened by about the Monte Carlo error at R = 300
    assert 0.92 <= sym["WCR"].coverage <= 0.975 < sym["auto"].coverage, sym
    assert skew["WCR"].false_allow > 0.15 and skew["auto"].false_allow <= 0.07, skew
    text = ft.table([(cal.Cell(0.1, 0.1, "sym", 200, False, 1), sym)], R_small, B)
    assert text.count("| pi=0.1 icc=0.1 sym G=200 pareto K=1 |") == 1
    assert "| auto | sym | 1 |" in text and "| WCR | sym | 1 |" in text


def test_power_curve_study_shows_the_dominant_cluster_plateau() -> None:
    # tests/stats/power_curve.md: where the largest cluster holds a third of the items, power
    # stays near 1 - P(that cluster regressed) until delta clears its step, then jumps; the
    # balanced twin's curve passes 0.8 near the MDE
    from . import power_curve as pc

    R_small = 300
    pareto = cal.Cell(0.4, 0.3, "skew", 200, False, 1)
    _, steps = pc.run(pareto, R=R_small, B=B)
    cap = 1 - pc.p_largest_regressed(pareto)  # 1 - 0.12 / 0.28 = 0.571
    assert max(steps[:3]) < min(cap + 0.1, 0.75) and steps[3] > 0.95, steps  # 1-1.5x, 2x
    _, smooth = pc.run(cal.Cell(0.4, 0.3, "skew", 200, True, 1), R=R_small, B=B)
    assert 0.7 <= smooth[0] <= 0.9 < smooth[2], smooth
    text = pc.table([(pareto, (0.38, steps))], R_small, B)
    assert "| pi=0.4 icc=0.3 skew G=200 pareto K=1 | Pareto, largest >= 30 % | 0.34 | 0.429 |" \
        in text, text
