"""The GitHub Action: scripts/action.sh with fake GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files
and a fake comment API on 127.0.0.1, and action.yml's inputs and outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from evalsig_core.cli import build_parser
from evalsig_core.cli._parser import _subparsers
from tests.conftest import EXAMPLES, REPO

SCRIPT = REPO / "scripts" / "action.sh"
EVALSIG = str(Path(sys.executable).parent / "evalsig")
pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("curl") is None,
                                reason="the action needs bash and curl")


@dataclass
class FakeGitHub:
    """Issue comments of one PR, as the REST API pages them; records every request."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    fail: bool = False
    url: str = ""


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def _send(self, code: int, doc: Any) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self) -> dict[str, Any] | None:
            n = int(self.headers.get("Content-Length") or 0)
            doc = json.loads(self.rfile.read(n)) if n else None
            state.requests.append((self.command, self.path, doc))
            assert self.headers["Authorization"] == "Bearer t0ken"
            return doc

        def do_GET(self) -> None:
            self._record()
            if state.fail:
                return self._send(500, {"message": "boom"})
            q = parse_qs(urlparse(self.path).query)
            page, per = int(q["page"][0]), int(q["per_page"][0])
            self._send(200, state.comments[(page - 1) * per: page * per])

        def do_POST(self) -> None:
            doc = self._record()
            assert urlparse(self.path).path == "/repos/o/r/issues/7/comments"
            c = {"id": 1000 + len(state.comments), "body": doc["body"]}  # type: ignore[index]
            state.comments.append(c)
            self._send(201, c)

        def do_PATCH(self) -> None:
            doc = self._record()
            cid = int(urlparse(self.path).path.rsplit("/", 1)[1])
            for c in state.comments:
                if c["id"] == cid:
                    c["body"] = doc["body"]  # type: ignore[index]
            self._send(200, {"id": cid})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield state
    server.shutdown()
    server.server_close()


