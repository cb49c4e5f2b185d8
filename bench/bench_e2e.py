"""The whole gate on two 1M-item runs, stage by stage (`make bench BENCH=e2e`).

The statistics kernels (bench_stats) and the readers (bench_readers) have their own targets;
this one times everything the CLI does around them, with explicit timers around the library
calls `evalsig gate` makes (cli/_commands.py `cmd_gate` -> gate.py `gate`): read both runs,
pair, the doctor (on the gate's pairing), choose the method, the inference (auto, 10,000
resamples), the rest of the comparison (ICC, design effect, correlation), the summaries, the
report model, each renderer; then `gate()` whole and `evalsig gate ... --json r.json --output
markdown`, `evalsig doctor` and `evalsig compare` through `evalsig_core.cli.main` in-process.
The in-process CLI runs are the best of CLI_REPEATS each, "before" and "after" alternated;
then gate and doctor once each in a fresh interpreter (imports included; "before" imports
scipy.stats up front, as the stats modules did before stats/_dist.py took the t, normal and
binomial functions from scipy.special), with the child's peak memory (max RSS). First, once:
`import evalsig_core.cli._commands` (the CLI with its commands, as `main` imports them for a
gate or a doctor) alone in a fresh interpreter, with and without `import scipy.stats` and with
scipy.special (what a gate imports now), best of IMPORT_REPEATS each, alternated.

Every stage after the reads is timed twice side by side: "before" is the library with the
item-id code it had before the shared index (tests/core/reference_index.py puts np.unique,
np.intersect1d and np.setdiff1d back where they were, as bench_stats keeps a Python-loop
reference), "after" the library as it is. Stages are the fastest of REPEATS runs, each on
fresh run objects (nothing cached from the previous one), "before" and "after" alternated; the
share is of the "after" sum.

Times are CPU seconds of the process (time.process_time; every stage is single-threaded):
the machines here are shared, and wall-clock time swung 2-3x with other jobs' load during
one run, where CPU time stays within about 20%.

Two cases, each two native JSONL files of 1M items in 50k clusters (`metadata.passage_id`, ~20
items each; ids "q<n>", whose text order is not the file's, so sorting them is real work; the
candidate lacks 0.1% of the items, as errored samples would): binary scores (accuracy, about
60% correct, 10% of items flipped by the candidate) and a float metric (f1 in [0, 1], 4
decimals). Set EVALSIG_BENCH_N to shrink the files (default 1,000,000 items).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from evalsig_core import read_run
from evalsig_core.cli import main as cli_main
from evalsig_core.doctor import diagnose
from evalsig_core.gate import _compare_pairing, gate
from evalsig_core.pairing import Pairing, pair
from evalsig_core.policy import Policy
from evalsig_core.render import render_gate
from evalsig_core.report import GateReport
from evalsig_core.run import EvalRun
from evalsig_core.stats import (
    METHODS,
    PairedSample,
    choose_method,
    design_effect,
    icc_anova,
)
from tests.core.reference_index import before_index

CLUSTER = "passage_id"
REPEATS = 3
CLI_REPEATS = 2
IMPORT_REPEATS = 5
POLICY = Policy(min_delta=0.0, cluster=CLUSTER)


def _write_run(path: Path, ids: list[str], clusters: list[str], scores: list[str],
               metric: str, model: str) -> None:
    head = (f'{{"schema": "evalsig.run/1", "run_id": "{model}", "model": "{model}", '
            f'"task": "bench", "metric": "{metric}", "harness": "bench", "status": "success"}}\n')
    with path.open("w", encoding="utf-8") as f:
        f.write(head)
        block = 50_000
        for s in range(0, len(ids), block):
            f.write("".join(
                f'{{"item_id": "{i}", "epoch": 1, "score": {v}, '
                f'"metadata": {{"passage_id": "{g}"}}}}\n'
                for i, g, v in zip(ids[s:s + block], clusters[s:s + block], scores[s:s + block],
                                   strict=True)))


def make_runs(tmp: Path, n: int, kind: str, seed: int = 0) -> tuple[Path, Path]:
    """Two runs of `n` items in n/20 clusters; `kind` "binary" or "float"."""
    rng = np.random.default_rng(seed)
    G = max(2, n // 20)
    ids = np.array([f"rc/q{i}" for i in range(n)])
    codes = np.sort(rng.integers(0, G, n))
    clusters = np.array([f"P{g}" for g in range(G)])[codes]
    effect = rng.normal(0, 0.1, G)[codes]
    if kind == "binary":
        b = (rng.random(n) < 0.6 + effect).astype(float)
        c = np.where(rng.random(n) < 0.1, 1 - b, b)
        metric = "accuracy"
    else:
        b = np.clip(rng.beta(4, 3, n) + effect, 0, 1).round(4)
        c = np.clip(b + rng.normal(0.005, 0.05, n), 0, 1).round(4)
        metric = "f1"
    keep = rng.random(n) >= 0.001  # the candidate's errored samples: missing items
    pb, pc = tmp / f"{kind}_base.jsonl", tmp / f"{kind}_cand.jsonl"
    _write_run(pb, ids.tolist(), clusters.tolist(), [repr(v) for v in b.tolist()], metric,
               "base")
    _write_run(pc, ids[keep].tolist(), clusters[keep].tolist(),
               [repr(v) for v in c[keep].tolist()], metric, "cand")
    return pb, pc


def _t(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process for one call, and its result (see the module docstring)."""
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def _choose(p: Pairing) -> tuple[PairedSample, Any]:
    sample = PairedSample(p.baseline, p.candidate, p.cluster_codes)
    return sample, choose_method(sample, POLICY.alpha)


