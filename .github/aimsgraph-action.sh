#!/usr/bin/env bash
# The steps of the aimsgraph GitHub Action (action.yml at the repository root), one subcommand a
# step, so that they run, and are tested (tests/test_integrations.py), outside GitHub too:
#
#   install   pip install aimsgraph: AIMSGRAPH_REQUIREMENT, else this action's own checkout
#   validate  aimsgraph validate AIMSGRAPH_PATH: SARIF to a file (step output "sarif"), the
#             findings as workflow commands (annotations), the exit code as step output "status"
#   diff      on a pull request: aimsgraph diff-record between the base commit and the working
#             tree, as Markdown (step output "comment"), also shown in the job summary
#   comment   post the comment on the pull request, or update the one posted before (gh CLI)
#   verdict   exit with validate's status (after the comment is posted, so a failing check
#             still gets its comment)
#
# Inputs come as environment variables: AIMSGRAPH_PATH (the record: one or more files or
# folders, separated by spaces; diff uses the first), AIMSGRAPH_AS_OF, AIMSGRAPH_FAIL_ON,
# AIMSGRAPH_ANNOTATIONS (true|false), AIMSGRAPH_STATUS (verdict); and GitHub's own: GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY, GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, RUNNER_TEMP,
# GITHUB_ACTION_PATH, GH_TOKEN.
set -euo pipefail

work="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/aimsgraph"
mkdir -p "$work"
read -r -a paths <<< "${AIMSGRAPH_PATH:-.}"
as_of=()
if [ -n "${AIMSGRAPH_AS_OF:-}" ]; then as_of=(--as-of "$AIMSGRAPH_AS_OF"); fi

output() { echo "$1=$2" >> "${GITHUB_OUTPUT:-/dev/null}"; }

# Run a command whose output may quote the pull request's files (a file name may hold a newline
# and "::set-output ..." after it): on a runner (GITHUB_ACTIONS), no workflow command is taken from it.
untrusted() {
  local token="" status=0
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    token="aimsgraph-$RANDOM$RANDOM$RANDOM$$"
    echo "::stop-commands::$token"
  fi
  "$@" || status=$?
  if [ -n "$token" ]; then echo "::$token::"; fi
  return "$status"
}

# A field of the webhook event that triggered the workflow (GITHUB_EVENT_PATH), empty if none.
event() {
  python3 - "$1" <<'PY'
import json, os, sys
try:
    with open(os.environ.get("GITHUB_EVENT_PATH", ""), encoding="utf-8") as file:
        value = json.load(file)
    for key in sys.argv[1].split("."):
        value = value[key]
except (OSError, ValueError, KeyError, TypeError):
    value = ""
print(value)
PY
}

is_pull_request() {
  case "${GITHUB_EVENT_NAME:-}" in pull_request | pull_request_target) return 0 ;; *) return 1 ;; esac
}

install() {
  python3 -m pip install --disable-pip-version-check "${AIMSGRAPH_REQUIREMENT:-${GITHUB_ACTION_PATH:-.}}"
}

validate() {
  local sarif="$work/aimsgraph.sarif" status=0
  untrusted aimsgraph validate "${paths[@]}" "${as_of[@]}" --format sarif --output "$sarif" \
    --fail-on "${AIMSGRAPH_FAIL_ON:-violation}" || status=$?
  if [ "$status" -ge 2 ]; then  # bad input: no report to upload or compare
    echo "::error title=aimsgraph::the record could not be read (exit $status); see the line above"
    exit "$status"
  fi
  if [ "${AIMSGRAPH_ANNOTATIONS:-true}" = true ]; then
    aimsgraph validate "${paths[@]}" "${as_of[@]}" --format github --fail-on none
  fi
  output sarif "$sarif"
  output status "$status"
}

diff() {
  if ! is_pull_request; then
    echo "aimsgraph: not a pull request (${GITHUB_EVENT_NAME:-no event}): nothing to compare"
    return 0
  fi
  local base path="${paths[0]}" comment="$work/comment.md"
  base="$(event pull_request.base.sha)"
  if ! [[ "$base" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]]; then  # a commit id, never an option or a ref to expand
    echo "::error title=aimsgraph::the event has no pull_request.base.sha (a commit id)"
    exit 2
  fi
  # the checkout may be shallow: fetch the base commit alone when it is missing
  git cat-file -e "$base^{commit}" 2> /dev/null || git fetch --quiet --no-tags --depth=1 origin "$base"
  path="${path#./}"
  [ "$path" = . ] && path=""
  untrusted aimsgraph diff-record "$base:$path" "${paths[0]}" "${as_of[@]}" --format markdown --output "$comment"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$comment" >> "$GITHUB_STEP_SUMMARY"; fi
  output comment "$comment"
}

comment() {
  local file="$work/comment.md" number existing
  if ! is_pull_request || [ ! -f "$file" ]; then
    echo "aimsgraph: no comment to post"
    return 0
  fi
  number="$(event pull_request.number)"
  local marker
  marker="$(head -n 1 "$file")"
  existing="$(gh api "repos/$GITHUB_REPOSITORY/issues/$number/comments" --paginate \
    --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)" || existing=""
  # a pull request from a fork gets a read-only token: say so, and let the check go on
  if [ -n "$existing" ]; then
    gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" -F "body=@$file" > /dev/null \
      || echo "::warning title=aimsgraph::could not update the comment (a read-only token?)"
  else
    gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$number/comments" -F "body=@$file" > /dev/null \
      || echo "::warning title=aimsgraph::could not post the comment (a read-only token?)"
  fi
}

verdict() {
  exit "${AIMSGRAPH_STATUS:-0}"
}

case "${1:-}" in
  install | validate | diff | comment | verdict) "$1" ;;
  *)
    echo "usage: $0 install|validate|diff|comment|verdict" >&2
    exit 2
    ;;
esac
