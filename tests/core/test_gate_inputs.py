"""Inputs at the edges of the public API that used to reach a wrong verdict or a traceback.

Each test is a regression found by an adversarial pass over `gate`, `compare`, `watch` and
`EvalRun.from_arrays`: the input, what must happen, never a confident wrong ALLOW.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from evalsig_core import (
    DoctorError,
    EvalRun,
    InputError,
    Policy,
    UsageError,
    Verdict,
    compare,
    diagnose,
    gate,
    read_run,
    watch,
)


def _clustered_shift(n: int = 200, shifts: tuple[float, ...] = (0.3, 0.3, 0.3, -0.2),
                     seed: int = 1) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Item ids, cluster labels (len(shifts) clusters) and scores whose difference is a
    per-cluster shift: as independent items it looks certain, by cluster it is 4 draws."""
    rng = np.random.default_rng(seed)
    ids = [f"i{i}" for i in range(n)]
    labels = [f"c{i % len(shifts)}" for i in range(n)]
    b = rng.integers(0, 2, n).astype(float)
    shift = np.array([shifts[i % len(shifts)] for i in range(n)])
    c = np.clip(b + shift + rng.normal(0, 0.1, n), 0, 1)
    return ids, labels, b, c


def test_a_cluster_key_carried_by_the_candidate_only_is_never_dropped() -> None:
    # Only the candidate was built with clusters: pairing took labels from the baseline (none)
    # and gated 200 independent items: ALLOW (paired_t) where 4 clusters can decide nothing.
    ids, labels, b, c = _clustered_shift()
    base = EvalRun.from_arrays(ids, b)
    cand = EvalRun.from_arrays(ids, c, clusters=labels)
    with pytest.raises(DoctorError) as exc:
        gate(base, cand, Policy(min_delta=0.01))
    assert exc.value.code == "E107" and "baseline" in str(exc.value)
    with pytest.raises(InputError) as exc2:
        compare(base, cand, Policy(min_delta=0.01))
    assert exc2.value.code == "E107"
    with pytest.raises(DoctorError):
        watch(base, cand, Policy(min_delta=0.01))


def test_a_policy_cluster_key_with_unlabelled_runs_is_an_error_not_independent_items() -> None:
    # Policy(cluster="passage_id") on runs read or built without labels used to gate the
    # items as independent (ALLOW) while the report claimed cluster 'passage_id'.
    ids, _, b, c = _clustered_shift()
    base, cand = EvalRun.from_arrays(ids, b), EvalRun.from_arrays(ids, c)
    policy = Policy(min_delta=0.01, cluster="passage_id")
    with pytest.raises(DoctorError) as exc:
        gate(base, cand, policy)
    assert exc.value.code == "E107" and "'passage_id'" in str(exc.value)
    with pytest.raises(InputError):
        compare(base, cand, policy)
    # without a cluster key anywhere the items are independent, as before
    assert gate(base, cand, Policy(min_delta=0.01)).comparison.n_clusters is None


def test_a_baseline_with_labels_and_a_candidate_without_is_an_error() -> None:
    ids, labels, b, c = _clustered_shift()
    with pytest.raises(DoctorError) as exc:
        gate(EvalRun.from_arrays(ids, b, clusters=labels), EvalRun.from_arrays(ids, c),
             Policy(min_delta=0.01))
    assert exc.value.code == "E107" and "candidate" in str(exc.value)
    # both labelled: 4 clusters decide nothing
    r = gate(EvalRun.from_arrays(ids, b, clusters=labels),
             EvalRun.from_arrays(ids, c, clusters=labels), Policy(min_delta=0.01))
    assert r.verdict is Verdict.INCONCLUSIVE and r.comparison.n_clusters == 4


@pytest.mark.parametrize("missing", [None, "", float("nan"), np.float64("nan")])
def test_missing_cluster_labels_from_arrays_are_missing_never_one_pseudo_cluster(
        missing: object) -> None:
    # pandas gives NaN for a missing label: it became the label "nan", one pseudo-cluster of
    # the unlabelled items (an evalsig 0.1 failure, STATS.md), and the gate went on.
    ids, labels, b, c = _clustered_shift(60, shifts=(0.0,) * 10)
    labels[3] = labels[7] = missing  # type: ignore[call-overload]
    run = EvalRun.from_arrays(ids, b, clusters=labels)
    assert run.cluster_present is not None and not run.cluster_present[3]
    with pytest.raises(DoctorError) as exc:
        gate(run, EvalRun.from_arrays(ids, c, clusters=labels), Policy(min_delta=0.01))
    assert exc.value.code == "E107" and "missing on 2 of 60" in str(exc.value)


