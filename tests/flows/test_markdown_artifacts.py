"""The flows' Markdown artifacts with hostile names: the report artifact's stored-report line
and the promotion summary show every name in full and add no markup (see tests/mdcheck.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from evalsig_core.render import render_gate
from evalsig_flows.ci_records import GateRecord
from evalsig_flows.promotion import promotion_artifact
from evalsig_flows.tasks import report_artifact
from tests.core.render.cases import gate_allow
from tests.mdcheck import HOSTILE, check_tables, headings, parse, visible


@pytest.mark.parametrize("value", HOSTILE)
def test_the_report_artifact_shows_a_hostile_uri_as_text(value: str) -> None:
    uri = f"s3://bucket/ci/{value}/report.json"
    markdown = report_artifact(render_gate(gate_allow(), "markdown"), uri)
    parsed = parse(markdown)
    assert headings(parsed) == ["EVALSIG release gate ✅ ALLOW"]
    assert check_tables(parsed, markdown) > 0
    assert visible(parsed, f"Stored report: {uri}")


@pytest.mark.parametrize("value", HOSTILE)
def test_the_promotion_artifact_shows_hostile_names_as_text(value: str) -> None:
    rec = GateRecord(decision_id=None, verdict="ALLOW", repo=f"acme/{value}", pr_number=None,
                     commit=f"{value} c0ffee", suite=value, task=value, metric=value,
                     time=datetime(2026, 1, 1, tzinfo=UTC))
    e: dict[str, Any] = {"status": "promoted", "version_sha256": f"{value}abcdef0123456789",
                         "pointer": f"baselines/{value}/current.json", "sequence": 3,
                         "previous_sha256": None}
    parsed = parse(promotion_artifact(f"acme/{value}", rec, e))
    assert headings(parsed) == ["evalsig promotion: promoted"]
    for shown in (f"acme/{value}", f"{value} c0ffee", rec.entry,
                  f"{value}abcdef0123456789"[:12], f"baselines/{value}/current.json"):
        assert visible(parsed, shown), shown
    assert visible(parsed, "sequence 3); previous none.")
