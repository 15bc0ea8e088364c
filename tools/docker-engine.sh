#!/usr/bin/env bash
# Make a Docker engine reachable and the Lambda base image available, for the container tests.
#
# Installs Debian's docker.io when no engine binary exists (needs root), starts dockerd with the vfs
# storage driver (works inside containers and CI runners without overlay support), waits for it, then
# builds the local stand-in for public.ecr.aws/lambda/python:3.12 when the registry is unreachable.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG="${TMPDIR:-/tmp}/commodity-forecasts-dockerd.log"

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "installing Debian's docker.io"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  echo "starting dockerd (log: $LOG)"
  nohup dockerd --storage-driver=vfs >"$LOG" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

if ! docker image inspect public.ecr.aws/lambda/python:3.12 >/dev/null 2>&1 \
   && timeout 60 docker pull public.ecr.aws/lambda/python:3.12 >/dev/null 2>&1; then
  echo "pulled public.ecr.aws/lambda/python:3.12"
else
  "$HERE/lambda-base/build.sh"
fi
