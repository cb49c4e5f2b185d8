"""`evalsig suite FILE.toml`: gate every entry; exit with the suite verdict's code.

Prints the SuiteReport as JSON (`--output json`) or a plain table; the Markdown / HTML
renderings of a suite belong to the renderers (evalsig_core/render).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..report import SuiteReport
from ..suite import run_suite_file

__all__ = ["register", "suite_table"]


def register(sub: Any) -> None:
    p = sub.add_parser("suite", help="gate every entry of a TOML suite file (exit 0 / 1 / 2)")
    p.add_argument("suite_file", help="suite TOML: [suite] defaults and [[entry]] tables")
    p.add_argument("--correction", choices=["holm", "bh"],
                   help="multiplicity correction for superiority entries (default holm)")
    p.add_argument("--output", default="table", choices=["table", "json"])
    p.add_argument("--json", metavar="PATH", help="also write the suite report as JSON")
    p.set_defaults(handler=cmd_suite)


def suite_table(report: SuiteReport) -> str:
    """A plain-text table of the entries and the suite verdict."""
    rows = [("entry", "verdict", "delta", "lower", "p", "p adj", "note")]
    for e in report.entries:
        if e.report is None:
            rows.append((e.name, "ERROR", "", "", "", "", e.error or ""))
            continue
        c = e.report.comparison
        low = "-inf" if c.ci.lower is None else f"{c.ci.lower:+.4f}"
        adj = "" if e.p_value_adjusted is None else f"{e.p_value_adjusted:.4g}"
        rows.append((e.name, e.verdict.value if e.verdict else "", f"{c.delta:+.4f}", low,
                     f"{c.p_value:.4g}", adj, e.report.reason))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:6], widths, strict=True)) + "  " + r[6]
             for r in rows]
    lines.append(f"suite: {report.verdict.value} ({report.reason}); correction "
                 f"{report.correction}")
    return "\n".join(lines) + "\n"


def cmd_suite(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    report = run_suite_file(args.suite_file, correction=args.correction)
    text = report.to_json() + "\n"
    sys.stdout.write(text if args.output == "json" else suite_table(report))
    if args.json:
        try:
            Path(args.json).write_text(text, encoding="utf-8")
        except OSError as exc:
            from ..errors import EvalsigError, ExitCode

            err = EvalsigError(f"{args.json}: cannot write: {exc.strerror}")
            err.exit_code = ExitCode.IO
            raise err from None
    return report.exit_code
