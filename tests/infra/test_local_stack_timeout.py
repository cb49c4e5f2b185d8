"""`stack.py up --timeout` bounds the wait for SeaweedFS too (it always waited 60 s, and the
help said so). The stack is started for real up to SeaweedFS (a real Prefect server), whose
start records the wait it was given and stops `up` there; `up` then stops what it started."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_script

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_waits_for_seaweedfs_as_long_as_timeout_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    stack = load_script("infra/local/stack.py")
    real = stack._s3_module()
    given: dict[str, Any] = {}

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def start(self, *args: Any, **kw: Any) -> Any:
            given.update(kw)
            raise SystemExit("SeaweedFS start recorded")

    monkeypatch.setattr(stack, "_s3_module", Recording)
    code = stack.main(["up", "--dir", str(tmp_path), "--prefect-port", str(_free_port()),
                       "--s3-port", "0", "--webhook-port", "0", "--timeout", "123"])
    assert code == 1
    assert "SeaweedFS start recorded" in capsys.readouterr().err
    assert given["timeout"] == 123.0
    assert not (tmp_path / "prefect.pid").exists()  # the Prefect server was stopped again


def test_the_help_says_timeout_covers_seaweedfs(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.infra.test_local_scripts_help import _parser

    ap = _parser("infra/local/stack.py", monkeypatch)
    [action] = [a for a in ap._actions if "--timeout" in a.option_strings]
    assert "SeaweedFS" in (action.help or "") and "60" not in (action.help or "")
