"""The one-line interval drawing, terminal styles and the plot geometry."""

from __future__ import annotations

import json

import pytest

from evalsig_core.render import MARKER, Style, render_gate, report_schema
from evalsig_core.render._format import interval_line
from evalsig_core.render._plot import ForestRow, density, forest
from tests.core.render.cases import gate_allow, gate_with_lower


def test_interval_line_places_delta_bounds_margin_and_zero_in_order() -> None:
    line = interval_line(0.01, 0.03, 0.02, 0.005, width=41, unicode=False)
    lo, cells, hi = line.split(" ")
    assert (lo, hi) == ("-0.003", "+0.033")  # [0, 0.03] padded by 10% of its span each side
    assert len(cells) == 41
    order = [cells.index(ch) for ch in "0|[o]"]
    assert order == sorted(order)


def test_unbounded_end_is_an_arrow_at_the_edge() -> None:
    cells = interval_line(0.01, None, 0.02, 0.005, unicode=False).split(" ")[1]
    assert cells.endswith(">") and "]" not in cells
    cells = interval_line(None, -0.01, -0.02, None, unicode=False).split(" ")[1]
    assert cells.startswith("<")


def test_delta_is_never_hidden_by_another_mark() -> None:
    cells = interval_line(0.0, 0.0, 0.0, 0.0, unicode=False).split(" ")[1]
    assert "o" in cells


def test_plain_style_has_no_escape_codes_and_colour_style_has() -> None:
    report = gate_allow()
    assert "\x1b[" not in render_gate(report, "tty", style=Style(color=False))
    assert "\x1b[32m" in render_gate(report, "tty", style=Style(color=True))


def test_ascii_style_is_pure_ascii() -> None:
    text = render_gate(gate_allow(), "tty", style=Style(unicode=False))
    assert text.isascii()


def test_markdown_starts_with_the_stable_marker_and_keeps_warnings_visible() -> None:
    md = render_gate(gate_allow(), "markdown")
    assert md.startswith(MARKER) and md.splitlines()[0].endswith("-->")
    assert "<details>" in md and "</details>" in md


def test_forest_has_one_row_per_input_and_arrows_for_open_ends() -> None:
    f = forest([ForestRow("a", 0.02, 0.01, None, 0.005, "ALLOW"),
                ForestRow("b", None, None, None, None, note="error 66"),
                ForestRow("c", -0.05, -0.06, -0.04, 0.005, "REJECT")])
    assert [r.row.label for r in f.rows] == ["a", "b", "c"]
    assert f.rows[0].hi_open and f.rows[0].x_hi == f.x1
    assert f.rows[1].x_delta is None
    assert f.rows[2].x_lo < f.rows[2].x_delta < f.rows[2].x_hi < f.x_zero  # type: ignore[operator]


def test_density_prefers_the_resampling_percentiles_when_present() -> None:
    pct = [0.01 + 0.0002 * k for k in range(101)]
    d = density(0.02, 0.004, 50.0, 0.005, percentiles=pct, method="wild_cluster_bootstrap")
    assert d is not None and d.source == "resampling" and "wild_cluster_bootstrap" in d.caption
    assert d.caption.startswith("null distribution")
    boot = density(0.02, 0.004, 50.0, 0.005, percentiles=pct, method="cluster_bootstrap")
    assert boot is not None and boot.caption.startswith("resampling distribution")
    ref = density(0.02, 0.004, 50.0, 0.005)
    assert ref is not None and ref.source == "reference" and "df 50.0" in ref.caption


def test_density_is_absent_when_there_is_nothing_to_draw() -> None:
    assert density(0.0, 0.0, None, None) is None


@pytest.mark.parametrize("kind", ["gate", "doctor", "suite", "compare"])
def test_schema_is_a_json_schema_of_the_report(kind: str) -> None:
    schema = report_schema(kind)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "schema_version" in schema["properties"]
    json.dumps(schema)


@pytest.mark.parametrize("kind", ["compare", "gate"])
def test_schema_says_what_the_allow_fields_are_without_a_decision(kind: str) -> None:
    # compare shares ComparisonResult with gate and makes no decision: its schema said "the
    # lower bound at allow_alpha that ALLOW compared" and "the effect the decision detects".
    props = report_schema(kind)["$defs"]["ComparisonResult"]["properties"]
    for name in ("allow_alpha", "allow_lower"):
        assert "the MDE is measured from" in props[name]["description"], name
    for name in ("allow_alpha", "allow_lower", "mde"):
        text = props[name]["description"]
        assert "in a gate, ALLOW compares it" in text and "decision" not in text, name


