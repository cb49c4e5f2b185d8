"""The suite file: one TOML format for `evalsig suite` and the nightly flow.

```toml
[suite]
name = "nightly"            # suite name (the flows' store namespace: baselines/<name>/...)
correction = "holm"         # or "bh": multiplicity across superiority entries
min_delta = 0.005           # any entry key here is a default for every entry
cluster = "passage_id"

[[entry]]                   # or [[entries]]
name = "mmlu"               # default "<task>-<metric>", else "entry-<n>"
task = "mmlu"
metric = "accuracy"
baseline = "runs/base.json" # a path or URI; the nightly flow may omit it (stored baseline)
candidate = "runs/new.json" # a path or URI, or (nightly flow only):
# command = ["inspect", "eval", "mmlu.py", "--log-dir", "{output_dir}"]
# output = "*.eval"         # glob inside {output_dir}; the newest match is ingested
# timeout = 3600
# filter, format, mode, alpha, power, method, resamples, seed as the gate flags;
# id_col, score_col, cluster_col, epoch_col as --id-col ... (CSV/TSV column names)
```
Names (the suite's and each entry's) are one line of text, never empty; `baseline` and
`candidate`, when given, are not empty. Relative paths are resolved against the suite file's
directory. Every problem in the file is a
usage error (exit 64) naming the file and the entry; a missing file exits 66.
"""

from __future__ import annotations

import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from .config import refuse_boolean, shown, type_fix
from .errors import InputNotFoundError, InputReadError, UsageError
from .policy import Policy

__all__ = ["SuiteEntrySpec", "SuiteSpec", "read_suite_spec"]


class SuiteEntrySpec(BaseModel):
    """One (task, metric) entry of a suite file, validated (its policy included).

    Strict types (a TOML number or array is never turned into its text, nor a string into a
    number) and finite numbers (`timeout = 1e400` is infinity, `nan` no number)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: StrictStr
    task: StrictStr | None = None
    metric: StrictStr | None = None
    baseline: StrictStr | None = None
    candidate: StrictStr | None = None
    command: list[StrictStr] | None = None
    output: StrictStr = "*"
    timeout: StrictFloat = Field(default=3600.0, gt=0)
    cluster: StrictStr | None = None
    filter: StrictStr | None = None
    format: StrictStr = "auto"
    # CSV/TSV column names of both runs (the CLI's --id-col ...; None: the reader's default)
    id_col: StrictStr | None = None
    score_col: StrictStr | None = None
    cluster_col: StrictStr | None = None
    epoch_col: StrictStr | None = None
    min_delta: StrictFloat
    alpha: StrictFloat = 0.05
    power: StrictFloat = 0.80
    mode: StrictStr = "superiority"
    method: StrictStr = "auto"
    resamples: StrictInt = 10000
    seed: StrictInt = 0

    @field_validator("format")
    @classmethod
    def _format(cls, v: str) -> str:
        from .readers import FORMATS  # a bad format was an entry error: suite exit 2

        if v not in FORMATS:
            raise ValueError(f"unknown format {v!r}; choose one of {', '.join(FORMATS)}")
        return v

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        import shlex

        return shlex.split(v) if isinstance(v, str) else v

    def read_options(self) -> dict[str, Any]:
        """`read_run`'s keyword arguments for this entry's two runs, the same for
        `evalsig suite` and the nightly flow: metric, cluster, filter, format and the column
        names the entry sets."""
        from .readers import COLUMN_FLAGS

        kw: dict[str, Any] = {"metric": self.metric, "cluster": self.cluster,
                              "filter": self.filter, "format": self.format}
        kw.update({k: v for k in COLUMN_FLAGS if (v := getattr(self, k)) is not None})
        return kw

    def policy(self) -> Policy:
        return Policy(min_delta=self.min_delta, alpha=self.alpha, power=self.power,
                      mode=self.mode, method=self.method, resamples=self.resamples,
                      seed=self.seed, metric=self.metric, cluster=self.cluster)


class SuiteSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: StrictStr = "default"
    correction: StrictStr = "holm"
    entries: list[SuiteEntrySpec] = Field(min_length=1)


_SUITE_ONLY = {"name", "correction"}


def read_suite_spec(path: str | Path) -> SuiteSpec:
    """Parse and validate a suite file; relative run paths become paths beside the file."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except FileNotFoundError:
        raise InputNotFoundError("suite file not found", path=str(p)) from None
    except IsADirectoryError:
        raise UsageError(f"{p}: is a directory, a suite TOML file was expected") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{p}: not a valid TOML suite file: {exc}") from None
    except RecursionError:  # tomllib recurses per level of nesting (was exit 70)
        raise UsageError(f"{p}: not a valid TOML suite file: nested too deeply") from None
    except OSError as exc:  # exists but cannot be read (was exit 70)
        raise InputReadError(f"cannot read the suite file: {exc.strerror}", path=str(p),
                             hint="check its permissions (and the disk)") from None
    head = doc.pop("suite", {})
    raw = doc.pop("entry", None) or doc.pop("entries", None)
    if doc:
        raise UsageError(f"{p}: unknown table {sorted(doc)[0]!r}",
                         hint="use [suite] and [[entry]] tables")
    if not isinstance(head, dict) or not isinstance(raw, list) or not raw:
        raise UsageError(f"{p}: no [[entry]] tables", hint="add one [[entry]] per task/metric")
    for i, e in enumerate(raw):  # `entry = [1]` was "'int' object is not a mapping" (70)
        if not isinstance(e, dict):
            raise UsageError(f"{p}: entry {i + 1} is {_toml_type(e)}, not a table",
                             hint="write each entry as an [[entry]] table of keys")
    defaults = {k: v for k, v in head.items() if k not in _SUITE_ONLY}
    entries = [_entry(p, i, {**defaults, **e}) for i, e in enumerate(raw)]
    names = [e.name for e in entries]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise UsageError(f"{p}: two entries are named {dup!r}", hint="give each entry a name")
    correction = head.get("correction", "holm")
    if correction not in ("holm", "bh"):
        raise UsageError(f"{p} [suite]: correction must be holm or bh, got {correction!r}")
    name = head.get("name", "default")  # `name = [1]` was the suite "[1]" (str() of it)
    if not isinstance(name, str):
        raise UsageError(f"{p} [suite]: name is {_toml_type(name)}, not a string",
                         hint=type_fix("string_type", "name"))
    _check_name(f"{p} [suite]", "name", name, "give the suite a one-line name")
    return SuiteSpec(name=name, correction=correction, entries=entries)