def _rest_of_compare(p: Pairing, sample: PairedSample) -> object:
    """What `_compare_pairing` computes besides the inference (gate.py, in its order)."""
    assert sample.sums is not None and p.cluster_codes is not None
    icc = icc_anova(sample.d, p.cluster_codes)
    corr = float(np.corrcoef(p.baseline, p.candidate)[0, 1])
    return (design_effect(sample.sums.n, icc), corr, p.epoch_variance_share(),
            float(p.baseline.mean()), float(p.candidate.mean()))


def stages(b0: EvalRun, c0: EvalRun) -> dict[str, float]:
    """Seconds per stage of one gate on fresh copies of two runs already read."""
    b, c = b0.with_meta(), c0.with_meta()  # new run objects: no index cached for them
    s: dict[str, float] = {}
    s["pair"], p = _t(lambda: pair(b, c, cluster=True))
    s["doctor (on the gate's pairing)"], _ = _t(
        lambda: diagnose(b, c, cluster=CLUSTER, pairing=p))
    s["PairedSample + choose_method"], (sample, ch) = _t(lambda: _choose(p))
    s["inference"], _ = _t(lambda: METHODS[ch.method](
        sample, alpha=POLICY.alpha, theta0=0.0, resamples=POLICY.resamples, seed=0,
        alpha_allow=ch.alpha_allow))
    s["icc, deff, corr, epoch share"], _ = _t(lambda: _rest_of_compare(p, sample))
    # looked up at call time: the reference replaces doctor.summarize for "before"
    summarize = importlib.import_module("evalsig_core.doctor").summarize
    s["summarize x2"], _ = _t(lambda: (summarize(b), summarize(c)))
    b, c = b0.with_meta(), c0.with_meta()
    t_gate, report = _t(lambda: gate(b, c, POLICY))
    s["report model (GateReport)"], _ = _t(
        lambda: GateReport(**{k: getattr(report, k) for k in GateReport.model_fields}))
    for fmt in ("tty", "markdown", "json", "html"):
        s[f"render {fmt}"], _ = _t(lambda fmt=fmt: render_gate(report, fmt))
    s["= compare whole (not in the sum)"], _ = _t(lambda: _compare_pairing(p, POLICY))
    s["= gate() whole (not in the sum)"] = t_gate
    return s


def _best(b: EvalRun, c: EvalRun) -> tuple[dict[str, float], dict[str, float]]:
    """Fastest of REPEATS per stage, "before" and "after" alternated (a load that drifts
    over the minutes of a run hits both alike)."""
    before, after = [], []
    for _ in range(REPEATS):
        with before_index():
            before.append(stages(b, c))
        after.append(stages(b, c))
    return ({k: min(r[k] for r in before) for k in before[0]},
            {k: min(r[k] for r in after) for k in after[0]})


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _cli(argv: list[str]) -> float:
    with _quiet():
        return _t(lambda: cli_main(["--no-config", *argv], {}))[0]


def _child(argv: list[str], before: bool) -> tuple[float, float]:
    """(CPU seconds, max RSS in MB) of the CLI in a fresh interpreter, imports included.
    `before`: with the reference item-id code, and scipy.stats imported up front as the
    stats modules did before it was imported where it is used."""
    code = ("import sys, time, resource, contextlib\n"
            "t = time.process_time()\n"
            + ("import scipy.stats\n" if before else "")
            + "from evalsig_core.cli import main\n"
            "from tests.core.reference_index import before_index\n"
            f"with (before_index() if {before} else contextlib.nullcontext()):\n"
            "    main(sys.argv[1:], {})\n"
            "print(time.process_time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, "--no-config", *argv],
                         capture_output=True, text=True, check=False,
                         cwd=Path(__file__).resolve().parent.parent)
    wall, rss = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(rss) / 1024


