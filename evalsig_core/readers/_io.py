"""Safe file access for readers: existence, size bounds, decoding and JSON parsing.

Every failure becomes one `InputError` line naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, InputNotFoundError

MAX_FILE_BYTES = 4 * 1024**3  # refuse anything larger than 4 GiB outright
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class ReadOptions:
    """What the caller chose; readers never guess a metric, filter or cluster key."""

    metric: str | None = None
    cluster: str | None = None
    filter: str | None = None
    allow_failed_run: bool = False


def check_path(path: str | os.PathLike[str], *, directory_ok: bool = False) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(
            "file not found", path=str(p), hint="check the path (and the working directory)"
        )
    if p.is_dir() and not directory_ok:
        raise InputError(
            "is a directory, a run file was expected", path=str(p),
            hint="pass the log file itself (a HELM run directory must contain "
            "per_instance_stats.json)",
        )
    return p


def read_bytes(p: Path) -> bytes:
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit", path=str(p),
                hint="split the run or convert it to JSONL",
            )
        data = p.read_bytes()
    except PermissionError:
        raise InputError("permission denied", path=str(p), hint="make the file readable") from None
    except IsADirectoryError:
        raise InputError("is a directory, a run file was expected", path=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=str(p)) from None
    if not data.strip():
        raise InputError("file is empty", path=str(p), hint="re-export the run; it has no items")
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes, path: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid UTF-8 (byte {exc.start})", path=path,
            hint="re-save the file as UTF-8",
        ) from None


def parse_json(text: str, path: str, *, line: int | None = None) -> Any:
    where = f" line {line}" if line is not None else ""
    try:
        value = json.loads(text)
    except RecursionError:
        raise InputError(
            f"JSON{where} is nested too deeply", path=path, hint="this is not an eval log"
        ) from None
    except json.JSONDecodeError as exc:
        at = f"line {line}" if line is not None else f"line {exc.lineno} column {exc.colno}"
        raise InputError(
            f"invalid JSON at {at}: {exc.msg}", path=path,
            hint="the file is truncated or not JSON; re-export it",
        ) from None
    _check_depth(value, path)
    return value


def _check_depth(value: Any, path: str) -> None:
    """Refuse absurdly nested JSON (json.loads itself allows ~1000 levels)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if d > MAX_JSON_DEPTH:
            raise InputError(
                f"JSON is nested more than {MAX_JSON_DEPTH} levels", path=path,
                hint="this is not an eval log",
            )
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values() if isinstance(x, dict | list))
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v if isinstance(x, dict | list))


def as_score(value: Any, path: str, item: str, metric: str) -> float:
    """Convert one score to float: numbers, booleans (0/1); NaN/inf are kept for the doctor."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    raise InputError(
        f"score {metric!r} is {type(value).__name__} {str(value)[:40]!r}, not a number",
        path=path, item=item, hint="scores must be numbers or booleans",
    )