def test_a_float_cluster_column_with_nan_is_read_as_missing_labels() -> None:
    labels = np.array([1.0, 2.0, np.nan, 1.0])
    run = EvalRun.from_arrays(["a", "b", "c", "d"], [1, 0, 1, 0], clusters=labels)
    assert run.cluster_present is not None
    assert run.cluster_present.tolist() == [True, True, False, True]


@pytest.mark.parametrize("ids", [["a", None], ["a", ""], ["a", float("nan")],
                                 np.array([1.0, np.nan])])
def test_a_missing_item_id_is_an_input_error_not_the_id_none(ids: object) -> None:
    # from_arrays turned None into the item id "None" and NaN into "nan" (readers refuse
    # both with E109).
    with pytest.raises(InputError) as exc:
        EvalRun.from_arrays(ids, [1.0, 0.0])  # type: ignore[arg-type]
    assert exc.value.code == "E109" and "record #2" in str(exc.value)


@pytest.mark.parametrize("epochs", [[1.5, 1], [float("nan"), 1], ["x", "y"]])
def test_epochs_that_are_not_integers_are_an_input_error_never_truncated(
        epochs: list[object]) -> None:
    # 1.5 was silently truncated to 1 and NaN raised numpy's ValueError (a traceback).
    with pytest.raises(InputError) as exc:
        EvalRun.from_arrays(["a", "b"], [1.0, 0.0], epochs=epochs)  # type: ignore[arg-type]
    assert exc.value.code == "E109"
    whole = EvalRun.from_arrays(["a", "b"], [1.0, 0.0], epochs=np.array([0, 1.0]))
    assert whole.epochs.tolist() == [0, 1]


@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.01), (0.05, 0.05), (0.5, 0.3)])
def test_power_at_or_below_alpha_is_a_usage_error(alpha: float, power: float) -> None:
    # MDE = (t_{1-alpha} + t_power) SE <= 0 then: the report said "detectable -0.0862 at 1%
    # power" and an underpowered run was REJECTed as one that "could detect" the margin.
    with pytest.raises(UsageError, match="must exceed alpha"):
        Policy(min_delta=0.05, alpha=alpha, power=power)


def test_watch_with_a_zero_non_inferiority_margin_reads_plus_zero() -> None:
    # "ALLOW: always-valid L = +0.0035 > -0.0000" (the gate already printed +0.0000)
    ids = [f"i{i}" for i in range(400)]
    base = EvalRun.from_arrays(ids, np.zeros(400))
    cand = EvalRun.from_arrays(ids, np.r_[np.ones(200), np.zeros(200)])
    res = watch(base, cand, Policy(min_delta=0.0, mode="non-inferiority"))
    assert res.verdict is Verdict.ALLOW and "> +0.0000" in res.reason


def test_a_constant_offset_on_a_percent_scale_is_not_decided_by_the_observed_span() -> None:
    # Every item +2 points on a 0-100 scale, scores within [40, 60]: the SE = 0 bounds used
    # the observed span (22) as the scale's width, "differences lie within +-22", and ALLOWed;
    # the same runs as fractions (0.40-0.60, +0.02) are INCONCLUSIVE. Units must not decide.
    rng = np.random.default_rng(3)
    ids = [f"i{i}" for i in range(100)]
    pct = rng.integers(40, 59, 100).astype(float)
    policy = Policy(min_delta=0.01)
    percent = gate(EvalRun.from_arrays(ids, pct), EvalRun.from_arrays(ids, pct + 2), policy)
    assert percent.verdict is Verdict.INCONCLUSIVE
    assert percent.comparison.ci.lower is None and percent.comparison.upper_bound is None
    assert "not within [0, 1]" in percent.comparison.notes[-1]
    fraction = gate(EvalRun.from_arrays(ids, pct / 100), EvalRun.from_arrays(ids, pct / 100
                                                                              + 0.02), policy)
    assert fraction.verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize("method", ["paired_bootstrap", "permutation", "cluster_bootstrap",
                                    "wild_cluster_bootstrap", "auto"])
def test_an_alpha_beyond_the_resampling_resolution_is_a_usage_error(method: str) -> None:
    # alpha 1e-6 with 999 resamples: every resampling bound sat on the most extreme draw and
    # ALLOWed, while paired_t at the same alpha said INCONCLUSIVE (L = -0.008).
    rng = np.random.default_rng(2)
    n = 400
    ids = [f"i{i}" for i in range(n)]
    labels = [f"g{i % 40}" for i in range(n)]
    b = rng.random(n)
    c = np.clip(b + 0.05 + rng.normal(0, 0.2, n), 0, 1)
    cl = None if method in ("paired_bootstrap", "permutation") else labels
    base, cand = EvalRun.from_arrays(ids, b, clusters=cl), EvalRun.from_arrays(ids, c, clusters=cl)
    with pytest.raises(UsageError, match="use --resamples 1999999 or more"):
        gate(base, cand, Policy(min_delta=0.0, alpha=1e-6, method=method, resamples=999))
    # at a level the draws resolve, the method decides as before
    ok = gate(base, cand, Policy(min_delta=0.0, alpha=0.05, method=method, resamples=999))
    assert ok.verdict is Verdict.ALLOW


