"""Terminal decisions of the CLI: colour (only on a terminal, never with NO_COLOR) and progress.

Library code never prints. Long work in the core reports through a callback argument
(`progress(done, total)`), which the CLI builds here: on a terminal it redraws one status line
on stderr at most every 0.1 s and erases it when the stage ends; otherwise it does nothing.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from ..render import Style

__all__ = ["Progress", "ProgressCallback", "call_with_progress", "style_for"]

ProgressCallback = Callable[[int, int], None]


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def style_for(stream: Any, env: Mapping[str, str]) -> Style:
    """Colour only when `stream` is a terminal and NO_COLOR is unset or empty (no-color.org);
    Unicode drawing unless the stream cannot encode it or the locale is C / POSIX (Python's
    UTF-8 mode reports UTF-8 there although the terminal was set up for ASCII)."""
    color = _isatty(stream) and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
    enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    locale = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    return Style(color=color, unicode=enc in ("utf8", "utf16", "utf32")
                 and locale not in ("C", "POSIX"))


class Progress:
    """Stage-by-stage progress on `stream`, drawn only when it is a terminal."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, interval: float = 0.1) -> None:
        self.stream = stream
        self.enabled = _isatty(stream) if enabled is None else enabled
        self._clock = clock
        self._interval = interval

    @contextmanager
    def stage(self, label: str) -> Iterator[ProgressCallback]:
        """Show `label` while the block runs; yields the callback `update(done, total)`."""
        if not self.enabled:
            yield _silent
            return
        last = [-1.0]

        def update(done: int, total: int) -> None:
            now = self._clock()
            if now - last[0] < self._interval and done < total:
                return
            last[0] = now
            share = f" {100 * done / total:3.0f}%" if total > 0 else f" {done}"
            self._draw(f"{label}{share}")

        self._draw(f"{label} …")
        try:
            yield update
        finally:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()


def _silent(done: int, total: int) -> None:
    return None


def call_with_progress(fn: Callable[..., Any], *args: Any, progress: ProgressCallback,
                       **kwargs: Any) -> Any:
    """Call `fn`, passing `progress=` only when `fn` accepts it (core functions gain the
    argument one by one; the CLI hands it to every long-running one that has it)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    if "progress" in params:
        kwargs["progress"] = progress
    return fn(*args, **kwargs)
