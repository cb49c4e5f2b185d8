"""Project defaults for the CLI from `evalsig.toml` or `[tool.evalsig]` in `pyproject.toml`.

Flags always win: a default only replaces a flag's built-in default (and makes a required flag
such as `--min-delta` optional). Keys are the long flag names with `-` or `_`, e.g.

    # pyproject.toml                      # evalsig.toml
    [tool.evalsig]                        metric = "accuracy"
    metric = "accuracy"                   cluster = "passage_id"
    cluster = "passage_id"                min-delta = 0.005
    min_delta = 0.005

An unknown key or a value of the wrong type is a usage error naming the file (exit 64).
This module reads files only; it never reads the environment.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr, ValidationError

from .errors import UsageError
from .policy import Mode, Policy

__all__ = ["CONFIG_FILES", "Defaults", "find_config", "load_config", "refuse_boolean", "shown",
           "type_fix"]

CONFIG_FILES = ("evalsig.toml", "pyproject.toml")


class Defaults(BaseModel):
    """Every flag a project may default; None = not set (the flag's own default applies).

    Strict types: `min-delta = "0.1"` is not read as a number, nor `metric = 3` as a name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: StrictStr | None = None
    cluster: StrictStr | None = None
    filter: StrictStr | None = None
    format: StrictStr | None = None
    # CSV/TSV column names (--id-col ...): a project whose runs name them so says it once
    id_col: StrictStr | None = None
    score_col: StrictStr | None = None
    cluster_col: StrictStr | None = None
    epoch_col: StrictStr | None = None
    min_delta: StrictFloat | None = None
    alpha: StrictFloat | None = None
    power: StrictFloat | None = None
    mode: Mode | None = None
    method: StrictStr | None = None
    resamples: StrictInt | None = None
    seed: StrictInt | None = None
    output: Literal["tty", "markdown", "json", "html"] | None = None

    def as_flags(self) -> dict[str, Any]:
        """The set values, keyed by argparse destination."""
        out = self.model_dump(exclude_none=True)
        if "mode" in out:
            out["mode"] = out["mode"].value if isinstance(out["mode"], Mode) else out["mode"]
        return out


def _table(path: Path) -> dict[str, Any] | None:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the config file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per level of nesting (was exit 70)
        raise UsageError(f"{path}: invalid TOML: nested too deeply") from None
    if path.name == "pyproject.toml":
        tool = doc.get("tool")  # `tool = 3` was AttributeError (70) in every command
        table = tool.get("evalsig") if isinstance(tool, dict) else None
        return table if isinstance(table, dict) else None
    return doc


def refuse_boolean(where: str, key: str, value: Any) -> None:
    """A TOML boolean where every key takes a number or a name (config and suite files):
    pydantic's lax mode read `min_delta = true` as a margin of 1.0 and `seed = false` as 0."""
    if isinstance(value, bool):
        raise UsageError(f"{where}: {key} = {str(value).lower()} is a boolean",
                         hint=f"give {key} a number or a name, as the flag takes")


# The fix of a pydantic error type, for the one-line error of a bad value in a config or
# suite file ({key}: the key named).
_FIXES = {
    "string_type": "give {key} a string, in quotes",
    "float_type": "give {key} a number, without quotes",
    "int_type": "give {key} a whole number, without quotes",
    "int_from_float": "give {key} a whole number, without quotes",
    "finite_number": "give {key} a finite number (not inf or nan)",
    "list_type": "give {key} an array of strings, or one string",
}


def type_fix(error_type: str, key: str) -> str | None:
    """The fix for a value of the wrong type (pydantic's error type), naming the key."""
    fix = _FIXES.get(error_type)
    return None if fix is None else fix.format(key=key)


def shown(value: Any) -> str:
    """A TOML value in an error line: its repr, cut short (an array of thousands)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def find_config(start: Path) -> Path | None:
    """The nearest `evalsig.toml`, or `pyproject.toml` with `[tool.evalsig]`, from `start` up."""
    for d in (start, *start.parents):
        for name in CONFIG_FILES:
            p = d / name
            if p.is_file() and (name == "evalsig.toml" or _table(p) is not None):
                return p
    return None


def load_config(path: Path) -> Defaults:
    """Read and validate the defaults of one config file."""
    table = _table(path) or {}
    data: dict[str, Any] = {}
    known = ", ".join(k.replace("_", "-") for k in Defaults.model_fields)
    for k, v in table.items():
        name = str(k).replace("-", "_")
        if name not in Defaults.model_fields:  # before the value's checks: no fix for a value
            raise UsageError(f"{path}: unknown key {k!r}; known keys: {known}")
        if name in data:  # min_delta = 0.01 and min-delta = 0.02: the last one won silently
            raise UsageError(f"{path}: {name.replace('_', '-')!r} is set twice (as "
                             f"{name!r} and {name.replace('_', '-')!r}); keep one")
        refuse_boolean(str(path), k, v)
        data[name] = v
    try:
        defaults = Defaults.model_validate(data)  # lax but for the strict field types
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"{path}: invalid {key!r}: {err['msg']} (got {shown(err['input'])})",
                         hint=type_fix(err["type"], key.replace("_", "-"))) from None
    # Ranges too (alpha = 2, seed = -1): the Policy's own checks, with the file named.
    policy_keys = set(Policy.model_fields) - {"metric", "cluster"}
    values = {k: v for k, v in defaults.model_dump(exclude_none=True).items()
              if k in policy_keys}
    try:
        Policy(**{"min_delta": 0.0, **values})
    except UsageError as exc:
        raise UsageError(f"{path}: {exc.message}") from None
    return defaults