def test_an_exact_enumeration_resolves_its_own_levels() -> None:
    # 6 items: 64 sign vectors, fewer than the resamples asked: no resolution error
    ids = [f"i{i}" for i in range(6)]
    r = gate(EvalRun.from_arrays(ids, np.zeros(6)),
             EvalRun.from_arrays(ids, [0.1, 0.2, 0.3, 0.1, 0.2, 0.25]),
             Policy(min_delta=0.0, alpha=0.01, method="permutation", resamples=999))
    assert r.comparison.resamples == 64


def test_a_delta_equal_to_the_margin_up_to_rounding_meets_it() -> None:
    # 300 items x 3 epochs, 45 records flipped 0 -> 1: delta is exactly 15/300 = 0.05, but the
    # mean of the item means is 0.049999999999999996 and superiority at min_delta 0.05 said
    # "REJECT: significant but delta +0.0500 < min_delta 0.0500".
    rng = np.random.default_rng(0)
    n = 300
    ids = np.repeat([f"i{i}" for i in range(n)], 3)
    epochs = np.tile([1, 2, 3], n)
    for _ in range(40):
        b = rng.integers(0, 2, 3 * n).astype(float)
        c = b.copy()
        c[rng.choice(np.flatnonzero(c == 0), 45, replace=False)] = 1
        base = EvalRun.from_arrays(ids, b, epochs=epochs)
        cand = EvalRun.from_arrays(ids, c, epochs=epochs)
        r = gate(base, cand, Policy(min_delta=0.05))
        if r.comparison.delta != 0.05:
            break
    assert r.comparison.delta == pytest.approx(0.05, abs=1e-15) and r.comparison.delta < 0.05
    assert r.verdict is Verdict.ALLOW, r.reason


def test_huge_epoch_numbers_are_not_false_duplicates() -> None:
    # item * (max epoch + 1) + epoch overflowed int64 with epochs such as 2**62 (a timestamp)
    # and the doctor reported 8 duplicate (item, epoch) pairs that did not exist (E104).
    ids = [f"i{i}" for i in range(20)] * 2
    run = EvalRun.from_arrays(ids, np.ones(40), epochs=[1] * 20 + [2**62] * 20)
    assert not [f for f in diagnose(run, run).findings if f.code == "E104"]
    dup = EvalRun.from_arrays(["a", "a", "b"], [1.0, 0.0, 1.0], epochs=[2**62, 2**62, 1])
    assert [f.count for f in diagnose(dup, dup).findings if f.code == "E104"] == [1, 1]


def test_runs_read_with_another_cluster_key_than_the_policys_are_a_usage_error(
        tmp_path: Path) -> None:
    # Runs read with cluster='passage_id' gated under Policy(cluster='subject') were clustered
    # by passage while the report said cluster 'subject'.
    rows = ["item_id,score,passage_id,subject"] + [
        f"i{i},{i % 2},P{i % 8},S{i % 3}" for i in range(80)]
    p = tmp_path / "run.csv"
    p.write_text("\n".join(rows) + "\n")
    by_passage = read_run(p, cluster="passage_id")
    with pytest.raises(UsageError, match="names 'subject' but the baseline and candidate"):
        gate(by_passage, by_passage, Policy(min_delta=0.0, cluster="subject"))
    with pytest.raises(UsageError, match="baseline was read with 'passage_id', the candidate"):
        gate(by_passage, read_run(p, cluster="subject"), Policy(min_delta=0.0))
    # the same key, or runs built in memory under any name, are fine (a second file: one
    # file gated against itself is E116)
    p2 = tmp_path / "run2.csv"
    p2.write_text("\n".join(rows[:1] + rows[:0:-1]) + "\n")
    assert gate(by_passage, read_run(p2, cluster="passage_id"),
                Policy(min_delta=0.0, cluster="passage_id")).cluster == "passage_id"
    mem = EvalRun.from_arrays(by_passage.item_ids, by_passage.scores,
                              clusters=by_passage.clusters)
    assert gate(mem, mem, Policy(min_delta=0.0, cluster="subject")).comparison.n_clusters == 8


@pytest.mark.parametrize("method", ["clustered_t", "wild_cluster_bootstrap",
                                    "cluster_bootstrap"])
def test_a_cluster_method_without_a_cluster_key_is_a_usage_error(method: str) -> None:
    # It was InputError (65, "bad input data") although the data are fine: the flags conflict.
    ids, _, b, c = _clustered_shift(60)
    with pytest.raises(UsageError, match=f"method {method} needs a cluster key"):
        gate(EvalRun.from_arrays(ids, b), EvalRun.from_arrays(ids, c),
             Policy(min_delta=0.0, method=method, resamples=999))


