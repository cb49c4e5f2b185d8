"""Session-wide test setup: an isolated Prefect home, no telemetry, and run-file helpers."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from evalsig_core import EvalRun

_home = Path(tempfile.mkdtemp(prefix="evalsig-prefect-")) / "home"
_home.mkdir(parents=True)
os.environ["PREFECT_HOME"] = str(_home)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "deployments" / "examples"
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures" / "harness-logs"


def run_cli(argv: Sequence[str]) -> tuple[int, str, str]:
    """`evalsig --no-config ARGV` in this process, with an empty environment: (exit code,
    stdout, stderr)."""
    from evalsig_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--no-config", *argv], {})
    return code, out.getvalue(), err.getvalue()


def load_script(relpath: str) -> ModuleType:
    """A script of the repository (deployments/, infra/local/: not packages), loaded by path."""
    name = "evalsig_script_" + relpath.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, REPO / relpath)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up while being defined
    spec.loader.exec_module(mod)
    return mod


def write_runframe(path: Path, ids: Sequence[Any], scores: Sequence[Any],
                   clusters: Sequence[Any] | None = None, *, epochs: Sequence[int] | None = None,
                   metric: str = "accuracy", key: str = "passage_id", **extra: Any) -> Path:
    """Write an evalsig 0.1 RunFrame file (the format of the seed workflow)."""
    items = []
    for i, (item, score) in enumerate(zip(ids, scores, strict=True)):
        it: dict[str, Any] = {"item_id": item, "score": score,
                              "epoch": 0 if epochs is None else epochs[i]}
        if clusters is not None:
            it["cluster_id"] = clusters[i]
            it["metadata"] = {key: clusters[i]}
        items.append(it)
    doc = {"run_id": path.stem, "model_id": "m", "task_id": "t", "metric_name": metric,
           "config_hash": "c", "items": items, **extra}
    path.write_text(json.dumps(doc))
    return path


def discordant_runs(improved: int, regressed: int,
                    n: int = 2000) -> tuple[EvalRun, EvalRun]:
    """Binary unclustered runs of `n` items with exactly `improved` items 0->1 and `regressed`
    1->0 (auto: McNemar, p = P(Z > (improved - regressed) / sqrt(improved + regressed)))."""
    import numpy as np

    from evalsig_core import EvalRun

    ids = [f"q{i}" for i in range(n)]
    b = np.zeros(n)
    b[improved:improved + regressed] = 1.0
    c = b.copy()
    c[:improved] = 1.0
    c[improved:improved + regressed] = 0.0
    return EvalRun.from_arrays(ids, b), EvalRun.from_arrays(ids, c)


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
