"""Running a configured candidate eval command (suite entries and the CI gate flow)."""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import IO

from evalsig_core import InputError, InputNotFoundError, UsageError

__all__ = ["check_command", "run_command"]

_OUTPUT_FIX = "a glob relative to {output_dir}, e.g. '*.eval' or 'logs/*.json'"


def check_command(command: list[str], output: str, timeout: float) -> None:
    """UsageError (64) for a command that cannot be run as configured, before anything runs.

    `output` must stay inside `{output_dir}`: `../*` ingested (and a later clean-up could
    remove) files of another directory, an absolute glob was a NotImplementedError (70).
    `timeout` is finite seconds > 0 (0 "timed out" as bad data, NaN never timed out).
    """
    if not command or not command[0].strip():  # [""] was "cannot start: Permission denied"
        raise UsageError("the candidate command is empty (no program to run)",
                         hint="give the command as a list of arguments")
    if any("\x00" in a for a in command):  # Popen's "embedded null byte" (70)
        shown = _shown([a.replace("\x00", "\\0") for a in command])
        raise UsageError(f"the candidate command has a NUL character (\\0): {shown}",
                         hint="remove it from the command's arguments")
    if "{output_dir}" in output:  # found nothing: "wrote no file matching" (66)
        raise UsageError(f"candidate output {output!r} names {{output_dir}}: the glob is "
                         "already relative to it", hint=f"set `output` to {_OUTPUT_FIX}")
    if (not output or "\x00" in output or output.startswith("/")
            or ".." in PurePosixPath(output).parts):
        raise UsageError(f"candidate output {output!r} is not a glob inside {{output_dir}}",
                         hint=f"set `output` to {_OUTPUT_FIX}")
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"candidate command timeout must be seconds > 0, got {timeout!r}",
                         hint="set `timeout` to the eval's longest run, e.g. 3600")


def _shown(argv: list[str]) -> str:
    return shlex.join(argv)[:200]


def run_command(command: list[str], output: str, timeout: float) -> str:
    """Run a candidate eval command; return the newest file matching `output` it wrote.

    `{output_dir}` in any argument is replaced by a fresh directory, which is also the
    working directory. A non-zero exit or a timeout is an InputError naming the command;
    a command, output glob or timeout that cannot be used (`check_command`) a UsageError.
    The command runs in its own session; when it ends (or times out) every process it
    started that is still running is killed, so no eval outlives its gate.
    """
    check_command(command, output, timeout)
    out_dir = Path(tempfile.mkdtemp(prefix="evalsig-candidate-"))
    try:
        return _run(command, output, timeout, out_dir)
    except BaseException:  # no run to hand over: its directory is not left behind
        shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _run(command: list[str], output: str, timeout: float, out_dir: Path) -> str:
    argv = [a.replace("{output_dir}", str(out_dir)) for a in command]
    name = _shown(argv)
    # Output goes to files, not pipes: a helper the eval leaves running that holds them open
    # cannot keep a finished command waiting, and a verbose eval is not held in memory.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(argv, cwd=out_dir, stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise InputNotFoundError(f"candidate command cannot start: {exc.strerror}: "
                                     f"{name}") from None
        try:
            _wait_unreaped(proc, timeout)
        except subprocess.TimeoutExpired:
            raise InputError(f"candidate command timed out after {timeout:g}s: {name}",
                             hint="raise `timeout` or make the eval smaller") from None
        finally:  # timed out, done or interrupted: nothing it started outlives it
            code = _stop_group(proc)
        if code != 0:
            tail = _last_line(err) or _last_line(out)
            raise InputError(f"candidate command {_ended(code)}: {name}"
                             + (f": {tail}" if tail else ""))
    found = [f for f in out_dir.rglob(output) if f.is_file()]
    if not found:
        raise InputNotFoundError(f"candidate command wrote no file matching {output!r} "
                                 f"in {out_dir}: {name}")
    return str(max(found, key=lambda f: (f.stat().st_mtime_ns, f.name)))


def _ended(code: int) -> str:
    """How a command that failed ended: `exited 3`, or `was killed by SIGKILL (signal 9)` (an
    out-of-memory kill read "exited -9")."""
    if code >= 0:
        return f"exited {code}"
    try:
        return f"was killed by {signal.Signals(-code).name} (signal {-code})"
    except ValueError:
        return f"was killed by signal {-code}"


def _wait_unreaped(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait up to `timeout` for the command to end without reaping it (TimeoutExpired if it
    has not): until it is reaped its PID, the id of its process group, cannot be reused, so
    the group kill that follows can never reach an unrelated process."""
    if not hasattr(os, "waitid"):  # pragma: no cover - no waitid (Windows)
        proc.wait(timeout=timeout)
        return
    deadline, delay = time.monotonic() + timeout, 0.001
    try:
        while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)
    except ChildProcessError:  # reaped elsewhere: nothing left to wait for
        pass


def _stop_group(proc: subprocess.Popen[bytes]) -> int:
    """Kill the command's whole process group (its own session), then reap the command;
    returns its exit status."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - no process groups (Windows)
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass  # every process of the group has ended
    return proc.wait()


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def _last_line(fh: IO[bytes], limit: int = 300) -> str:
    """The last non-empty line a command wrote to `fh` (for its error message), as plain
    text: colour codes and control characters dropped, at most `limit` characters (a binary
    dump on stderr put 64 KiB of NULs into the one-line error)."""
    fh.seek(0, os.SEEK_END)
    fh.seek(max(fh.tell() - 65536, 0))
    text = fh.read().decode("utf-8", "replace")
    for line in reversed(text.splitlines()):
        clean = " ".join(_CONTROL.sub(" ", _ANSI.sub("", line)).split())
        if clean:
            return clean if len(clean) <= limit else clean[:limit - 1] + "…"
    return ""