def test_mcnemar_with_a_cluster_key_is_a_usage_error() -> None:
    ids, labels, b, c = _clustered_shift(60, shifts=(0.0,) * 10)
    with pytest.raises(UsageError, match="mcnemar takes no cluster key"):
        gate(EvalRun.from_arrays(ids, np.round(b), clusters=labels),
             EvalRun.from_arrays(ids, np.round(c), clusters=labels),
             Policy(min_delta=0.0, method="mcnemar"))


def test_paired_t_on_clustered_runs_says_the_clusters_are_ignored() -> None:
    # The report named the cluster key and G = 10 but paired_t's SE ignored them, silently
    # (paired_bootstrap already said so).
    ids, labels, b, c = _clustered_shift(60, shifts=(0.0,) * 10)
    r = gate(EvalRun.from_arrays(ids, b, clusters=labels),
             EvalRun.from_arrays(ids, c, clusters=labels),
             Policy(min_delta=0.0, method="paired_t"))
    assert r.comparison.n_clusters == 10
    assert any("cluster key is ignored" in n for n in r.comparison.notes)


def test_an_exact_enumeration_larger_than_the_resamples_is_not_asked_for_more() -> None:
    # 12 items: all 4096 sign vectors whatever --resamples says; more resamples would not
    # change them, so a tiny alpha is not met with "use --resamples N".
    ids = [f"i{i}" for i in range(12)]
    r = gate(EvalRun.from_arrays(ids, np.zeros(12)),
             EvalRun.from_arrays(ids, np.linspace(0.1, 0.3, 12)),
             Policy(min_delta=0.0, alpha=1e-4, power=0.8, method="permutation",
                    resamples=999))
    assert r.comparison.resamples == 4096


def test_inconclusive_superiority_at_a_zero_margin_still_says_how_many_items_decide() -> None:
    # min_delta 0 (any improvement): every INCONCLUSIVE said "no finite number of extra items
    # decides this at the current effect size" (target = the margin, 0). At the current
    # effect -0.0127 and MDE 0.0421: ceil(200 * (0.0421 / 0.0127)^2) - 200, about 2000.
    rng = np.random.default_rng(1)
    n = 200
    ids = [f"i{i}" for i in range(n)]
    b = rng.random(n)
    c = np.clip(b + rng.normal(0.02, 0.3, n), 0, 1)
    r = gate(EvalRun.from_arrays(ids, b), EvalRun.from_arrays(ids, c), Policy(min_delta=0.0))
    x = r.comparison
    assert r.verdict is Verdict.INCONCLUSIVE
    expected = math.ceil(n * (x.mde / abs(x.delta)) ** 2) - n
    assert r.extra_items_needed == expected and 1500 < expected < 2500
    assert f"collect about {expected} more paired items" in r.suggestion


def test_the_number_one_is_the_same_cluster_label_as_an_integer_or_a_float(
        tmp_path: Path) -> None:
    # A baseline written with integer passage ids and a candidate with floats (pandas) gave
    # labels "1" vs "1.0": W204 "40 items have a different 'k' in the candidate" on every item.
    ids = [f"i{i}" for i in range(40)]
    scores = [float(i % 2) for i in range(40)]
    ints = EvalRun.from_arrays(ids, scores, clusters=[i % 8 for i in range(40)])
    floats = EvalRun.from_arrays(ids, scores, clusters=[float(i % 8) for i in range(40)])
    assert ints.clusters is not None and floats.clusters is not None
    assert floats.clusters.tolist() == ints.clusters.tolist()
    assert not [f for f in diagnose(ints, floats).findings if f.code == "W204"]
    p = tmp_path / "run.json"
    p.write_text('{"schema": "evalsig.run/1", "metric": "acc", "items": ['
                 '{"item_id": "a", "score": 1, "metadata": {"k": 1.0}},'
                 '{"item_id": "b", "score": 0, "metadata": {"k": 2.5}}]}')
    run = read_run(p, cluster="k")
    assert run.clusters is not None and run.clusters.tolist() == ["1", "2.5"]


def test_compare_refuses_what_the_doctor_refuses() -> None:
    # compare() ran no doctor: a NaN score gave delta NaN and p-value 1.0, silently.
    ids = [f"i{i}" for i in range(50)]
    b = np.random.default_rng(0).random(50)
    c = b.copy()
    c[3] = np.nan
    with pytest.raises(DoctorError) as exc:
        compare(EvalRun.from_arrays(ids, b), EvalRun.from_arrays(ids, c), Policy(min_delta=0))
    assert exc.value.code == "E103"
