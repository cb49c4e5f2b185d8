"""doctor, compare, gate and watch take their two runs either way: as the first two arguments
(the seed workflow's `evalsig doctor baseline.json candidate.json`) or with --baseline and
--candidate (its `evalsig gate --baseline ... --candidate ...`). Before, `compare --baseline`
and `gate b.json c.json` were usage errors, and a user had to remember which command takes
which form."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

_EXTRA = {"doctor": [], "compare": ["--resamples", "200"],
          "gate": ["--min-delta", "0.005", "--resamples", "200"],
          "watch": ["--min-delta", "0.005"]}


_run = run_cli


@pytest.fixture
def runs(tmp_path: Path, examples: Path) -> tuple[str, str]:
    for name in ("baseline.json", "candidate.json"):
        shutil.copy(examples / name, tmp_path / name)
    return str(tmp_path / "baseline.json"), str(tmp_path / "candidate.json")


def _report(argv: list[str]) -> tuple[int, dict[str, object]]:
    code, out, err = _run([*argv, "--output", "json"])
    assert code in (0, 1, 2), err
    report = json.loads(out)
    report.pop("created_at", None)
    return code, report


@pytest.mark.parametrize("command", list(_EXTRA))
def test_both_forms_give_the_same_report(command: str, runs: tuple[str, str]) -> None:
    b, c = runs
    positional = _report([command, b, c, *_EXTRA[command]])
    flags = _report([command, "--baseline", b, "--candidate", c, *_EXTRA[command]])
    mixed = _report([command, "--candidate", c, b, *_EXTRA[command]])
    assert positional == flags == mixed


@pytest.mark.parametrize("command", list(_EXTRA))
def test_a_run_given_twice_is_a_usage_error_naming_both(command: str,
                                                        runs: tuple[str, str]) -> None:
    b, c = runs
    code, out, err = _run([command, "--baseline", b, c, *_EXTRA[command]])
    assert code == 64 and out == ""
    line, = err.strip().splitlines()
    assert f"the baseline run is given twice: {c!r} as the first argument and --baseline " \
           f"{b!r}" in line


@pytest.mark.parametrize("command", list(_EXTRA))
def test_a_missing_run_is_a_usage_error(command: str, runs: tuple[str, str]) -> None:
    b, _ = runs
    code, _, err = _run([command, b, *_EXTRA[command]])
    assert code == 64 and "the candidate run file is missing" in err
    code, _, err = _run([command, *_EXTRA[command]])
    assert code == 64 and "the baseline and candidate run files are missing" in err


def test_a_positional_run_is_never_overwritten_by_a_report(runs: tuple[str, str]) -> None:
    b, c = runs
    before = Path(b).read_bytes()
    code, _, err = _run(["gate", b, c, "--min-delta", "0.005", "--json", b])
    assert code == 64 and "is the baseline" in err
    # a command line that does not parse (--alpha abc) re-reads its paths leniently to write
    # the refusal: the positional baseline is still known as an input, not a report path
    code, _, err = _run(["gate", b, c, "--min-delta", "0.005", "--alpha", "abc", "--json", b])
    assert code == 64
    assert Path(b).read_bytes() == before
    # a run given both ways: which one is the input? The refusal is written nowhere (keeping
    # only the flag's path let `--json` overwrite the positional run with the refusal)
    code, _, err = _run(["gate", "--baseline", c, b, c, "--min-delta", "0.005", "--json", b])
    assert code == 64 and "given twice" in err
    assert Path(b).read_bytes() == before
