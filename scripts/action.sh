#!/usr/bin/env bash
# The GitHub Action's logic (action.yml runs it; tests run it with fake GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY and a fake comment API).
#
# Inputs arrive as INPUT_* variables. It runs `evalsig gate`, forwards the step outputs and the
# job summary, posts or updates one PR comment (found by the report's marker line) when given a
# token (the verdict, or the refusal of a gate its runs stopped: 65, 66, 74), and exits with the
# gate's own exit code: 0 ALLOW, 1 REJECT, 2 INCONCLUSIVE, or the error's code (64 usage, 65
# bad data, 66 not found, 74 I/O). Anything else — evalsig missing, a traceback, a signal, or
# an exit without a verdict — is a crash: exit 70 with the error, never something that could
# be read as REJECT.
#
# Environment: EVALSIG (the command, default `evalsig`), PYTHON (for JSON, default python3),
# GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH (the PR number comes from it unless
# INPUT_PR_NUMBER is set), RUNNER_TEMP.
set -uo pipefail

EVALSIG=${EVALSIG:-evalsig}
PYTHON=${PYTHON:-python3}

work=$(mktemp -d "${RUNNER_TEMP:-/tmp}/evalsig-action.XXXXXX") || exit 70
report_json="$work/report.json"
report_md="$work/report.md"
outputs="$work/outputs"
: >"$outputs"

args=(gate --baseline "${INPUT_BASELINE:-}" --candidate "${INPUT_CANDIDATE:-}"
      --json "$report_json" --markdown "$report_md" --output tty)
add() { # add FLAG VALUE: only inputs that were given
  if [[ -n "${2:-}" ]]; then args+=("$1" "$2"); fi
}
add --format "${INPUT_FORMAT:-}"
add --metric "${INPUT_METRIC:-}"
add --cluster "${INPUT_CLUSTER:-}"
add --filter "${INPUT_FILTER:-}"
add --id-col "${INPUT_ID_COL:-}"
add --score-col "${INPUT_SCORE_COL:-}"
add --cluster-col "${INPUT_CLUSTER_COL:-}"
add --epoch-col "${INPUT_EPOCH_COL:-}"
add --min-delta "${INPUT_MIN_DELTA:-}"
add --mode "${INPUT_MODE:-}"
add --alpha "${INPUT_ALPHA:-}"
add --power "${INPUT_POWER:-}"
add --method "${INPUT_METHOD:-}"
add --resamples "${INPUT_RESAMPLES:-}"
add --seed "${INPUT_SEED:-}"

# Run the gate with its own GITHUB_OUTPUT so this script can check what it wrote.
GITHUB_OUTPUT="$outputs" "$EVALSIG" "${args[@]}" 2>"$work/stderr"
rc=$?
cat "$work/stderr" >&2

out_value() { # the last single-line value of NAME in the captured outputs
  sed -n "s/^$1=//p" "$outputs" | tail -n 1
}

verdict=$(out_value verdict)
code=$(out_value exit_code)
decided=false
case "$rc:$verdict:$code" in
  0:ALLOW:0 | 1:REJECT:1 | 2:INCONCLUSIVE:2) decided=true ;;
esac

forward() { # copy name=value lines to the real step outputs
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then cat "$1" >>"$GITHUB_OUTPUT"; fi
}

status=$rc
if $decided; then
  forward "$outputs"
else
  case "$rc" in
    64 | 65 | 66 | 74) status=$rc ;;
    *) status=70 ;;
  esac
  message=$(grep -v '^[[:space:]]*$' "$work/stderr" 2>/dev/null | tail -n 1)
  [[ -n "$message" ]] || message="evalsig exited with code $rc and no message"
  message=${message//$'\r'/ }
  {
    echo "verdict=ERROR"
    echo "exit_code=$status"
    echo "error=$message"
  } >"$work/error-outputs"
  forward "$work/error-outputs"
  echo "::error title=evalsig failed (exit $status)::$message"
  if [[ "$status" == 70 && "$rc" != 70 ]]; then
    echo "evalsig: crash: exit code $rc without a verdict; reported as 70 (internal error)" >&2
  fi
fi

# ---- PR comment: one per marker, updated in place on every push ----
pr=${INPUT_PR_NUMBER:-}
if [[ -z "$pr" && -n "${GITHUB_EVENT_PATH:-}" && -f "${GITHUB_EVENT_PATH}" ]]; then
  pr=$("$PYTHON" -c 'import json,sys
e = json.load(open(sys.argv[1]))
print((e.get("pull_request") or {}).get("number") or (e.get("issue") or {}).get("number") or "")' \
    "$GITHUB_EVENT_PATH" 2>/dev/null || true)
fi

comment() {
  local api=${GITHUB_API_URL:-https://api.github.com} repo=${GITHUB_REPOSITORY:?}
  local marker auth page id body
  marker=$(head -n 1 "$report_md")
  [[ "$marker" == "<!-- evalsig-report"* ]] || { echo "no marker line in the report" >&2; return 1; }
  auth=(-H "Authorization: Bearer ${INPUT_GITHUB_TOKEN}" -H "Accept: application/vnd.github+json"
        -H "X-GitHub-Api-Version: 2022-11-28")
  id=""
  for page in $(seq 1 50); do
    body=$(curl -sS --fail-with-body "${auth[@]}" \
      "$api/repos/$repo/issues/$pr/comments?per_page=100&page=$page") || return 1
    id=$(printf '%s' "$body" | "$PYTHON" -c 'import json,sys
marker = sys.argv[1]
page = json.load(sys.stdin)
hits = [c["id"] for c in page if (c.get("body") or "").split("\n", 1)[0].strip() == marker]
print(hits[0] if hits else ("" if page else "END"))' "$marker") || return 1
    [[ -n "$id" ]] && break
  done
  [[ "$id" == END ]] && id=""
  "$PYTHON" -c 'import json,sys; print(json.dumps({"body": open(sys.argv[1]).read()}))' \
    "$report_md" >"$work/comment.json" || return 1
  if [[ -n "$id" ]]; then
    curl -sS --fail-with-body -X PATCH "${auth[@]}" --data-binary "@$work/comment.json" \
      "$api/repos/$repo/issues/comments/$id" >"$work/comment-response.json" || return 1
    echo "evalsig: updated PR comment $id" >&2
  else
    curl -sS --fail-with-body -X POST "${auth[@]}" --data-binary "@$work/comment.json" \
      "$api/repos/$repo/issues/$pr/comments" >"$work/comment-response.json" || return 1
    echo "evalsig: posted a PR comment on #$pr" >&2
  fi
}

# A decided gate comments its verdict; a gate refused because of its runs (65 doctor or bad
# run, 66 not found, 74 unreadable) comments its refusal, written under the marker of the same
# metric and task, so an earlier verdict's comment does not stand as if it were still true.
# A usage error (64) or a crash posts nothing: its marker cannot name the task.
refused=false
case "$status" in
  65 | 66 | 74) if [[ -s "$report_md" ]]; then refused=true; fi ;;
esac
if [[ -n "${INPUT_GITHUB_TOKEN:-}" && "${INPUT_COMMENT:-true}" != false ]] && { $decided || $refused; }; then
  if [[ -z "$pr" ]]; then
    echo "::notice::evalsig: not a pull request; no comment posted"
  elif ! comment; then
    # The comment is a courtesy: its failure never changes the gate's result.
    echo "::warning::evalsig: could not post or update the PR comment"
  fi
fi

exit "$status"
