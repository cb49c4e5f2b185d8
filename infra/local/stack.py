#!/usr/bin/env python3
"""The local evalsig stack on 127.0.0.1: `make up` / `make down`.

    python infra/local/stack.py up   [--dir .stack] [--prefect-port 4200] [--s3-port 8333]
                                     [--webhook-port 8787]      (0 = any free port)
    python infra/local/stack.py down [--dir .stack]
    python infra/local/stack.py status [--dir .stack]

`up` starts, in order, and waits until each is healthy:
  1. a Prefect server (SQLite under DIR/prefect)           healthy: GET /api/health
  2. SeaweedFS (infra/local/s3.py) with bucket `evalsig`    healthy: the S3 API answers
     and seeds the CI baseline from deployments/examples/baseline.json if none exists
  3. deployments/serve.py (the three deployments, no worker) healthy: each deployment polled
  4. the GitHub webhook receiver (evalsig_flows.webhook)    healthy: GET /healthz
then prints their URLs and writes DIR/env (source it to talk to the stack). Every process is
started in its own session and recorded in DIR/<name>.pid with its start time; `down` stops
exactly those processes (the whole process group of each PID, after checking the PID was not
reused), in reverse order. If a step fails, what was started is stopped again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BUCKET = "evalsig"
ORDER = ("prefect", "s3", "serve", "webhook")
DEPLOYMENTS = ("evalsig-nightly/evalsig-nightly", "evalsig-ci-gate/evalsig-ci-gate",
               "evalsig-promote/evalsig-promote")
CI_SUITE, CI_TASK, CI_METRIC = "ci", "reading-comprehension", "accuracy"


def _s3_module() -> Any:
    """infra/local/s3.py (the store helper's start/stop of SeaweedFS), loaded by path."""
    spec = importlib.util.spec_from_file_location("evalsig_local_s3", HERE / "s3.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/PID/stat): guards against reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def stop_pid(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL it after `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _wait(name: str, ok: Any, pid: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise RuntimeError(f"{name} exited during start; see {log}")
        try:
            if ok():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} not healthy after {timeout:.0f}s; see {log}")


class Stack:
    """The processes of one stack directory and their recorded PIDs."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.logs = self.root / "logs"
        self.state_file = self.root / "stack.json"

    def state(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {}
        return dict(json.loads(self.state_file.read_text()))

    def _save(self, state: dict[str, Any]) -> None:
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def record(self, state: dict[str, Any], name: str, pid: int, **info: Any) -> None:
        state[name] = {"pid": pid, "start_time": _start_time(pid), **info}
        (self.root / f"{name}.pid").write_text(f"{pid}\n")
        self._save(state)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> tuple[int, Path]:
        log = self.logs / f"{name}.log"
        with open(log, "ab") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, cwd=REPO,
                                    start_new_session=True)
        return proc.pid, log

    def down(self) -> list[str]:
        """Stop the recorded processes (reverse start order); return what was stopped."""
        state, stopped = self.state(), []
        for name in reversed(ORDER):
            info = state.pop(name, None)
            if not info:
                continue
            pid = int(info["pid"])
            if _start_time(pid) == info.get("start_time") and _start_time(pid) is not None:
                stop_pid(pid)
                stopped.append(f"{name} (pid {pid})")
            (self.root / f"{name}.pid").unlink(missing_ok=True)
            self._save(state)
        self.state_file.unlink(missing_ok=True)
        return stopped

    def running(self) -> dict[str, Any]:
        return {n: i for n, i in self.state().items() if n in ORDER
                and _start_time(int(i["pid"])) == i.get("start_time")}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port(requested: int) -> int:
    import socket

    if requested == 0:
        return _free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", requested))
        except OSError:
            raise RuntimeError(f"port {requested} on 127.0.0.1 is busy; choose another "
                               "(--prefect-port/--s3-port/--webhook-port, 0 = any)") from None
    return requested


def _base_env(prefect_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("PREFECT_", "EVALSIG_")):
            del env[k]
    env.update(PREFECT_HOME=str(prefect_home), DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1")
    return env


def _deployments_polled(api: str, since: float) -> bool:
    """Every deployment exists and its runner polled the API after `since` (epoch seconds)."""
    from datetime import datetime

    for name in DEPLOYMENTS:
        code, body = _get(f"{api}/deployments/name/{name}")
        if code != 200:
            return False
        polled = json.loads(body).get("last_polled")
        if not polled or datetime.fromisoformat(polled).timestamp() < since:
            return False
    return True


def seed_baseline(store_uri: str, env: dict[str, str]) -> str:
    """Make the example baseline the CI baseline if there is none; return its pointer key."""
    code = (
        "import sys, pathlib;"
        "from evalsig_flows.store import open_store;"
        "from evalsig_flows.baselines import baseline_prefix, promote, read_pointer;"
        "s = open_store(sys.argv[1]); p = baseline_prefix(*sys.argv[2:5]);"
        "ptr, _ = read_pointer(s, p);"
        "data = pathlib.Path(sys.argv[5]).read_bytes();"
        "ptr is None and promote(s, suite=sys.argv[2], task=sys.argv[3], metric=sys.argv[4],"
        " data=data, ext='json', expected_base=None, decision_id='seed-local-stack',"
        " source={'seeded_from': 'deployments/examples/baseline.json'});"
        "print(p + '/current.json')"
    )
    out = subprocess.run([sys.executable, "-c", code, store_uri, CI_SUITE, CI_TASK, CI_METRIC,
                          str(REPO / "deployments" / "examples" / "baseline.json")],
                         env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"seeding the baseline failed: {out.stderr.strip()[-500:]}")
    return out.stdout.strip()


def up(stack: Stack, prefect_port: int, s3_port: int, webhook_port: int,
       timeout: float = 180.0) -> dict[str, Any]:
    """Start the four processes (see the module docstring); return the stack's state."""
    if stack.running():
        raise RuntimeError(f"a stack is already running from {stack.root} "
                           f"({', '.join(stack.running())}); run `make down` first")
    stack.down()  # clear stale records of processes that are gone
    stack.logs.mkdir(parents=True, exist_ok=True)
    home = stack.root / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env = _base_env(home)
    state: dict[str, Any] = {}
    py, bindir = sys.executable, str(Path(sys.executable).parent)

    port = _port(prefect_port)
    api = f"http://127.0.0.1:{port}/api"
    pid, log = stack.spawn("prefect", [os.path.join(bindir, "prefect"), "server", "start",
                                       "--host", "127.0.0.1", "--port", str(port)], env)
    stack.record(state, "prefect", pid, url=f"http://127.0.0.1:{port}", api=api, log=str(log))
    _wait("Prefect server", lambda: _get(f"{api}/health")[0] == 200, pid, log, timeout)
    env["PREFECT_API_URL"] = api

    s3 = _s3_module()
    server = s3.start(str(stack.root / "s3"), _port(s3_port) if s3_port else None,
                      buckets=(BUCKET,), timeout=timeout)
    stack.record(state, "s3", server.pid, url=server.endpoint, bucket=BUCKET,
                 access_key=server.access_key, secret_key=server.secret_key, log=server.log)
    env.update(EVALSIG_S3_ENDPOINT_URL=server.endpoint, EVALSIG_S3_ACCESS_KEY_ID=server.access_key,
               EVALSIG_S3_SECRET_ACCESS_KEY=server.secret_key, EVALSIG_S3_REGION="us-east-1",
               EVALSIG_S3_ADDRESSING_STYLE="path")
    store = f"s3://{BUCKET}"
    pointer = seed_baseline(store, env)
    state["s3"]["baseline_pointer"] = pointer
    stack._save(state)

    since = time.time()
    candidate = str(REPO / "deployments" / "examples" / "candidate.json")
    pid, log = stack.spawn("serve", [py, str(REPO / "deployments" / "serve.py"), "--store", store,
                                     "--set", f"evalsig-ci-gate.candidate={candidate}"], env)
    stack.record(state, "serve", pid, deployments=list(DEPLOYMENTS), store=store, log=str(log))
    _wait("served deployments", lambda: _deployments_polled(api, since), pid, log, timeout)

    secret = os.environ.get("EVALSIG_WEBHOOK_SECRET") or secrets.token_hex(20)
    secret_file = stack.root / "webhook-secret"
    secret_file.write_text(secret + "\n")
    secret_file.chmod(0o600)
    wport = _port(webhook_port)
    wenv = dict(env, EVALSIG_WEBHOOK_SECRET=secret, EVALSIG_WEBHOOK_PORT=str(wport))
    pid, log = stack.spawn("webhook", [py, "-m", "evalsig_flows.webhook", "serve"], wenv)
    url = f"http://127.0.0.1:{wport}"
    stack.record(state, "webhook", pid, url=f"{url}/github", health=f"{url}/healthz",
                 secret_file=str(secret_file), log=str(log))
    _wait("webhook receiver", lambda: _get(f"{url}/healthz")[0] == 200, pid, log, timeout)

    exports = {k: v for k, v in env.items() if k.startswith(("PREFECT_API_URL", "EVALSIG_S3_"))}
    exports.update(EVALSIG_STORE=store, EVALSIG_WEBHOOK_URL=f"{url}/github",
                   EVALSIG_WEBHOOK_SECRET=secret, AWS_ACCESS_KEY_ID=server.access_key,
                   AWS_SECRET_ACCESS_KEY=server.secret_key, AWS_ENDPOINT_URL=server.endpoint)
    (stack.root / "env").write_text("".join(f"export {k}={v}\n" for k, v in exports.items()))
    return state


def describe(stack: Stack, state: dict[str, Any]) -> str:
    p, s, w = state["prefect"], state["s3"], state["webhook"]
    return "\n".join([
        f"Prefect UI:     {p['url']}",
        f"Prefect API:    {p['api']}",
        f"S3 (SeaweedFS): {s['url']}  bucket {s['bucket']}  "
        f"(access key {s['access_key']}, secret {s['secret_key']})",
        f"Baseline:       s3://{s['bucket']}/{s['baseline_pointer']}",
        f"Deployments:    {', '.join(state['serve']['deployments'])} (served by pid "
        f"{state['serve']['pid']})",
        f"Webhook:        POST {w['url']}  (secret in {w['secret_file']})",
        f"Environment:    source {stack.root / 'env'}",
        f"Logs:           {stack.logs}/",
        "Stop with:      make down",
    ])


def main(argv: list[str] | None = None) -> int:
    from evalsig_core.cli import UsageParser  # exit 64, no abbreviations, "did you mean"

    ap = UsageParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["up", "down", "status"],
                    help="up: start the four processes and wait until each is healthy; down: stop "
                    "the processes recorded in DIR; status: say which run (exit 1 unless "
                    "all four do)")
    ap.add_argument("--dir", type=Path, default=REPO / ".stack",
                    help="the stack's state: pid files, logs, Prefect's SQLite, SeaweedFS data "
                    "and the env file (default: %(default)s)")
    ap.add_argument("--prefect-port", type=int, default=4200,
                    help="Prefect server port on 127.0.0.1, 0 = any free port "
                    "(default: %(default)s)")
    ap.add_argument("--s3-port", type=int, default=8333,
                    help="SeaweedFS S3 port on 127.0.0.1, 0 = any free port "
                    "(default: %(default)s)")
    ap.add_argument("--webhook-port", type=int, default=8787,
                    help="GitHub webhook receiver port on 127.0.0.1, 0 = any free port "
                    "(default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=180.0,
                    help="seconds `up` waits for each of the Prefect server, SeaweedFS, the "
                    "served deployments and the webhook receiver to become healthy "
                    "(default: %(default)s)")
    args = ap.parse_args_or_exit(argv)
    stack = Stack(args.dir)
    if args.command == "down":
        stopped = stack.down()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    if args.command == "status":
        running = stack.running()
        for name in ORDER:
            info = running.get(name)
            print(f"{name:8} {'up, pid ' + str(info['pid']) if info else 'down'}")
        return 0 if len(running) == len(ORDER) else 1
    args.dir.mkdir(parents=True, exist_ok=True)
    try:
        state = up(stack, args.prefect_port, args.s3_port, args.webhook_port, args.timeout)
    except BaseException as exc:  # whatever happened, leave nothing running behind
        stack.down()
        if isinstance(exc, KeyboardInterrupt):
            return 130
        print(f"stack: error: {exc}", file=sys.stderr)
        return 1
    print(describe(stack, state), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
