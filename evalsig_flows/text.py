"""Outside text shown in one-line messages: names and keys quoted short, answers excerpted."""

from __future__ import annotations

from evalsig_core.findings import one_line

__all__ = ["excerpt", "quoted"]


def quoted(name: str, limit: int = 60) -> str:
    """`name` quoted (`repr`: control characters escaped) for an error line: its first `limit`
    characters, then "…" and its length when longer, so a 300-character name keeps the line
    readable (the key itself keeps the whole name)."""
    if len(name) <= limit:
        return repr(name)
    return f"{name[:limit]!r}… ({len(name)} characters)"


def excerpt(text: str, limit: int = 200) -> str:
    """`text` (an answer from another service) as one printable line: runs of whitespace as
    one space, other control and format characters escaped (`\\x1b`, `\\u202e`), at most
    `limit` characters, then "…" and the length of `text` when cut."""
    line = one_line(text)
    return line if len(line) <= limit else f"{line[:limit]}… ({len(text)} characters)"
