"""Suite entries with a usage error: exit 64 naming the file and the entry, never the suite's
INCONCLUSIVE (2) — DESIGN.md: usage errors must never exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core import UsageError, run_suite_file
from evalsig_core.cli import main
from tests.conftest import EXAMPLES


def _suite(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "suite.toml"
    p.write_text(f"""[suite]
min_delta = 0.005
cluster = "passage_id"
[[entry]]
name = "good"
baseline = "{EXAMPLES / 'baseline.json'}"
candidate = "{EXAMPLES / 'candidate.json'}"
[[entry]]
name = "bad"
baseline = "{EXAMPLES / 'baseline.json'}"
candidate = "{EXAMPLES / 'candidate.json'}"
{extra}
""")
    return p


@pytest.mark.parametrize(("extra", "message"), [
    # an unknown format was read per entry: "not gated: bad", suite INCONCLUSIVE, exit 2
    ('format = "bogus"', "unknown format 'bogus'"),
    # a method that conflicts with the cluster key, found while gating the entry
    ('method = "mcnemar"', "suite entry 'bad': method mcnemar takes no cluster key"),
])
def test_a_usage_error_in_one_entry_exits_64_not_inconclusive(
        tmp_path: Path, extra: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    p = _suite(tmp_path, extra)
    with pytest.raises(UsageError, match=message) as info:
        run_suite_file(p)
    assert str(p) in str(info.value)
    assert main(["suite", str(p)], {}) == 64
    assert message.split(":")[-1].strip() in capsys.readouterr().err


def test_an_entry_with_bad_data_still_makes_the_suite_inconclusive(tmp_path: Path) -> None:
    # data problems (65/66) stay entry errors, as DESIGN.md's suite verdict says
    p = _suite(tmp_path, "").read_text().replace(
        f"candidate = \"{EXAMPLES / 'candidate.json'}\"\n\n", "candidate = \"missing.json\"\n")
    (tmp_path / "suite.toml").write_text(p)
    report = run_suite_file(tmp_path / "suite.toml")
    assert report.verdict.value == "INCONCLUSIVE"
    assert [e.error_code for e in report.entries] == [None, 66]


def test_a_run_path_with_a_nul_character_is_a_usage_error_naming_the_entry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # TOML's "\u0000" in a baseline path reached os.stat: "internal error: ValueError:
    # embedded null byte" (exit 70)
    text = _suite(tmp_path, "").read_text().replace(
        f"candidate = \"{EXAMPLES / 'candidate.json'}\"\n\n", 'candidate = "c\\u0000.json"\n')
    (tmp_path / "suite.toml").write_text(text)
    assert main(["suite", str(tmp_path / "suite.toml")], {}) == 64
    err = capsys.readouterr().err
    assert "suite entry 'bad'" in err and "NUL character" in err and "internal" not in err