def _check_name(where: str, key: str, name: Any, hint: str) -> None:
    """A name is one line of text: it heads report sections, table rows, the flows' state
    messages and PR comments (an empty name read "ALLOW: " there, a newline split them)."""
    if isinstance(name, str) and (not name.strip() or any(
            unicodedata.category(ch) == "Cc" for ch in name)):
        raise UsageError(f"{where}: {key} {name!r} is empty or holds a control character "
                         "(a newline, a tab...)", hint=hint)


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else f"a {type(value).__name__}"


def _entry(p: Path, i: int, e: dict[str, Any]) -> SuiteEntrySpec:
    where = f"{p} entry {i + 1}" + (f" ({e['name']!r})" if "name" in e else "")
    e.setdefault("name", "-".join(str(e[k]) for k in ("task", "metric") if e.get(k))
                 or f"entry-{i + 1}")
    _check_name(where, "name", e["name"], "give the entry a one-line name (or leave `name` "
                "out for <task>-<metric>)")
    for key in ("baseline", "candidate"):
        if isinstance(e.get(key), str):
            if not e[key].strip():  # resolved, "" was the suite file's directory (65)
                raise UsageError(f"{where}: {key} is empty",
                                 hint=f"give the {key} run's path or URI, or leave {key} out")
            e[key] = _resolve(e[key], p.parent)
    for k, v in e.items():
        refuse_boolean(where, k, v)
    try:
        spec = SuiteEntrySpec.model_validate(e)
        spec.policy()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        key = str(err["loc"][0]) if len(err["loc"]) < 2 else f"every item of {err['loc'][0]}"
        raise UsageError(f"{where}: {field}: {err['msg']} (got {shown(err['input'])})",
                         hint=type_fix(err["type"], key) or "see the suite file format in "
                         "evalsig_core/suite_file.py") from None
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    if spec.candidate is None and not spec.command:
        raise UsageError(f"{where}: needs `candidate` (a path or URI) or `command`")
    return spec


def _resolve(value: str, base: Path) -> str:
    if "://" in value or Path(value).is_absolute():
        return value
    return str(base / value)
