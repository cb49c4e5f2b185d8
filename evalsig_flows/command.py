"""Running a configured candidate eval command (suite entries and the CI gate flow)."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from evalsig_core import InputError, InputNotFoundError

__all__ = ["run_command"]


def run_command(command: list[str], output: str, timeout: float) -> str:
    """Run a candidate eval command; return the newest file matching `output` it wrote.

    `{output_dir}` in any argument is replaced by a fresh directory, which is also the
    working directory. A non-zero exit or a timeout is an InputError naming the command.
    The command runs in its own session; when it ends (or times out) every process it
    started that is still running is killed, so no eval outlives its gate.
    """
    out_dir = Path(tempfile.mkdtemp(prefix="evalsig-candidate-"))
    try:
        return _run(command, output, timeout, out_dir)
    except BaseException:  # no run to hand over: its directory is not left behind
        shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _run(command: list[str], output: str, timeout: float, out_dir: Path) -> str:
    argv = [a.replace("{output_dir}", str(out_dir)) for a in command]
    name = shlex.join(argv)[:200]
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
            raise InputError(f"candidate command exited {code}: {name}"
                             + (f": {tail}" if tail else ""))
    found = [f for f in out_dir.rglob(output) if f.is_file()]
    if not found:
        raise InputNotFoundError(f"candidate command wrote no file matching {output!r} "
                                 f"in {out_dir}: {name}")
    return str(max(found, key=lambda f: (f.stat().st_mtime_ns, f.name)))


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


def _last_line(fh: IO[bytes]) -> str:
    """The last non-empty line a command wrote to `fh` (for its error message)."""
    fh.seek(0, os.SEEK_END)
    fh.seek(max(fh.tell() - 65536, 0))
    lines = fh.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip() if lines else ""
