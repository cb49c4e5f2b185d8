"""A gate or compare the doctor refuses says so once: the doctor report on stderr, not the
report and then its first error again as an `evalsig: error:` line."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core.cli import main
from tests.conftest import write_runframe


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    ids = [f"q{i}" for i in range(40)]
    b = write_runframe(tmp_path / "b.json", ids, [float("nan")] + [i % 2 for i in range(1, 40)])
    c = write_runframe(tmp_path / "c.json", ids, [1] * 40)
    return b, c


@pytest.mark.parametrize("command", ["gate", "compare"])
def test_a_refusal_is_said_once_on_stderr(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b, c = _runs(tmp_path)
    outputs = tmp_path / "out"
    env = {"GITHUB_OUTPUT": str(outputs)}
    args = (["gate", "--baseline", str(b), "--candidate", str(c), "--min-delta", "0"]
            if command == "gate" else ["compare", str(b), str(c)])
    assert main(args, env) == 65
    err = capsys.readouterr().err
    assert err.startswith("evalsig doctor: ERRORS") and "evalsig: error:" not in err
    assert err.count("1 non-finite score (NaN/Infinity)") == 1
    # the workflow still learns why (step outputs as before)
    out = outputs.read_text()
    assert "verdict=ERROR" in out and "exit_code=65" in out and "non-finite score" in out
