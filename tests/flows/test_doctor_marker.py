"""A gate the doctor refuses publishes under the marker its verdict would carry (as the CLI).

The PR comment logic (scripts/action.sh) finds the comment to update by the report's first
line. The flows stored and published the refusal under `kind=doctor`, so a comment that showed
an earlier ALLOW of the same entry would stay up as if still true.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalsig_core.render import MARKER
from tests.conftest import write_runframe

pytestmark = pytest.mark.usefixtures("prefect_api")


def _artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [latest, *_] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return str(latest.data)


def _gate(tmp_path: Path, base_scores: list[float], name: str) -> tuple[object, Path]:
    from evalsig_flows.flows import gate_flow

    tmp_path.mkdir()
    ids = [f"i{k}" for k in range(40)]
    b = write_runframe(tmp_path / "b.json", ids, base_scores, metric="exact_match")
    c = write_runframe(tmp_path / "c.json", ids, [1.0] * 40, metric="exact_match")
    store = tmp_path / "store"
    state = gate_flow(baseline=str(b), candidate=str(c), min_delta=0.0, metric="exact_match",
                      store=store.as_uri(), name=name, return_state=True)
    return state, store


def test_a_doctor_refusal_is_stored_and_published_under_the_gates_marker(
        tmp_path: Path) -> None:
    allowed, store_a = _gate(tmp_path / "a", [0.0, 1.0] * 20, "marker-allow")
    assert allowed.is_completed(), allowed.message  # type: ignore[attr-defined]
    [gate_md] = (store_a / "reports").rglob("report.md")
    gate_line = gate_md.read_text().splitlines()[0]
    assert gate_line.startswith(MARKER) and "metric=exact_match" in gate_line

    refused, store_r = _gate(tmp_path / "r", [0.0, float("nan")] * 20, "marker-doctor")
    assert refused.name == "DoctorErrors", refused.message  # type: ignore[attr-defined]
    [doctor_md] = (store_r / "reports").rglob("report.md")
    assert doctor_md.read_text().splitlines()[0] == gate_line  # was "... kind=doctor -->"
    assert "not gated: doctor errors" in doctor_md.read_text()
    assert _artifact("evalsig-report-marker-doctor").splitlines()[0] == gate_line
