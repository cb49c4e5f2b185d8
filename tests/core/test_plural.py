"""A count and its noun agree: "1 error", "2 errors" in findings, reports and messages."""

from __future__ import annotations

from typing import Any

import pytest

from evalsig_core import EvalRun, InputError
from evalsig_core.doctor import diagnose
from evalsig_core.gate import DoctorError
from evalsig_core.numfmt import counted, plural
from evalsig_core.render import Style, render_doctor
from evalsig_core.report import DoctorReport


@pytest.mark.parametrize(("n", "text"), [(0, "0 errors"), (1, "1 error"), (2, "2 errors")])
def test_counted_is_singular_for_one_only(n: int, text: str) -> None:
    assert counted(n, "error") == text


def test_plural_takes_an_irregular_form_and_a_verb() -> None:
    assert counted(1, "entry", "entries") == "1 entry"
    assert counted(3, "entry", "entries") == "3 entries"
    assert plural(1, "is", "are") == "is" and plural(2, "is", "are") == "are"


def _run(ids: list[Any], scores: list[float], **kw: Any) -> EvalRun:
    kw.setdefault("metric", "accuracy")
    return EvalRun.from_arrays(ids, scores, **kw)


def _messages(report: DoctorReport) -> dict[str, str]:
    return {f.code: f.message for f in report.findings}


def _ids(n: int) -> list[str]:
    return [f"q{i}" for i in range(n)]


def test_doctor_findings_of_one_are_singular() -> None:
    scores = [float(i % 2) for i in range(40)]
    bad = [float("nan"), 2.0, 1e300, *scores[3:]]
    b = _run([*_ids(40), "q5"], [*scores, 1.0], n_errored=1, errored_items=("x",))
    c = _run(_ids(40), bad)
    m = _messages(diagnose(b, c))
    assert m["E103"] == "candidate: 1 non-finite score (NaN/Infinity)"
    assert m["E104"] == "baseline: 1 (item, epoch) pair occurs more than once"
    assert m["E115"].startswith("candidate: 1 score beyond +/-")
    assert m["W202"] == "baseline: 1 errored sample was excluded"
    assert m["W210"].startswith("candidate: 2 scores of 'accuracy' are outside")


def test_a_run_with_one_errored_sample_and_nothing_scored() -> None:
    empty = _run([], [], n_errored=1, errored_items=("x",))
    m = _messages(diagnose(_run(["a"], [1]), empty))
    assert m["E105"] == "candidate has no scored items (1 errored sample)"


def test_doctor_report_counts_one_error_and_one_warning() -> None:
    b = _run(_ids(40), [float(i % 2) for i in range(40)], n_errored=1, errored_items=("x",))
    c = _run(_ids(40), [float("nan")] + [float(i % 2) for i in range(1, 40)])
    report = diagnose(b, c)
    assert (len(report.errors), len(report.warnings)) == (1, 1)
    text = render_doctor(report, "tty", style=Style(color=False, unicode=False))
    assert "(1 error, 1 warning)" in text.splitlines()[0]
    assert "<p>1 error, 1 warning.</p>" in render_doctor(report, "html")


def test_an_array_of_one_entry_is_named_in_the_singular() -> None:
    with pytest.raises(InputError, match="scores has 1 entry but item_ids has 2"):
        EvalRun.from_arrays(["a", "b"], [1.0])


def test_a_doctor_error_counts_one_more_error_in_the_singular() -> None:
    ids = _ids(40)
    b = _run(ids, [float("nan")] + [float(i % 2) for i in range(1, 40)])
    c = _run([*ids, "q1"], [float(i % 2) for i in range(40)] + [0.0])
    assert "(+1 more error; run `evalsig doctor`)" in str(DoctorError(diagnose(b, c)))
