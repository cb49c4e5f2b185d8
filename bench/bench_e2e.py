"""The whole gate on two 1M-item runs, stage by stage (`make bench BENCH=e2e`).

The statistics kernels (bench_stats) and the readers (bench_readers) have their own targets;
this one times everything the CLI does around them, with explicit timers around the library
calls `evalsig gate` makes (cli/_commands.py `cmd_gate` -> gate.py `gate`): read both runs,
pair, the doctor (on the gate's pairing), choose the method, the inference (auto, 10,000
resamples), the rest of the comparison (ICC, design effect, correlation), the report build, each
renderer; then the whole `evalsig gate ... --json r.json --output markdown` through
`evalsig_core.cli.main` in-process, and `evalsig doctor` / `evalsig compare` the same way. Each
stage is printed with its share of the sum of the stages. Peak memory: max RSS of a child
process that runs the CLI gate (`resource.getrusage(RUSAGE_CHILDREN)`).

Two cases, each two native JSONL files of 1M items in 50k clusters (`metadata.passage_id`, ~20
items each; string ids; the candidate lacks 0.1% of the items, as errored samples would):
binary scores (accuracy, 60% correct, 10% of items flipped by the candidate) and a float metric
(f1 in [0, 1], 4 decimals). Reference functions kept here (`_ref_*`, copied from the code
before the e2eperf changes) are timed side by side with the library's current ones and their
ratios printed. Set EVALSIG_BENCH_N to shrink the files (default 1,000,000 items).
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
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
from evalsig_core.doctor import diagnose, summarize
from evalsig_core.gate import _compare_pairing, gate
from evalsig_core.pairing import pair
from evalsig_core.policy import Policy
from evalsig_core.render import render_gate
from evalsig_core.stats import METHODS, PairedSample, choose_method

CLUSTER = "passage_id"


def _write_run(path: Path, ids: np.ndarray, clusters: np.ndarray, scores: list[str],
               metric: str, model: str) -> None:
    head = ('{"schema": "evalsig.run/1", "run_id": "%s", "model": "%s", "task": "bench", '
            '"metric": "%s", "harness": "bench", "status": "success"}\n' % (model, model, metric))
    with path.open("w", encoding="utf-8") as f:
        f.write(head)
        block = 50_000
        for s in range(0, len(ids), block):
            f.write("".join(
                '{"item_id": "%s", "epoch": 1, "score": %s, "metadata": {"passage_id": "%s"}}\n'
                % t for t in zip(ids[s:s + block].tolist(), scores[s:s + block],
                                 clusters[s:s + block].tolist(), strict=True)))


def make_runs(tmp: Path, n: int, kind: str, seed: int = 0) -> tuple[Path, Path]:
    """Two runs of `n` items in n/20 clusters; `kind` "binary" or "float"."""
    rng = np.random.default_rng(seed)
    G = max(2, n // 20)
    ids = np.array([f"task-{i:07d}" for i in range(n)])
    codes = np.sort(rng.integers(0, G, n))
    clusters = np.array([f"P{g}" for g in range(G)])[codes]
    effect = rng.normal(0, 0.1, G)[codes]
    if kind == "binary":
        b = (rng.random(n) < 0.6 + effect).astype(float)
        c = np.where(rng.random(n) < 0.1, 1 - b, b)
        fmt: Callable[[np.ndarray], list[str]] = lambda a: ["1.0" if v else "0.0" for v in a]
        metric = "accuracy"
    else:
        b = np.clip(rng.beta(4, 3, n) + effect, 0, 1).round(4)
        c = np.clip(b + rng.normal(0.005, 0.05, n), 0, 1).round(4)
        fmt = lambda a: [repr(v) for v in a.tolist()]
        metric = "f1"
    keep = rng.random(n) >= 0.001  # the candidate's errored samples: missing items
    pb, pc = tmp / f"{kind}_base.jsonl", tmp / f"{kind}_cand.jsonl"
    _write_run(pb, ids, clusters, fmt(b), metric, "base")
    _write_run(pc, ids[keep], clusters[keep], fmt(c[keep]), metric, "cand")
    return pb, pc


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _t(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def stages(pb: Path, pc: Path) -> dict[str, float]:
    """Seconds per stage of one gate, calling the library as `cmd_gate` does."""
    policy = Policy(min_delta=0.0, cluster=CLUSTER)
    s: dict[str, float] = {}
    s["read baseline"], b = _t(lambda: read_run(pb, cluster=CLUSTER))
    s["read candidate"], c = _t(lambda: read_run(pc, cluster=CLUSTER))
    s["pair"], p = _t(lambda: pair(b, c, cluster=True))
    s["doctor (gate's pairing)"], _ = _t(lambda: diagnose(b, c, cluster=CLUSTER, pairing=p))
    s["PairedSample + choose"], (sample, ch) = _t(lambda: _choose(p))
    s["inference " + ch.method], _ = _t(lambda: METHODS[ch.method](
        sample, alpha=0.05, theta0=0.0, resamples=policy.resamples, seed=0,
        alpha_allow=ch.alpha_allow))
    t_cmp, _ = _t(lambda: _compare_pairing(p, policy))
    s["rest of compare (icc, corr...)"] = t_cmp - s["PairedSample + choose"] - s[
        "inference " + ch.method]
    s["summarize x2"], _ = _t(lambda: (summarize(b), summarize(c)))
    t_gate, report = _t(lambda: gate(b, c, policy))
    # gate() pairs, runs the doctor, compares and summarizes again: the rest is the report
    s["report build (gate - the above)"] = t_gate - t_cmp - s["pair"] - s[
        "doctor (gate's pairing)"] - s["summarize x2"]
    for fmt in ("tty", "markdown", "json", "html"):
        s[f"render {fmt}"], _ = _t(lambda fmt=fmt: render_gate(report, fmt))
    return s


def _choose(p: Any) -> tuple[PairedSample, Any]:
    sample = PairedSample(p.baseline, p.candidate, p.cluster_codes)
    return sample, choose_method(sample, 0.05)


def _cli(argv: list[str]) -> tuple[float, int]:
    with _quiet():
        return _t(lambda: cli_main(argv, {}))


def _peak_rss_child(argv: list[str]) -> float:
    code = ("import sys, resource; from evalsig_core.cli import main; main(sys.argv[1:], {}); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         check=False)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def _case(tmp: Path, n: int, kind: str) -> None:
    pb, pc = make_runs(tmp, n, kind)
    print(f"-- {kind} scores: {n:,} items, {n // 20:,} clusters, files "
          f"{pb.stat().st_size / 1e6:.0f} MB each", flush=True)
    s = stages(pb, pc)
    total = sum(s.values())
    for name, sec in s.items():
        print(f"  {name:32s} {sec:7.3f} s  {sec / total:6.1%}", flush=True)
    print(f"  {'sum of stages':32s} {total:7.3f} s", flush=True)
    gate_argv = ["gate", "--baseline", str(pb), "--candidate", str(pc), "--cluster", CLUSTER,
                 "--min-delta", "0", "--json", str(tmp / "r.json"), "--output", "markdown"]
    t_gate, code = _cli(["--no-config", *gate_argv])
    t_doc, _ = _cli(["--no-config", "doctor", str(pb), str(pc), "--cluster", CLUSTER])
    t_cmp, _ = _cli(["--no-config", "compare", str(pb), str(pc), "--cluster", CLUSTER])
    print(f"  CLI gate --json --output markdown {t_gate:6.2f} s (exit {code}); "
          f"CLI doctor {t_doc:.2f} s; CLI compare {t_cmp:.2f} s", flush=True)
    rss = _peak_rss_child(["--no-config", *gate_argv])
    print(f"  CLI gate peak RSS (child process) {rss:.0f} MB", flush=True)
    pb.unlink()
    pc.unlink()


def main() -> None:
    n = int(os.environ.get("EVALSIG_BENCH_N", "1000000"))
    with tempfile.TemporaryDirectory(prefix="evalsig-bench-e2e-") as d:
        for kind in ("binary", "float"):
            _case(Path(d), n, kind)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"this process's max RSS {rss:.0f} MB (includes the stages above)")


if __name__ == "__main__":
    main()
