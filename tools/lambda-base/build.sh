#!/usr/bin/env bash
# Builds a local stand-in for public.ecr.aws/lambda/python:3.12 when no registry is reachable.
#
# The stand-in keeps the parts of the real base image that our Dockerfiles and tests rely on:
# LAMBDA_TASK_ROOT=/var/task as the working directory, `pip` and `python3` on PATH, and an
# entrypoint that runs the handler named by the image's CMD. In place of the Runtime Interface
# Emulator it carries a one-shot invoker (invoke.py): the event arrives on stdin, the response
# goes to stdout, and a Lambda-style REPORT line (with Init Duration) goes to stderr.
#
# Differences from the real image, stated plainly: Debian bookworm instead of Amazon Linux 2023,
# and Debian's Python 3.11 instead of 3.12 (every pinned requirement ships wheels for both).
#
# The rootfs tarball is cached under ${XDG_CACHE_HOME:-~/.cache}/commodity-forecasts and the image
# is labelled with a hash of this folder, so reruns on the same machine take seconds.
set -euo pipefail

IMAGE="public.ecr.aws/lambda/python:3.12"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOST_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"
# The host's trust store goes into the stand-in so pip inside `docker build` trusts what the host
# trusts (a TLS-inspecting egress proxy, for example); it is part of the recipe hash.
RECIPE_HASH="$(cat "$HERE"/build.sh "$HERE"/lambda-entrypoint.sh "$HERE"/invoke.py "$HOST_CA_BUNDLE" | sha256sum | cut -c1-16)"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/commodity-forecasts"
TARBALL="$CACHE_DIR/lambda-base-$RECIPE_HASH.tar"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

current="$(docker image inspect -f '{{ index .Config.Labels "org.commodity-forecasts.standin" }}' "$IMAGE" 2>/dev/null || true)"
if [[ "$current" == "$RECIPE_HASH" ]]; then
  echo "stand-in $IMAGE is current ($RECIPE_HASH)"
  exit 0
fi
if [[ -n "$(docker image inspect -f '{{ .Id }}' "$IMAGE" 2>/dev/null || true)" && -z "$current" ]]; then
  echo "$IMAGE exists and is not our stand-in (the real base image, presumably); using it"
  exit 0
fi

if [[ ! -f "$TARBALL" ]]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  mkdir -p "$CACHE_DIR"
  ROOTFS="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
  trap 'rm -rf "$ROOTFS"' EXIT
  echo "debootstrapping Debian bookworm into $ROOTFS (a few minutes, once per machine)"
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    bookworm "$ROOTFS" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE_DIR/debootstrap.log"; exit 1; }
  # Lambda's base image lets `pip install --target` write anywhere; Debian's PEP 668 marker would refuse.
  rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf /usr/bin/python3 "$ROOTFS/usr/local/bin/python"
  cp "$HOST_CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$ROOTFS/var/task" "$ROOTFS/var/runtime"
  install -m 0755 "$HERE/lambda-entrypoint.sh" "$ROOTFS/lambda-entrypoint.sh"
  install -m 0644 "$HERE/invoke.py" "$ROOTFS/var/runtime/invoke.py"
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
  tar -C "$ROOTFS" -cf "$TARBALL.partial" .
  mv "$TARBALL.partial" "$TARBALL"
fi

docker import \
  --change "ENV LAMBDA_TASK_ROOT=/var/task" \
  --change "ENV LAMBDA_RUNTIME_DIR=/var/runtime" \
  --change "ENV LANG=C.UTF-8" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "WORKDIR /var/task" \
  --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
  --change "LABEL org.commodity-forecasts.standin=$RECIPE_HASH" \
  "$TARBALL" "$IMAGE" >/dev/null
echo "built stand-in $IMAGE ($RECIPE_HASH)"
