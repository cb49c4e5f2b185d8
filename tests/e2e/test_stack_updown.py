"""infra/local/stack.py (`make up` / `make down`) cleans up after itself when `up` fails."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "infra" / "local" / "stack.py"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes_with(arg: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if arg in cmd and "prefect" in cmd:
                found.append(int(proc.name))
    return found


def test_a_failed_up_stops_what_it_had_started_and_says_why(tmp_path: Path) -> None:
    prefect_port = _free_port()
    with socket.socket() as busy:  # the S3 port is taken after the Prefect server started
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        s3_port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, str(STACK), "up", "--dir", str(tmp_path),
                              "--prefect-port", str(prefect_port), "--s3-port", str(s3_port),
                              "--webhook-port", "0"], capture_output=True, text=True,
                             timeout=400)
    assert out.returncode == 1
    assert f"port {s3_port} on 127.0.0.1 is busy" in out.stderr
    assert (tmp_path / "logs" / "prefect.log").exists()  # the server had been started ...
    assert not (tmp_path / "stack.json").exists() and not (tmp_path / "prefect.pid").exists()
    assert _processes_with(f"--port {prefect_port}") == []  # ... and was stopped again


def test_down_with_nothing_running_is_a_no_op(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(STACK), "down", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "stopped: nothing was running")
