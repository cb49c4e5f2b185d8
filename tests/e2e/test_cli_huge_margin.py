"""Margins of 1e200 and more: a verdict and clean numbers, no numpy warning, no exit 70.

A non-inferiority or minimum-effect margin of 1e200 squared to inf in the Tango score (mcnemar)
and the wild bootstrap's restricted variance, with a dozen RuntimeWarnings on stderr; at 1.7e308
the interval line's padded axis overflowed and every command ended in "internal error:
ValueError: cannot convert float NaN to integer" (70).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from evalsig_core.cli import main
from tests.conftest import write_runframe

_N = 48
_IDS = [f"q{i}" for i in range(_N)]
_CLUSTERS = [f"P{i % 12}" for i in range(_N)]
_B = [(i * 7 % 11) / 10 for i in range(_N)]
_C = [(i * 5 % 11) / 10 + 0.05 for i in range(_N)]
_BIN_B = [float(i % 3 == 0) for i in range(_N)]
_BIN_C = [float(i % 2 == 0) for i in range(_N)]

# method -> (binary scores?, clustered?)
_METHODS = {
    "paired_t": (False, False), "permutation": (False, False),
    "paired_bootstrap": (False, False), "clustered_t": (False, True),
    "wild_cluster_bootstrap": (False, True), "cluster_bootstrap": (False, True),
    "mcnemar": (True, False),
}
# margin this large: superiority and minimum-effect can never be met, non-inferiority always
_EXIT = {"superiority": 1, "non-inferiority": 0, "minimum-effect": 1}


def _runs(tmp_path: Path, binary: bool) -> tuple[Path, Path]:
    b, c = (_BIN_B, _BIN_C) if binary else (_B, _C)
    return (write_runframe(tmp_path / "b.json", _IDS, b, _CLUSTERS),
            write_runframe(tmp_path / "c.json", _IDS, c, _CLUSTERS))


def _strict(text: str) -> Any:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in the JSON report")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("margin", ["1e200", "1.7e308"])
@pytest.mark.parametrize("mode", list(_EXIT))
@pytest.mark.parametrize("method", list(_METHODS))
def test_a_huge_margin_gates_without_warnings_and_with_strict_json(
        method: str, mode: str, margin: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    binary, clustered = _METHODS[method]
    b, c = _runs(tmp_path, binary)
    args = ["--no-config", "gate", "--baseline", str(b), "--candidate", str(c),
            "--min-delta", margin, "--mode", mode, "--method", method, "--resamples", "499",
            "--output", "json", "--markdown", str(tmp_path / "r.md"),
            "--html", str(tmp_path / "r.html"), *(["--cluster", "passage_id"] * clustered)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning fails the test
        code = main(args, {})
    out, err = capsys.readouterr()
    assert code == _EXIT[mode], err
    doc = _strict(out)
    assert doc["verdict"] == {0: "ALLOW", 1: "REJECT"}[code]
    # against theta0 = -margin (non-inferiority) the data leave no doubt, against +margin
    # (minimum-effect) none either; random draws resolve p to 1 / (499 + 1) at best
    p = doc["comparison"]["p_value"]
    assert {"superiority": 0 <= p <= 1, "non-inferiority": p <= 0.002,
            "minimum-effect": p >= 0.998}[mode]


@pytest.mark.parametrize("output", ["tty", "markdown", "html", "json"])
@pytest.mark.parametrize("mode", list(_EXIT))
def test_watch_takes_the_largest_margin(output: str, mode: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    b, c = _runs(tmp_path, False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["--no-config", "watch", "--baseline", str(b), "--candidate", str(c),
                     "--min-delta", "1.7e308", "--mode", mode, "--output", output], {})
    assert code in (0, 1, 2), capsys.readouterr().err
    if output == "json":
        _strict(capsys.readouterr().out)


def test_the_cli_prints_no_warning_on_stderr_for_a_huge_margin(tmp_path: Path) -> None:
    b, c = _runs(tmp_path, False)
    r = subprocess.run([sys.executable, "-m", "evalsig_core.cli", "--no-config", "gate",
                        "--baseline", str(b), "--candidate", str(c), "--cluster", "passage_id",
                        "--min-delta", "1e200", "--mode", "non-inferiority"],
                       capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


@pytest.mark.parametrize("output", ["tty", "markdown", "html", "json"])
def test_a_suite_takes_huge_margins_in_every_mode(output: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    b, c = _runs(tmp_path, False)
    suite = tmp_path / "suite.toml"
    suite.write_text("".join(
        f'[[entry]]\nname = "{mode}"\nbaseline = "{b.name}"\ncandidate = "{c.name}"\n'
        f'min_delta = {margin}\nmode = "{mode}"\ncluster = "passage_id"\n'
        for mode, margin in (("superiority", "1.7e308"), ("non-inferiority", "1e200"),
                             ("minimum-effect", "1e250"))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["--no-config", "suite", str(suite), "--output", output], {})
    out, err = capsys.readouterr()
    assert code == 1, err  # the superiority and minimum-effect entries REJECT
    if output == "json":
        verdicts = {e["name"]: e["report"]["verdict"] for e in _strict(out)["entries"]}
        assert verdicts == {"superiority": "REJECT", "non-inferiority": "ALLOW",
                            "minimum-effect": "REJECT"}
