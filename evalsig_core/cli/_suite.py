"""`evalsig suite FILE.toml`: gate every entry; exit with the suite verdict's code."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ..render import OUTPUTS, render_suite
from ..suite import run_suite_file
from ..suite_file import read_suite_spec

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("suite", help="gate every entry of a TOML suite file (exit 0 / 1 / 2)")
    p.add_argument("suite_file", help="suite TOML: [suite] defaults and [[entry]] tables")
    p.add_argument("--correction", choices=["holm", "bh"],
                   help="multiplicity correction for superiority entries (default: the "
                   "suite file's [suite] correction, else holm)")
    p.add_argument("--output", default="tty", choices=OUTPUTS, help="stdout format (default tty)")
    p.add_argument("--json", metavar="PATH", help="also write the suite report as JSON (on "
                   "an error: the error, as a doctor report)")
    p.add_argument("--markdown", metavar="PATH", help="also write the suite report as Markdown")
    p.add_argument("--html", metavar="PATH", help="also write the suite report as HTML")
    p.set_defaults(handler=cmd_suite)


def cmd_suite(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from ._commands import _emit, check_output_paths, github_publish  # _commands imports us

    spec = read_suite_spec(args.suite_file)  # read once: for the report paths and the gates
    check_output_paths(args, spec)
    report = run_suite_file(args.suite_file, correction=args.correction, spec=spec)
    _emit(args, env, render_suite, report,
          publish=lambda: github_publish(report, env, args, render_suite))
    return report.exit_code
