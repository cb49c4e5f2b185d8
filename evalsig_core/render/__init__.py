"""Render reports from the pydantic models with jinja2 templates (one per kind and format).

Every format of a kind is rendered from the same report object:
`tty` (plain text, ANSI colour only when the caller's `Style` says so), `markdown` (the PR
comment: table, collapsible details, a hidden marker line), `json` (strict, schema-versioned)
and `html` (one self-contained page with inline SVG plots; no network, no external assets).
The Markdown templates pass every value from the user's files through the filters of
`mdsafe` (`md`, `code`, `html`): data can add no markup, link, HTML or mention to a comment.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..finding_codes import COMMAND_ERROR
from ..numfmt import counted
from ..policy import Mode, null_boundary
from ..report import (
    CompareReport,
    ComparisonResult,
    DoctorReport,
    GateReport,
    SuiteEntry,
    SuiteReport,
)
from ..sequential import WatchResult
from ._format import (
    SEVERITY_COLOR,
    VERDICT_COLOR,
    Style,
    decision_bound,
    decision_lower,
    interval,
    interval_line,
    legend,
    margin_of,
    num,
    pct,
    pval,
    signed,
)
from ._plot import ForestRow, density, forest
from .mdsafe import code_span, html_text, md_text

__all__ = [
    "MARKER", "OUTPUTS", "SCHEMA_KINDS", "Style", "code_span", "html_text", "md_text",
    "render_compare", "render_doctor", "render_gate", "render_suite", "render_watch",
    "report_schema",
]

OUTPUTS = ("tty", "markdown", "json", "html")
# Every Markdown report starts with a hidden line beginning with MARKER, so a CI job can find
# its earlier PR comment and update it in place. The prefix is stable; never change it.
MARKER = "<!-- evalsig-report"
EMOJI = {"ALLOW": "✅", "REJECT": "❌", "INCONCLUSIVE": "⚠️"}
SCHEMA_KINDS: dict[str, type[Any]] = {
    "gate": GateReport, "doctor": DoctorReport, "suite": SuiteReport, "compare": CompareReport,
    "watch": WatchResult,
}


def _marker_value(text: Any) -> str:
    """A value that cannot end or break the hidden marker comment."""
    out = re.sub(r"[^A-Za-z0-9._/:=+-]", "_", str(text))
    return re.sub(r"-{2,}", "-", out)


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("evalsig_core", "render/templates"),
        undefined=StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    )
    env.filters.update(signed=signed, num=num, pval=pval, interval=interval, pct=pct,
                       md=md_text, code=code_span, html=html_text, marker=_marker_value,
                       counted=counted,
                       decision_bound=decision_bound)
    # opt(obj, name): a field newer reports carry (e.g. allow_alpha), None on older ones.
    env.globals.update(opt=lambda obj, name: getattr(obj, name, None), EMOJI=EMOJI,
                       VERDICT_COLOR=VERDICT_COLOR, SEVERITY_COLOR=SEVERITY_COLOR, MARKER=MARKER)
    return env


def _render(name: str, output: str, **ctx: Any) -> str:
    ext = {"markdown": "md", "tty": "txt", "html": "html"}.get(output)
    if ext is None:
        raise ValueError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
    return _env().get_template(f"{name}.{ext}.j2").render(**ctx)


def _json(model: Any) -> str:
    text: str = model.model_dump_json(indent=2)
    # Strict JSON: pydantic writes null for non-finite floats; refuse anything else.
    json.loads(text, parse_constant=_no_constant)
    return text + "\n"


def _no_constant(token: str) -> Any:
    raise ValueError(f"non-standard JSON token {token} in a report")


def _gate_ctx(report: GateReport, style: Style) -> dict[str, Any]:
    c = report.comparison
    margin = margin_of(report)
    return dict(
        r=report, c=c, style=style, margin=margin,
        line=interval_line(decision_lower(c), c.upper_bound, c.delta, margin,
                           unicode=style.unicode),
        legend=legend(style.unicode),
    )


def _plots(c: ComparisonResult, margin: float | None, label: str, verdict: str | None) -> Any:
    row = ForestRow(label=label, delta=c.delta, lower=decision_lower(c), upper=c.upper_bound,
                    margin=margin, verdict=verdict)
    dist = getattr(c, "distribution", None)
    dens = density(c.delta, c.se, c.df, margin, percentiles=dist, method=c.method)
    return forest([row]), dens


def render_gate(report: GateReport, output: str, *, style: Style | None = None) -> str:
    """The gate report as `tty`, `markdown`, `json` or `html` text."""
    if output == "json":
        return _json(report)
    style = style or Style()
    ctx = _gate_ctx(report, style)
    if output == "html":
        label = " / ".join(x for x in (report.candidate.task, report.metric) if x) or "delta"
        ctx["forest"], ctx["density"] = _plots(report.comparison, ctx["margin"], label,
                                               report.verdict.value)
    return _render("gate", output, **ctx)


def render_compare(report: CompareReport, output: str, *, style: Style | None = None) -> str:
    """A comparison without a policy (the `compare` command)."""
    if output == "json":
        return _json(report)
    style = style or Style()
    c = report.comparison
    ctx: dict[str, Any] = dict(
        r=report, c=c, style=style,
        line=interval_line(c.ci_two_sided.lower, c.ci_two_sided.upper, c.delta, None,
                           unicode=style.unicode),
        legend=legend(style.unicode, "two-sided CI", margin=False),
    )
    if output == "html":
        row = ForestRow(label=report.metric or "delta", delta=c.delta,
                        lower=c.ci_two_sided.lower, upper=c.ci_two_sided.upper, margin=None)
        ctx["forest"] = forest([row])
        ctx["density"] = density(c.delta, c.se, c.df, None,
                                 percentiles=getattr(c, "distribution", None), method=c.method)
    return _render("compare", output, **ctx)


# A refusal's heading per command (a marker without `kind` is the gate's):
# (title in Markdown, command in HTML, what was not done, the command to run again).
_REFUSED = {None: ("release gate", "gate", "gated", "gate"),
            "compare": ("comparison", "compare", "compared", "compare"),
            "watch": ("watch", "watch", "decided", "watch"),
            "suite": ("suite gate", "suite", "gated", "run the suite")}


def render_doctor(report: DoctorReport, output: str, *, style: Style | None = None,
                  gate: dict[str, str | None] | None = None) -> str:
    """The doctor's findings; errors and warnings are always shown.

    `gate`: the refusal of a command that decided nothing (a gate the doctor refused, a run
    that could not be read, a usage error), with the marker fields the command's own report
    would carry: `kind` (absent or None for gate; compare, watch, suite), `metric`, `task`.
    The Markdown starts with the same hidden marker line, so a PR comment that showed an
    earlier verdict is replaced by the refusal, and the Markdown and HTML headings say the
    command decided nothing ("not gated: doctor errors"; "error" when the finding is E118, an
    error that is not about the runs). JSON is the doctor report as is.
    """
    if output == "json":
        return _json(report)
    refused = None
    if gate is not None:
        title, command, done, again = _REFUSED[gate.get("kind")]
        why = ("error" if any(f.code == COMMAND_ERROR for f in report.findings)
               else "doctor errors")
        refused = dict(title=title, command=command, done=done, again=again, why=why)
    return _render("doctor", output, r=report, style=style or Style(), gate=gate,
                   refused=refused)


def _entry_row(e: SuiteEntry) -> ForestRow:
    if e.report is None:
        return ForestRow(label=e.name, delta=None, lower=None, upper=None, margin=None,
                         verdict=None, note=f"error {e.error_code or ''}: {e.error or ''}")
    c = e.report.comparison
    return ForestRow(label=e.name, delta=c.delta, lower=decision_lower(c), upper=c.upper_bound,
                     margin=margin_of(e.report), verdict=e.report.verdict.value)


def render_suite(report: SuiteReport, output: str, *, style: Style | None = None) -> str:
    """A suite: one line / row per entry, the combined verdict first."""
    if output == "json":
        return _json(report)
    style = style or Style()
    lines = {}
    for e in report.entries:
        if e.report is not None:
            c, m = e.report.comparison, margin_of(e.report)
            lines[e.name] = interval_line(decision_lower(c), c.upper_bound, c.delta, m,
                                          unicode=style.unicode)
    ctx: dict[str, Any] = dict(r=report, style=style, lines=lines, legend=legend(style.unicode),
                               margin_of=margin_of)
    if output == "html":
        ctx["forest"] = forest([_entry_row(e) for e in report.entries])
    return _render("suite", output, **ctx)


def render_watch(result: WatchResult, output: str, *, style: Style | None = None) -> str:
    """`watch`: the always-valid bounds now, and at each look, against the margin."""
    if output == "json":
        return _json(result)
    style = style or Style()
    # the value drawn as the margin, as margin_of does for a gate report (+ 0.0: never -0.0)
    margin = (result.min_delta if result.mode is Mode.SUPERIORITY
              else null_boundary(result.mode, result.min_delta)) + 0.0
    ctx: dict[str, Any] = dict(
        r=result, style=style, margin=margin,
        line=interval_line(result.lower, result.upper, result.estimate, margin,
                           unicode=style.unicode),
        legend=legend(style.unicode, "always-valid bounds"),
    )
    if output == "html":
        ctx["forest"] = forest([ForestRow(
            label=f"{result.n_units} {result.unit}", delta=result.estimate, lower=result.lower,
            upper=result.upper, margin=margin, verdict=result.verdict.value)])
    return _render("watch", output, **ctx)


def report_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a report kind (`gate`, `doctor`, `suite`, `compare` or `watch`)."""
    try:
        model = SCHEMA_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown report kind {kind!r}") from None
    schema: dict[str, Any] = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
