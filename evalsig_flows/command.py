"""Running a configured candidate eval command (suite entries and the CI gate flow)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from evalsig_core import InputError, InputNotFoundError

__all__ = ["run_command"]


def run_command(command: list[str], output: str, timeout: float) -> str:
    """Run a candidate eval command; return the newest file matching `output` it wrote.

    `{output_dir}` in any argument is replaced by a fresh directory, which is also the
    working directory. A non-zero exit or a timeout is an InputError naming the command.
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
