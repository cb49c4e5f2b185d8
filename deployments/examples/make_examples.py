"""Regenerate the bundled example runs (evalsig 0.1 RunFrame files), deterministically.

    python deployments/examples/make_examples.py

baseline.json / candidate.json: 1,200 questions over 120 passages (`passage_id`), the
candidate fixes more items than it breaks (the demo and the seed workflow gate it ALLOW).
regressed.json: a candidate with a clear regression on the same items (REJECT).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
N_PASSAGES, PER_PASSAGE = 120, 10


def _runframe(run_id: str, model: str, scores: np.ndarray, passages: np.ndarray) -> dict:
    return {
        "run_id": run_id,
        "model_id": model,
        "task_id": "reading-comprehension",
        "metric_name": "accuracy",
        "config_hash": "rc-v3-5shot",
        "items": [
            {
                "item_id": f"q{i:05d}",
                "score": float(s),
                "cluster_id": f"P{p:03d}",
                "epoch": 0,
                "metadata": {"passage_id": f"P{p:03d}"},
            }
            for i, (s, p) in enumerate(zip(scores, passages, strict=True))
        ],
    }


def main() -> None:
    rng = np.random.default_rng(20261129)
    passages = np.repeat(np.arange(N_PASSAGES), PER_PASSAGE)
    difficulty = rng.normal(0.9, 0.8, N_PASSAGES)[passages]
    p_base = 1 / (1 + np.exp(-difficulty))
    base = (rng.random(len(passages)) < p_base).astype(float)
    fix = (base == 0) & (rng.random(len(base)) < 0.075)
    brk = (base == 1) & (rng.random(len(base)) < 0.012)
    cand = base.copy()
    cand[fix], cand[brk] = 1.0, 0.0
    reg_break = (base == 1) & (rng.random(len(base)) < 0.08)
    regressed = base.copy()
    regressed[reg_break] = 0.0
    for name, scores, model in (
        ("baseline", base, "acme-7b-2026-10"),
        ("candidate", cand, "acme-7b-2026-11"),
        ("regressed", regressed, "acme-7b-2026-11-bad"),
    ):
        doc = _runframe(f"{name}-run", model, scores, passages)
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