def test_gate_json_validates_against_its_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = json.loads(render_gate(gate_allow(), "json"))
    jsonschema.validate(doc, report_schema("gate"))


def test_marker_values_cannot_close_the_comment() -> None:
    report = gate_allow()
    evil = report.model_copy(update={"metric": "acc --> <b>x</b>"})
    first = render_gate(evil, "markdown").splitlines()[0]
    assert first.startswith(MARKER) and first.count("-->") == 1 and first.endswith("-->")


def test_the_drawn_lower_bound_is_the_one_allow_compared() -> None:
    from types import SimpleNamespace

    from evalsig_core.render._format import decision_lower

    ci = SimpleNamespace(lower=0.01)
    assert decision_lower(SimpleNamespace(ci=ci)) == 0.01  # reports without the fields
    assert decision_lower(SimpleNamespace(ci=ci, allow_alpha=None, allow_lower=None)) == 0.01
    stricter = SimpleNamespace(ci=ci, allow_alpha=0.025, allow_lower=-0.002)
    assert decision_lower(stricter) == -0.002
    assert decision_lower(SimpleNamespace(ci=ci, allow_alpha=0.025, allow_lower=None)) is None


def _distribution_caption(html: str) -> str:
    panel = html.split('<svg id="distribution"', 1)[1]
    return panel.split("<figcaption>", 1)[1].split("</figcaption>", 1)[0]


def test_gate_distribution_caption_names_the_margin_only_when_it_is_drawn() -> None:
    report = gate_allow()
    drawn = render_gate(report, "html")
    assert '<line class="margin"' in drawn.split('<svg id="distribution"', 1)[1]
    assert "purple: margin" in _distribution_caption(drawn)
    # a margin 1000 widths of the distribution away is left off the panel's axis
    far = render_gate(report.model_copy(update={"min_delta": 50.0}), "html")
    panel = far.split('<svg id="distribution"', 1)[1].split("</svg>", 1)[0]
    assert '<line class="margin"' not in panel
    caption = _distribution_caption(far)
    assert "purple" not in caption and "margin +50" in caption and "off the plot" in caption


def test_distribution_caption_names_zero_only_when_it_is_drawn() -> None:
    from evalsig_core.render import render_compare
    from tests.core.render.cases import compare_report

    report = compare_report()
    assert "dashed: zero" in _distribution_caption(render_compare(report, "html"))
    # delta 0.5 with SE 0.01 and no margin: the t reference density spans 0.455..0.545
    c = report.comparison.model_copy(update={"delta": 0.5, "se": 0.01, "distribution": None})
    html = render_compare(report.model_copy(update={"comparison": c}), "html")
    panel = html.split('<svg id="distribution"', 1)[1].split("</svg>", 1)[0]
    assert '<line class="zero"' not in panel
    caption = _distribution_caption(html)
    assert "dashed" not in caption and "zero lies off the plot" in caption


def test_watch_plot_caption_names_its_bounds_a_confidence_sequence() -> None:
    from evalsig_core.render import render_watch
    from tests.core.render.cases import watch_result

    html = render_watch(watch_result(), "html")
    caption = html.split("<figcaption>", 1)[1].split("</figcaption>", 1)[0]
    assert "one-sided" not in caption
    assert "always-valid bounds" in caption and "two-sided 95% confidence sequence" in caption


def test_a_p_value_beside_alpha_is_shown_apart_from_it() -> None:
    # paired t with L = +2e-07 > 0 (ALLOW at alpha 0.05): its p-value 0.049999... was shown
    # as "0.0500", and a p of 0.05004 beside an INCONCLUSIVE read the same
    from evalsig_core.render._format import pval

    assert pval(0.04996, None, 0.05) == "0.04996" and pval(0.05004, None, 0.05) == "0.05004"
    assert pval(0.0342, None, 0.05) == "0.0342" and pval(0.04996) == "0.0500"
    r = gate_with_lower(2e-7)
    assert r.verdict.value == "ALLOW" and r.comparison.p_value < 0.05
    for out in ("markdown", "tty", "html"):
        assert "0.0500" not in render_gate(r, out).replace("alpha 0.0500", "")
