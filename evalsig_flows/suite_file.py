"""Suite files for `nightly_gate_flow` (TOML), and running a configured candidate command.

```toml
[suite]
name = "nightly"            # store namespace: baselines/<name>/<task>/<metric>/
correction = "holm"         # or "bh"
# defaults for every entry (any entry key may appear here)
min_delta = 0.005
cluster = "passage_id"

[[entries]]
name = "mmlu"               # optional, default "<task>-<metric>"
task = "mmlu"
metric = "accuracy"
candidate = "s3://bucket/runs/mmlu.json"          # a URI or path, or:
# command = ["inspect", "eval", "mmlu.py", "--log-dir", "{output_dir}"]
# output = "*.eval"         # glob inside {output_dir}; newest match is ingested
# timeout = 3600
# baseline = "file:///..."  # default: the store's current baseline for (suite, task, metric)
```
Relative paths are resolved against the suite file's directory.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalsig_core import InputError, InputNotFoundError

__all__ = ["SuiteEntrySpec", "SuiteSpec", "load_suite", "run_command"]


class SuiteEntrySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    task: str
    metric: str
    candidate: str | None = None
    command: list[str] | None = None
    output: str = "*"
    timeout: float = 3600.0
    baseline: str | None = None
    cluster: str | None = None
    filter: str | None = None
    min_delta: float = 0.0
    alpha: float = 0.05
    power: float = 0.80
    mode: str = "superiority"
    method: str = "auto"
    resamples: int = 10000
    seed: int = 0


class SuiteSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    correction: str = "holm"
    entries: list[SuiteEntrySpec] = Field(min_length=1)


_SUITE_KEYS = {"name", "correction"}


def _resolve(value: str | None, base: Path) -> str | None:
    if value is None or "://" in value or Path(value).is_absolute():
        return value
    return str(base / value)


def load_suite(path: str) -> SuiteSpec:
    """Parse and validate a suite file (one clear InputError naming the entry otherwise)."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputNotFoundError("suite file not found", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    head: dict[str, Any] = dict(doc.get("suite", {}))
    defaults = {k: v for k, v in head.items() if k not in _SUITE_KEYS}
    entries: list[dict[str, Any]] = []
    for i, raw in enumerate(doc.get("entries", [])):
        e = {**defaults, **raw}
        e.setdefault("name", f"{e.get('task', i)}-{e.get('metric', '')}".strip("-"))
        if isinstance(e.get("command"), str):
            e["command"] = shlex.split(e["command"])
        for k in ("candidate", "baseline"):
            e[k] = _resolve(e.get(k), p.parent)
        if not e.get("candidate") and not e.get("command"):
            raise InputError("entry needs `candidate` (a URI) or `command`", path=path,
                             item=str(e["name"]))
        entries.append(e)
    try:
        return SuiteSpec.model_validate({"name": head.get("name", "default"),
                                         "correction": head.get("correction", "holm"),
                                         "entries": entries})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise InputError(f"{where}: {err['msg']}", path=path,
                         hint="see the suite file format in evalsig_flows/suite_file.py") \
            from None


def run_command(command: list[str], output: str, timeout: float) -> str:
    """Run a candidate eval command; return the newest file matching `output` it wrote.

    `{output_dir}` in any argument is replaced by a fresh directory, which is also the
    working directory. A non-zero exit or a timeout is an InputError naming the command.
    """
    out_dir = Path(tempfile.mkdtemp(prefix="evalsig-candidate-"))
    argv = [a.replace("{output_dir}", str(out_dir)) for a in command]
    name = shlex.join(argv)[:200]
    try:
        proc = subprocess.run(argv, cwd=out_dir, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InputError(f"candidate command timed out after {timeout:g}s: {name}",
                         hint="raise `timeout` or make the eval smaller") from None
    except OSError as exc:
        raise InputNotFoundError(f"candidate command cannot start: {exc.strerror}: {name}")\
            from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise InputError(f"candidate command exited {proc.returncode}: {name}: {tail[0]}")
    found = [f for f in out_dir.rglob(output) if f.is_file()]
    if not found:
        raise InputNotFoundError(f"candidate command wrote no file matching {output!r} "
                                 f"in {out_dir}: {name}")
    return str(max(found, key=lambda f: (f.stat().st_mtime_ns, f.name)))
