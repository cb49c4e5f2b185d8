"""--config and --no-config are options of `evalsig` itself: they go before the command.

The pre-parser read them anywhere in argv, so `evalsig gate --config missing.toml ...` (a
place the parser does not accept them) exited 66 "config file not found", and with a file
that exists it read the file before the parser refused the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core.cli import main

GATE = ["gate", "--baseline", "b.json", "--candidate", "c.json", "--min-delta", "0"]


@pytest.mark.parametrize("flags", [
    ["--config", "missing.toml"], ["--config=missing.toml"], ["--no-config"],
])
def test_after_the_command_is_a_usage_error_naming_the_fix(
        flags: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*GATE, *flags], {}) == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config file not found" not in err
    assert f"{flags[0].split('=')[0]} goes before the command" in err
    assert "put it before the command: evalsig " in err


def test_before_the_command_it_is_still_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--config", "missing.toml", *GATE], {}) == 66
    assert "missing.toml: config file not found" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("alpha = 7\n")
    assert main(["--config", "bad.toml", *GATE], {}) == 64  # the file was read
    assert "bad.toml" in capsys.readouterr().err


def test_a_file_named_like_the_flag_after_the_separator_is_an_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # after `--` every argument is a positional: a run file called --no-config is not a flag
    monkeypatch.chdir(tmp_path)
    assert main(["doctor", "b.json", "--", "--no-config"], {}) == 66
    assert "E101: --no-config: file not found" in capsys.readouterr().out


def test_a_plugin_commands_arguments_are_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # `evalsig webhook` passes its arguments through: evalsig read `--config x.toml` among
    # them as its own config (66 "not found"); the plugin's parser now answers for them
    pytest.importorskip("evalsig_flows.webhook")
    monkeypatch.chdir(tmp_path)
    assert main(["webhook", "serve", "--config", "x.toml"], {}) == 64
    err = capsys.readouterr().err
    assert "evalsig webhook: error: unrecognized option --config" in err
    assert "config file not found" not in err and "goes before the command" not in err
