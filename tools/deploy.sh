#!/usr/bin/env bash
# Roll out one stack so that a failing image scan stops the rollout before any function moves:
#   0. `pulumi preview --json --show-sames` with the policy pack: fails fast (showing the CLI's own
#      error) on bad config, missing credentials, a policy violation or, in a promoting stack, a release
#      record that does not show its digests tested, and names every image resource. `--show-sames`
#      matters: without it the JSON omits unchanged resources (pulumi/pulumi
#      pkg/backend/display/display.go, shouldShow), so unchanged images would vanish.
#   1. `pulumi up --target` the ECR repositories (and the registry configuration) and image builds only:
#      images are built and pushed, functions still run the previous digest (on a first deployment:
#      nothing runs yet). Providers and the root stack are always targeted
#      (pkg/resource/deploy/step_generator.go), so the stack's `images` output is current afterwards.
#      A promoting stack (promote_from) builds nothing: the same targeted update creates its repositories,
#      then `tools.release promote` copies the release's tested digests into them (or waits for the
#      replicas; nothing for pull). No Docker is used.
#   2. the vulnerability gate waits for ECR's scan of every digest the functions will run and fails on
#      findings at or above the stack's threshold (tools/scan_gate.py; exit 1 blocks, exit 2 could not
#      decide): a promoting stack's copies are scanned in its own repositories.
#   3. the full `pulumi up` with the policy pack: functions move, each new version behind its
#      pre-traffic gate (docs/guardrails.md: Deploying safely).
#   4. tools/protect_images.py: a protected tag on every image a version within rollback reach runs,
#      removed from those that left it (the lifecycle's first rule keeps protected images). Idempotent:
#      a run interrupted anywhere is finished by the next, and it adds before it removes.
#   5. tools/function_states.py: every function and the version its live alias runs is Active (Lambda
#      has no metric or event for it; docs/operations.md: Monitoring).
#   6. with $COMMODITY_FORECASTS_RELEASE set, a stack that builds writes its release record there: what
#      each live alias runs, judged again by the scan gate (--verdict-file), for the promoting stack's job.
# A promoting stack reads its record from $COMMODITY_FORECASTS_RELEASE (the deploy workflow downloads it).
# Before step 0, a preflight refuses (exit 1) when the stack's reserved concurrency would leave the
# account less than Lambda's 100 unreserved (tools/preflight.py; if it cannot tell, it warns and the
# rollout goes on); before step 1 Docker logs in to the stack's registry (tools/ecr_login.py: the builds carry no
# credentials of their own, which the state would keep).
set -euo pipefail
usage() { echo "usage: tools/deploy.sh STACK   (preview, build and push images or promote the release's, scan gate, full update of Pulumi.<STACK>.yaml)"; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  ""|-*) usage >&2; exit 2 ;;
esac
STACK="$1"
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
"$PYTHON" -m tools.preflight "$STACK" || status=$?
if [ "$status" -eq 1 ]; then
  echo "deploy: the preflight refused $STACK; nothing was changed" >&2
  exit 1
elif [ "$status" -ne 0 ]; then
  echo "deploy: warning: the concurrency preflight could not tell whether $STACK fits the account" >&2
fi

mode="$("$PYTHON" -m tools.release mode "$STACK")"
if [ "$mode" != build ] && [ -z "${COMMODITY_FORECASTS_RELEASE:-}" ]; then
  echo "deploy: $STACK promotes ($mode) and builds nothing: set COMMODITY_FORECASTS_RELEASE to its source's release record" >&2
  exit 1
fi

echo "deploy: 0/6 preview of $STACK"
if ! pulumi preview --stack "$STACK" --json --show-sames --non-interactive --policy-pack policy \
    > "$work/preview.json" 2> "$work/preview.err"; then
  echo "deploy: the preview of $STACK failed; nothing was changed:" >&2
  "$PYTHON" -m tools.image_targets --errors < "$work/preview.json" >&2 || true
  cat "$work/preview.err" >&2
  exit 1
fi
"$PYTHON" -m tools.image_targets < "$work/preview.json" > "$work/targets"
targets=()
while IFS= read -r urn; do
  targets+=(--target "$urn")
done < "$work/targets"
if [ "${#targets[@]}" -eq 0 ] && [ "$mode" != pull ]; then
  echo "deploy: the preview of $STACK declared no image resources; refusing to continue" >&2
  exit 1
fi

if [ "$mode" = build ]; then
  "$PYTHON" -m tools.ecr_login "$STACK"
  echo "deploy: 1/6 building and pushing images for $STACK ($((${#targets[@]} / 2)) resources)"
  pulumi up --stack "$STACK" --yes --non-interactive --skip-preview "${targets[@]}"
  pulumi stack output images --json --stack "$STACK" > "$work/images.json"
else
  echo "deploy: 1/6 $STACK builds nothing: its repositories, then the release's tested digests ($mode)"
  if [ "${#targets[@]}" -gt 0 ]; then
    pulumi up --stack "$STACK" --yes --non-interactive --skip-preview "${targets[@]}"
  fi
  "$PYTHON" -m tools.release promote "$STACK"
  "$PYTHON" -m tools.release images "$STACK" > "$work/images.json"
fi

echo "deploy: 2/6 vulnerability gate"
"$PYTHON" -m tools.scan_gate --stack "$STACK" --images-json "$work/images.json"

echo "deploy: 3/6 full update of $STACK"
pulumi up --stack "$STACK" --yes --non-interactive --policy-pack policy

echo "deploy: 4/6 protecting the images every version within rollback reach runs"
"$PYTHON" -m tools.protect_images "$STACK"

echo "deploy: 5/6 every function and its live version Active"
"$PYTHON" -m tools.function_states "$STACK"

if [ "$mode" = build ] && [ -n "${COMMODITY_FORECASTS_RELEASE:-}" ]; then
  echo "deploy: 6/6 release record of what $STACK serves, for the stacks that promote from it"
  "$PYTHON" -m tools.release live "$STACK" > "$work/live.json"
  # What the live aliases run is judged again (a pinned version may run an older image than step 2 saw);
  # a verdict other than pass is recorded, and a promoting stack refuses that digest.
  "$PYTHON" -m tools.scan_gate --stack "$STACK" --images-json "$work/live.json" --verdict-file "$work/verdicts.json" \
    || echo "deploy: warning: not every digest $STACK serves passed the scan gate; the record says which" >&2
  "$PYTHON" -m tools.release record "$STACK" --verdicts "$work/verdicts.json" > "$work/release.json"
  mv "$work/release.json" "$COMMODITY_FORECASTS_RELEASE"
  echo "deploy: wrote $COMMODITY_FORECASTS_RELEASE"
fi
