"""GitHub Actions: step outputs (`$GITHUB_OUTPUT`) and the job summary (`$GITHUB_STEP_SUMMARY`).

Outputs use `name=value`, or the multiline form `name<<DELIM ... DELIM` when a value holds a
line break (GitHub's documented syntax), with a delimiter that cannot occur in the value.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..errors import StorageError

__all__ = ["append_summary", "format_outputs", "report_dir", "write_outputs"]


def format_outputs(values: Mapping[str, str]) -> str:
    parts = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delim = f"EVALSIG_EOF_{secrets.token_hex(8)}"
            while delim in value:
                delim = f"EVALSIG_EOF_{secrets.token_hex(8)}"
            parts.append(f"{name}<<{delim}\n{value}\n{delim}\n")
        else:
            parts.append(f"{name}={value}\n")
    return "".join(parts)


def _append(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise StorageError(f"{path}: cannot append: {exc.strerror}") from None


def write_outputs(env: Mapping[str, str], values: Mapping[str, str]) -> bool:
    """Append the step outputs when `GITHUB_OUTPUT` is set; True if written."""
    out = env.get("GITHUB_OUTPUT")
    if not out:
        return False
    _append(out, format_outputs(values))
    return True


def append_summary(env: Mapping[str, str], markdown: str) -> bool:
    """Append the Markdown report to the job summary when `GITHUB_STEP_SUMMARY` is set."""
    summary = env.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return False
    _append(summary, markdown if markdown.endswith("\n") else markdown + "\n")
    return True


def report_dir(env: Mapping[str, str]) -> Path:
    """Where reports go when the user gave no path: a fresh directory under RUNNER_TEMP."""
    base = env.get("RUNNER_TEMP") or None
    try:
        return Path(tempfile.mkdtemp(prefix="evalsig-", dir=base))
    except OSError as exc:  # a RUNNER_TEMP that is missing or a file was internal error (70)
        raise StorageError(f"{exc.filename or base}: cannot create the report directory: "
                           f"{exc.strerror}", hint="point RUNNER_TEMP at a writable "
                           "directory, or pass --json and --markdown paths") from None

