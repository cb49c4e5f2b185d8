"""The Markdown reports (PR comments, Prefect artifacts) with hostile data in every field
that comes from the user's files: the data shows, in full, and adds no markup.

Each report of tests/core/render/cases.py gets the same hostile value, tagged with the
field's name, in every such field (model, run id, file, format, task, metric, cluster,
entry names, finding codes, messages, hints, examples, files, reasons, notes, ...); the
value comes first in one round and last in the other, as the start and the end of a value
are where it meets the template's own text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from evalsig_core import EvalRun, Policy, diagnose, gate
from evalsig_core.findings import printable
from evalsig_core.render import (
    render_compare,
    render_doctor,
    render_gate,
    render_suite,
    render_watch,
)
from evalsig_core.report import Finding, RunSummary, Severity
from tests.core.render import cases
from tests.mdcheck import HOSTILE, check_tables, headings, parse, visible

Tagger = Callable[[str], str]


def _summary(s: RunSummary, t: Tagger, role: str) -> RunSummary:
    return s.model_copy(update={k: t(f"{role}-{k}") for k in
                                ("source", "format", "model", "run_id", "task", "metric")})


def _findings(t: Tagger, where: str) -> list[Finding]:
    return [Finding(code=t(f"{where}-code"), severity=sev, message=t(f"{where}-message-{sev}"),
                    hint=t(f"{where}-hint-{sev}"), file=t(f"{where}-file-{sev}"),
                    examples=[t(f"{where}-ex1-{sev}"), t(f"{where}-ex2-{sev}")])
            for sev in (Severity.ERROR, Severity.WARNING)]


def _comparison(c: Any, t: Tagger, where: str) -> Any:
    return c.model_copy(update={"method_reason": t(f"{where}-method_reason"),
                                "notes": [t(f"{where}-note")]})


def _report(r: Any, t: Tagger, where: str) -> Any:
    """A gate or compare report with every user field hostile."""
    update: dict[str, Any] = {
        "metric": t(f"{where}-metric"), "cluster": t(f"{where}-cluster"),
        "findings": _findings(t, where), "comparison": _comparison(r.comparison, t, where),
        "baseline": _summary(r.baseline, t, f"{where}-baseline"),
        "candidate": _summary(r.candidate, t, f"{where}-candidate")}
    if "reason" in type(r).model_fields:
        update |= {"reason": t(f"{where}-reason"), "suggestion": t(f"{where}-suggestion")}
    return r.model_copy(update=update)


def _suite(t: Tagger) -> Any:
    r = cases.suite_report()
    entries = [e.model_copy(update={
        "name": t(f"entry{i}-name"), "error": t(f"entry{i}-error") if e.error else None,
        "report": _report(e.report, t, f"entry{i}") if e.report else None})
        for i, e in enumerate(r.entries)]
    return r.model_copy(update={"entries": entries, "reason": t("suite-reason"),
                                "correction": t("suite-correction")})


def _doctor(t: Tagger) -> Any:
    return cases.doctor_errors().model_copy(update={"findings": _findings(t, "doctor")})


def _watch(t: Tagger) -> Any:
    return cases.watch_result().model_copy(update={"reason": t("watch-reason"),
                                                   "unit": t("watch-unit")})


BUILD: dict[str, tuple[Callable[[Tagger], Any], Callable[..., str], str]] = {
    "gate": (lambda t: _report(cases.gate_inconclusive(), t, "gate"), render_gate,
             "EVALSIG release gate ⚠️ INCONCLUSIVE"),
    "compare": (lambda t: _report(cases.compare_report(), t, "compare"), render_compare,
                "EVALSIG comparison (no policy)"),
    "suite": (_suite, render_suite, "EVALSIG suite gate ❌ REJECT"),
    "doctor": (_doctor, render_doctor, "evalsig doctor ❌ errors"),
    "watch": (_watch, render_watch, "EVALSIG watch ⚠️ INCONCLUSIVE"),
}
# fields a Markdown report does not show: a run's task, and its metric (the report's is
# shown); a suite shows its entries' statistics and findings, not their runs or metric
UNSHOWN = re.compile(r".*-task$|.*-(baseline|candidate)-metric$"
                     r"|entry\d-(metric|baseline|candidate)")


@pytest.mark.parametrize("first", [True, False], ids=["value-first", "value-last"])
@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("kind", list(BUILD))
def test_hostile_values_show_in_full_and_add_no_markup(kind: str, value: str,
                                                       first: bool) -> None:
    build, render, heading = BUILD[kind]
    tagged: dict[str, str] = {}

    def tag(name: str) -> str:
        tagged[name] = f"{value} {name}" if first else f"{name} {value}"
        return tagged[name]

    markdown = render(build(tag), "markdown")
    parsed = parse(markdown)
    assert headings(parsed) == [heading], markdown
    assert markdown.splitlines()[0].endswith(" -->")
    assert check_tables(parsed, markdown) > 0
    missing = [text for name, text in tagged.items()
               if not UNSHOWN.match(name) and not visible(parsed, text)]
    assert not missing, f"not shown in full: {missing}\n\n{markdown}"


def test_a_refusal_keeps_its_marker_and_heading_with_hostile_marker_fields() -> None:
    hostile = " ".join(HOSTILE)
    markdown = render_doctor(cases.doctor_errors(), "markdown",
                             gate={"kind": None, "metric": hostile, "task": hostile})
    parsed = parse(markdown)
    assert headings(parsed) == ["EVALSIG release gate ❌ not gated: doctor errors"]
    assert markdown.startswith("<!-- evalsig-report metric=")


def test_a_real_gate_on_hostile_runs() -> None:
    """Not a patched report: item ids, cluster values, names and the metric come from the
    runs, and the doctor's own findings quote them (W201 names the unpaired items)."""
    hostile = "<!-- x\n## pwned [c](http://evil) @org/team `|`"
    ids = [f"{hostile} {i}" for i in range(40)]
    clusters = [f"{hostile} c{i // 4}" for i in range(40)]
    base = [float(i % 3 == 0) for i in range(40)]
    b = EvalRun.from_arrays(ids, base, clusters=clusters, model=hostile, task=hostile,
                            metric=hostile, run_id=hostile)
    c = EvalRun.from_arrays(ids[1:], base[1:], clusters=clusters[1:], model=hostile,
                            task=hostile, metric=hostile, run_id=hostile)
    report = gate(b, c, Policy(min_delta=0.0, cluster="cluster"))
    markdown = render_gate(report, "markdown")
    parsed = parse(markdown)
    assert len(headings(parsed)) == 1
    check_tables(parsed, markdown)
    # the unpaired item, quoted by W201 (its newline escaped by `finding`), and the names
    assert visible(parsed, printable(f"{hostile} 0"))
    assert visible(parsed, f"mean {hostile} (all items)")
    doctor = render_doctor(diagnose(b, c), "markdown")
    parsed = parse(doctor)
    assert headings(parsed) == ["evalsig doctor ✅ OK"]
    assert visible(parsed, printable(f"{hostile} 0"))