def _import_cpu(pre: str) -> float:
    """CPU seconds of a fresh interpreter importing `pre` (if any) and the CLI's commands
    (`import evalsig_core.cli` alone imports none of them: bench_startup)."""
    code = ("import time\n"
            "t = time.process_time()\n"
            + (f"import {pre}\n" if pre else "")
            + "import evalsig_core.cli._commands\n"
            "print(time.process_time() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    return float(out.stdout.strip().splitlines()[-1])


def _startup() -> None:
    """The CLI's imports with scipy.stats (what a gate paid before stats/_dist.py), with
    scipy.special (what a gate pays now: _dist imports it on first use) and alone (doctor)."""
    best = {"scipy.stats": float("inf"), "scipy.special": float("inf"), "": float("inf")}
    for _ in range(IMPORT_REPEATS):  # alternated: a load that drifts hits all alike
        for pre in best:
            best[pre] = min(best[pre], _import_cpu(pre))
    s, sp, alone = best["scipy.stats"], best["scipy.special"], best[""]
    print(f"-- start-up, fresh process, CPU s, best of {IMPORT_REPEATS}: import "
          "evalsig_core.cli._commands"
          f" + scipy.stats {s:.3f} (gate before), + scipy.special {sp:.3f} (gate now), "
          f"alone {alone:.3f}; before/now {s / sp:.1f}x", flush=True)


def _table(reads: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    total = sum(reads.values()) + sum(v for k, v in after.items() if not k.startswith("="))
    total_b = sum(reads.values()) + sum(v for k, v in before.items() if not k.startswith("="))
    print(f"  {'stage':34s} {'before':>8s} {'after':>8s} {'ratio':>7s} {'share':>7s}")
    for name, sec in reads.items():
        print(f"  {name:34s} {sec:8.3f} {sec:8.3f} {'':7s} {sec / total:7.1%}")
    for name, sec in after.items():
        share = "" if name.startswith("=") else f"{sec / total:7.1%}"
        ratio = before[name] / sec if sec > 0 else float("nan")
        print(f"  {name:34s} {before[name]:8.3f} {sec:8.3f} {ratio:6.1f}x {share:>7s}")
    print(f"  {'sum of stages':34s} {total_b:8.3f} {total:8.3f} {total_b / total:6.1f}x",
          flush=True)


def _case(tmp: Path, n: int, kind: str) -> None:
    pb, pc = make_runs(tmp, n, kind)
    print(f"-- {kind} scores: {n:,} items, {n // 20:,} clusters, files "
          f"{pb.stat().st_size / 1e6:.0f} MB each; CPU seconds, best of {REPEATS}", flush=True)
    reads: dict[str, float] = {}
    reads["read baseline (same code both)"], b = _t(lambda: read_run(pb, cluster=CLUSTER))
    reads["read candidate"], c = _t(lambda: read_run(pc, cluster=CLUSTER))
    before, after = _best(b, c)
    _table(reads, before, after)
    gate_argv = ["gate", "--baseline", str(pb), "--candidate", str(pc), "--cluster", CLUSTER,
                 "--min-delta", "0", "--json", str(tmp / "r.json"), "--output", "markdown"]
    for name, argv in (("gate --json --output markdown", gate_argv),
                       ("doctor", ["doctor", str(pb), str(pc), "--cluster", CLUSTER]),
                       ("compare", ["compare", str(pb), str(pc), "--cluster", CLUSTER])):
        t_before = t_after = float("inf")
        for _ in range(CLI_REPEATS):  # alternated: a load that drifts hits both alike
            with before_index():
                t_before = min(t_before, _cli(argv))
            t_after = min(t_after, _cli(argv))
        print(f"  CLI {name:30s} {t_before:8.2f} {t_after:8.2f} {t_before / t_after:6.1f}x",
              flush=True)
    for name, argv in (("gate", gate_argv),
                       ("doctor", ["doctor", str(pb), str(pc), "--cluster", CLUSTER])):
        (wb, rb), (wa, ra) = _child(argv, True), _child(argv, False)
        print(f"  CLI {name} new process (CPU s)  {wb:8.2f} {wa:8.2f} {wb / wa:6.1f}x   "
              f"peak RSS {rb:.0f} -> {ra:.0f} MB", flush=True)
    pb.unlink()
    pc.unlink()


def main() -> None:
    n = int(os.environ.get("EVALSIG_BENCH_N", "1000000"))
    _startup()
    with tempfile.TemporaryDirectory(prefix="evalsig-bench-e2e-") as d:
        for kind in ("binary", "float"):
            _case(Path(d), n, kind)


if __name__ == "__main__":
    main()