def _run(tmp: Path, *, evalsig: str = EVALSIG, **inputs: str) -> tuple[int, dict[str, str], str]:
    out, summary = tmp / "github_output", tmp / "summary.md"
    out.write_text("")
    env = {
        "PATH": os.environ["PATH"], "RUNNER_TEMP": str(tmp), "EVALSIG": evalsig,
        "PYTHON": sys.executable, "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_REPOSITORY": "o/r", "INPUT_BASELINE": str(EXAMPLES / "baseline.json"),
        "INPUT_CANDIDATE": str(EXAMPLES / "candidate.json"), "INPUT_METRIC": "accuracy",
        "INPUT_CLUSTER": "passage_id", "INPUT_MIN_DELTA": "0.005",
    }
    env.update({k if k.isupper() else f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    p = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                       cwd=tmp, check=False, timeout=120)
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    return p.returncode, outputs, p.stdout + p.stderr


def test_allow_writes_every_output_and_the_summary(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path)
    assert code == 0
    assert out["verdict"] == "ALLOW" and out["exit_code"] == "0"
    assert {"delta", "p_value", "mde", "report_json", "report_md"} <= out.keys()
    assert json.loads(Path(out["report_json"]).read_text())["verdict"] == "ALLOW"
    assert Path(out["report_md"]).read_text().startswith("<!-- evalsig-report")
    assert "## EVALSIG release gate ✅ ALLOW" in (tmp_path / "summary.md").read_text()


def test_reject_fails_the_step_with_exit_1(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, candidate=str(EXAMPLES / "regressed.json"))
    assert code == 1 and out["verdict"] == "REJECT" and out["exit_code"] == "1"


def test_every_input_reaches_the_gate(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, mode="non-inferiority", alpha="0.1", power="0.9",
                        method="paired_t", resamples="999", seed="3", format="auto",
                        filter="")
    assert code == 0
    report = json.loads(Path(out["report_json"]).read_text())
    assert (report["mode"], report["alpha"], report["power"]) == ("non-inferiority", 0.1, 0.9)
    assert report["comparison"]["method"] == "paired_t"


def test_a_crash_exits_70_and_never_reads_as_reject(tmp_path: Path) -> None:
    fake = tmp_path / "evalsig"
    fake.write_text("#!/bin/sh\necho 'Traceback (most recent call last):' >&2\n"
                    "echo 'ImportError: no module named numpy' >&2\nexit 1\n")
    fake.chmod(0o755)
    code, out, log = _run(tmp_path, evalsig=str(fake))
    assert code == 70
    assert out["verdict"] == "ERROR" and out["exit_code"] == "70"
    assert "ImportError: no module named numpy" in out["error"]
    assert "::error" in log


def test_a_missing_evalsig_is_a_crash_not_a_verdict(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, evalsig=str(tmp_path / "nowhere"))
    assert code == 70 and out["verdict"] == "ERROR"


def test_a_missing_input_keeps_its_exit_code_66(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, baseline=str(tmp_path / "nope.json"))
    assert code == 66 and out["verdict"] == "ERROR" and out["exit_code"] == "66"
    assert "nope.json" in out["error"]


def test_a_usage_error_exits_64(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, alpha="1.5")
    assert code == 64 and out["verdict"] == "ERROR"


def test_comment_is_posted_once_then_updated_in_place(tmp_path: Path,
                                                      github: FakeGitHub) -> None:
    # 150 unrelated comments push ours to page 2 of the API's pages of 100.
    github.comments = [{"id": i, "body": f"hello {i}"} for i in range(150)]
    env = {"GITHUB_API_URL": github.url, "github_token": "t0ken", "pr_number": "7"}
    assert _run(tmp_path, **env)[0] == 0
    posts = [r for r in github.requests if r[0] == "POST"]
    assert len(posts) == 1 and len(github.comments) == 151
    github.requests.clear()
    code, _, _ = _run(tmp_path, candidate=str(EXAMPLES / "regressed.json"), **env)
    assert code == 1
    assert [r[0] for r in github.requests] == ["GET", "GET", "PATCH"]
    assert len(github.comments) == 151
    assert "❌ REJECT" in github.comments[-1]["body"]


def test_a_gate_the_doctor_refuses_replaces_the_verdict_comment(tmp_path: Path,
                                                                github: FakeGitHub) -> None:
    # An ALLOW comment, then a push whose candidate path points at the baseline (E116): the
    # step failed with 65 but the PR comment still said ALLOW.
    env = {"GITHUB_API_URL": github.url, "github_token": "t0ken", "pr_number": "7"}
    assert _run(tmp_path, **env)[0] == 0
    assert "✅ ALLOW" in github.comments[-1]["body"]
    github.requests.clear()
    code, out, _ = _run(tmp_path, candidate=str(EXAMPLES / "baseline.json"), **env)
    assert code == 65 and out["verdict"] == "ERROR" and out["exit_code"] == "65"
    assert [r[0] for r in github.requests] == ["GET", "PATCH"] and len(github.comments) == 1
    body = github.comments[-1]["body"]
    assert "not gated: doctor errors" in body and "E116" in body and "ALLOW" not in body
    assert "E116" in (tmp_path / "summary.md").read_text()


def test_a_missing_candidate_replaces_the_verdict_comment(tmp_path: Path,
                                                          github: FakeGitHub) -> None:
    """A gate whose candidate is missing (66) wrote a refusal without the task in its marker
    and the action posted nothing: the PR kept showing the earlier ALLOW. The refusal now
    carries the baseline's task and metric, and replaces that comment in place."""
    env = {"GITHUB_API_URL": github.url, "github_token": "t0ken", "pr_number": "7"}
    assert _run(tmp_path, **env)[0] == 0
    github.requests.clear()
    code, out, _ = _run(tmp_path, candidate=str(tmp_path / "missing.json"), **env)
    assert code == 66 and out["exit_code"] == "66"
    assert [r[0] for r in github.requests] == ["GET", "PATCH"] and len(github.comments) == 1
    body = github.comments[-1]["body"]
    assert "not gated" in body and "missing.json" in body and "ALLOW" not in body


def test_a_usage_error_posts_no_comment(tmp_path: Path, github: FakeGitHub) -> None:
    """A usage error read no run: its marker cannot name the task, so it comments nothing."""
    code, _, _ = _run(tmp_path, GITHUB_API_URL=github.url, github_token="t0ken", pr_number="7",
                      alpha="1.5")
    assert code == 64 and github.requests == []


def test_pr_number_comes_from_the_event(tmp_path: Path, github: FakeGitHub) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    code, _, _ = _run(tmp_path, GITHUB_API_URL=github.url, GITHUB_EVENT_PATH=str(event),
                      github_token="t0ken")
    assert code == 0 and [r[0] for r in github.requests] == ["GET", "POST"]


def test_a_failing_comment_api_never_changes_the_verdict(tmp_path: Path,
                                                         github: FakeGitHub) -> None:
    github.fail = True
    code, out, log = _run(tmp_path, GITHUB_API_URL=github.url, github_token="t0ken",
                          pr_number="7", candidate=str(EXAMPLES / "regressed.json"))
    assert code == 1 and out["verdict"] == "REJECT"
    assert "::warning::" in log


def test_no_token_no_request(tmp_path: Path, github: FakeGitHub) -> None:
    assert _run(tmp_path, GITHUB_API_URL=github.url, pr_number="7")[0] == 0
    assert github.requests == []


def test_the_column_inputs_reach_the_gate(tmp_path: Path) -> None:
    # a CSV with its own column names: the action had no input for them
    for name, flip in (("b", 0), ("c", 3)):
        rows = [f"q{i},{(i % 2) ^ (i % 7 == flip)},P{i % 8}" for i in range(40)]
        (tmp_path / f"{name}.csv").write_text("sample,reward,group\n" + "\n".join(rows) + "\n")
    code, out, log = _run(tmp_path, baseline=str(tmp_path / "b.csv"),
                          candidate=str(tmp_path / "c.csv"), metric="", cluster="",
                          id_col="sample", score_col="reward", cluster_col="group",
                          min_delta="0")
    assert code in (0, 1, 2) and out["verdict"] in ("ALLOW", "REJECT", "INCONCLUSIVE"), log
    report = json.loads(Path(out["report_json"]).read_text())
    assert report["cluster"] == "group" and report["comparison"]["n_clusters"] == 8


def _action() -> dict[str, Any]:
    return yaml.safe_load((REPO / "action.yml").read_text())


def test_action_has_an_input_for_every_gate_flag() -> None:
    gate = _subparsers(build_parser())["gate"]
    flags = {a.dest for a in gate._actions if a.option_strings and a.dest != "help"}
    reports = {"output", "json", "markdown", "html", "allow_failed_run"}
    assert flags - reports <= set(_action()["inputs"])


def test_action_outputs_and_install_of_its_own_version() -> None:
    action = _action()
    assert {"verdict", "exit_code", "delta", "p_value", "mde", "report_json",
            "report_md"} <= set(action["outputs"])
    runs = "\n".join(s.get("run", "") for s in action["runs"]["steps"])
    assert 'pip install --quiet "${{ github.action_path }}"' in runs
    assert "scripts/action.sh" in runs
    gate_env = next(s for s in action["runs"]["steps"] if s.get("id") == "gate")["env"]
    for name in action["inputs"]:
        if name != "python_version":
            assert f"INPUT_{name.upper()}" in gate_env


def test_documented_workflow_uses_the_action_and_real_inspect_commands() -> None:
    text = (REPO / "docs" / "github-workflow.yml").read_text()
    doc = yaml.safe_load(text)
    steps = doc["jobs"]["gate"]["steps"]
    gate = next(s for s in steps if s.get("id") == "gate")
    assert set(gate["with"]) <= set(_action()["inputs"])
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "inspect log export" not in runs and "evalsig doctor" in runs
