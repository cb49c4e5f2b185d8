"""A repo or commit SHA with a trailing newline is refused, never keyed.

`re.match(r"^...$")` lets a final "\\n" through (`$` matches before it): the CI gate wrote its
records under `ci/acme/model\\n/...` or `commits/<sha>\\n/`, where no promotion of the real
commit ever finds them, and a newline into store keys and file names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("prefect_api")

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(("repo", "sha"), [("acme/model\n", SHA), ("acme/model", SHA + "\n")])
def test_the_ci_gate_refuses_a_trailing_newline_before_writing_anything(
        tmp_path: Path, repo: str, sha: str) -> None:
    from evalsig_flows.flows import ci_gate_flow

    state = ci_gate_flow(repo=repo, pr_number=3, head_sha=sha, task="qa", metric="accuracy",
                         min_delta=0.005, baseline=str(EXAMPLES / "baseline.json"),
                         candidate=str(EXAMPLES / "candidate.json"), cluster="passage_id",
                         store=tmp_path.as_uri(), return_state=True)
    assert state.is_failed()
    assert state.message.startswith("USAGE ERROR (exit 64): invalid "), state.message
    assert not (tmp_path / "ci").exists() and not (tmp_path / "candidates").exists()


def test_promotion_refuses_a_commit_with_a_trailing_newline(tmp_path: Path) -> None:
    from evalsig_flows.flows import promote_baseline_flow

    state = promote_baseline_flow(repo="acme/model", commit=SHA + "\n",
                                  store=tmp_path.as_uri(), return_state=True)
    assert state.is_failed() and "invalid commit SHA" in state.message, state.message


def test_a_file_name_ending_in_a_newline_keeps_no_newline_in_its_extension() -> None:
    from evalsig_flows.baselines import extension

    assert extension("run.json\n") == "bin"
    assert extension("run.jsonl.zst") == "jsonl.zst"
