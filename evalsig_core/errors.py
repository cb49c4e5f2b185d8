"""Exit codes and the small exception hierarchy shared by the CLI and the flows.

One table maps outcomes to exit codes (DESIGN.md). Library code raises these errors; only the
edges (CLI, flows) turn them into exit codes or flow states. Every message is one line that
names the file, the item when there is one, and the fix.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The one exit-code table used by the CLI and the flows."""

    ALLOW = 0
    OK = 0
    REJECT = 1
    INCONCLUSIVE = 2
    USAGE = 64
    DATA = 65
    NO_INPUT = 66
    SOFTWARE = 70
    IO = 74


class EvalsigError(Exception):
    """Base of every error evalsig raises on purpose; carries its exit code."""

    exit_code: ExitCode = ExitCode.SOFTWARE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = " ".join(message.split())
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        if self.hint:
            return f"{self.message} (fix: {self.hint})"  # as doctor findings read
        return self.message


class UsageError(EvalsigError, ValueError):
    """A flag, parameter or policy value is invalid (exit 64, never 2)."""

    exit_code = ExitCode.USAGE


class InputError(EvalsigError):
    """Input data cannot be used: unreadable, malformed or failing a doctor check (exit 65)."""

    exit_code = ExitCode.DATA

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        item: str | None = None,
        hint: str | None = None,
        code: str = "E101",
    ) -> None:
        self.path = path
        self.item = item
        self.code = code
        where = path or ""
        if item is not None:
            where = f"{where}: item {item!r}" if where else f"item {item!r}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class InputNotFoundError(InputError):
    """An input file or object does not exist (exit 66)."""

    exit_code = ExitCode.NO_INPUT


class InputReadError(InputError):
    """An input exists but cannot be read: permission denied, an I/O error (exit 74).

    Not bad data (65) and not a missing file (66): the file may be fine; the system could not
    hand it over. The line names the file, the OS reason and the fix."""

    exit_code = ExitCode.IO


class StorageError(EvalsigError):
    """Reading or writing a store failed after retries (exit 74)."""

    exit_code = ExitCode.IO
