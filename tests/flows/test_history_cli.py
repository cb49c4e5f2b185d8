"""`evalsig history` and `evalsig audit verify` on file:// and (through the plugin) S3 stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evalsig_core.cli import main
from evalsig_flows.audit_log import append_record
from evalsig_flows.store import Store, open_store
from tests.flows.conftest import S3Server


def _trail(store: Store, n: int = 3) -> None:
    for i in range(n):
        append_record(store, {"decision_id": f"d-{i}", "decision": "gate",
                              "time": datetime.now(UTC), "verdict": "ALLOW", "exit_code": 0,
                              "context": {"suite": "s", "task": "t", "repo": "acme/m",
                                          "commit": "abc1234"}})


def test_history_lists_decisions_newest_first(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _trail(open_store(tmp_path.as_uri()))
    assert main(["history", "--store", tmp_path.as_uri(), "--output", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["decision_id"] for r in rows] == ["d-2", "d-1", "d-0"]
    assert main(["history", "--store", str(tmp_path), "--limit", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "d-2" in out[0] and "s/t acme/m@abc1234" in out[0]


def test_audit_verify_passes_then_finds_an_edited_record(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _trail(open_store(tmp_path.as_uri()))
    assert main(["audit", "verify", "--store", tmp_path.as_uri()]) == 0
    assert "audit chain OK: 3 records" in capsys.readouterr().out
    victim = next(p for p in (tmp_path / "audit").rglob("d-1-*.json"))
    victim.write_bytes(victim.read_bytes().replace(b'"ALLOW"', b'"REJECT"'))
    assert main(["audit", "verify", "--store", tmp_path.as_uri()]) == 65
    err = capsys.readouterr().err
    assert "d-1-2.json" in err and "edited" in err


def test_audit_verify_finds_a_deleted_head_with_records_left(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Deleting audit/head.json made the whole trail verify as "OK: 0 records" (exit 0).
    _trail(open_store(tmp_path.as_uri()))
    (tmp_path / "audit" / "head.json").unlink()
    assert main(["audit", "verify", "--store", tmp_path.as_uri()]) == 65
    assert "head.json is missing but 3 audit records exist" in capsys.readouterr().err
    assert main(["history", "--store", tmp_path.as_uri()]) == 65  # not "no decisions recorded"
    assert "no decisions recorded" not in capsys.readouterr().out


def test_history_json_on_a_deleted_head_prints_no_text_on_stdout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--output json` printed "audit chain BROKEN: no head (...)" on stdout: not JSON
    _trail(open_store(tmp_path.as_uri()))
    (tmp_path / "audit" / "head.json").unlink()
    assert main(["history", "--store", tmp_path.as_uri(), "--output", "json"]) == 65
    out, err = capsys.readouterr()
    assert out == "" and "head.json is missing but 3 audit records exist" in err


def test_an_empty_store_has_no_history_and_verifies(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--store", tmp_path.as_uri()]) == 0
    assert "no decisions recorded" in capsys.readouterr().out
    assert main(["audit", "verify", "--store", tmp_path.as_uri()]) == 0


def test_a_scheme_without_a_plugin_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--store", "gs://bucket/x"]) == 64
    assert "evalsig[flows]" in capsys.readouterr().err


def test_history_and_verify_read_s3_through_the_store_plugin(s3_server: S3Server,
                                                             s3_uri: str) -> None:
    _trail(open_store(s3_uri), 2)
    env = dict(os.environ)
    run = [sys.executable, "-m", "evalsig_core.cli"]
    hist = subprocess.run([*run, "history", "--store", s3_uri, "--output", "json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert hist.returncode == 0, hist.stderr
    assert [r["decision_id"] for r in json.loads(hist.stdout)] == ["d-1", "d-0"]
    ok = subprocess.run([*run, "audit", "verify", "--store", s3_uri], env=env,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "2 records" in ok.stdout
    bad = subprocess.run([*run, "history", "--store", s3_uri], capture_output=True, text=True,
                         env=env | {"EVALSIG_S3_SECRET_ACCESS_KEY": "wrong"}, timeout=120)
    assert bad.returncode == 74 and "access denied" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("key", ["../x.json", "/etc/passwd", "audit/", "", "a\x00b"])
def test_a_tampered_head_in_s3_is_a_broken_trail_as_in_a_directory(
        s3_server: S3Server, s3_uri: str, key: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A head naming a key no record can have was, on S3, "invalid store key" (a usage error,
    64) or, with a NUL, "the server refused the read" (74): a `file://` store said 65."""
    store = open_store(s3_uri)
    _trail(store, 2)
    head = json.loads(store.get("audit/head.json"))
    store.put("audit/head.json", json.dumps(head | {"key": key}).encode())
    for argv in (["history", "--store", s3_uri], ["audit", "verify", "--store", s3_uri]):
        assert main(argv) == 65, argv
        err = capsys.readouterr().err
        assert "invalid key in audit record" in err and s3_uri in err, err
