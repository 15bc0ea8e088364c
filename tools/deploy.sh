#!/usr/bin/env bash
# Roll out one stack so that a failing image scan stops the rollout before any function moves:
#   1. `pulumi up --target` the ECR repositories and image builds only: images are built and pushed,
#      functions still run the previous digest;
#   2. the vulnerability gate waits for ECR's scan of every pushed digest and fails on findings at or
#      above the stack's threshold (tools/scan_gate.py) - `set -e` ends the rollout here;
#   3. the full `pulumi up` with the policy pack: functions, the `live` alias and the rest move.
set -euo pipefail
STACK="${1:?usage: tools/deploy.sh <stack>}"
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"

targets=()
while IFS= read -r urn; do
  targets+=(--target "$urn")
done < <(pulumi preview --stack "$STACK" --json --non-interactive | "$PYTHON" -m tools.image_targets)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "deploy: the preview declared no image resources; refusing to continue" >&2
  exit 1
fi

echo "deploy: 1/3 building and pushing images for $STACK"
pulumi up --stack "$STACK" --yes --non-interactive --skip-preview "${targets[@]}"

echo "deploy: 2/3 vulnerability gate"
pulumi stack output images --json --stack "$STACK" | "$PYTHON" -m tools.scan_gate --stack "$STACK" --images-json -

echo "deploy: 3/3 full update of $STACK"
pulumi up --stack "$STACK" --yes --non-interactive --policy-pack policy
