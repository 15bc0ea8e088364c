#!/usr/bin/env bash
# Builds the local stand-in for the Lambda Python base image, for each architecture given (default: both):
#   commodity-forecasts-local/lambda-base:x86_64   (linux/amd64)
#   commodity-forecasts-local/lambda-base:arm64    (linux/arm64, built and run under qemu binfmt emulation)
# It has its own name and is never tagged as public.ecr.aws/lambda/python:3.12; Dockerfiles receive it
# as the BASE_IMAGE build argument (tools/images.py).
#
# What our Dockerfiles and tests can observe is kept: LAMBDA_TASK_ROOT=/var/task as the working
# directory, `pip` and `python3` on PATH, /lambda-entrypoint.sh taking the handler from CMD, the real
# runtime interface client (awslambdaric, from uv.lock, hash-verified) in /var/runtime, and Lambda's
# invoke endpoint on port 8080 served by aws-lambda-rie (a stand-in for the real image's RIE) as the real image's RIE serves it.
#
# Differences from the real image, stated plainly: Debian bookworm instead of Amazon Linux 2023, and
# Debian's Python 3.11 instead of 3.12 (the lock resolves one version of every package for both).
#
# Debian's root filesystem is cached under ${XDG_CACHE_HOME:-~/.cache}/commodity-forecasts, and the image
# is labelled with a hash of this folder, so reruns on the same machine take seconds.
set -euo pipefail

REPOSITORY="commodity-forecasts-local/lambda-base"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UV="${UV:-uv}"   # `make docker` passes the project's pinned uv
HOST_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"
PYTHON_VERSION="3.11"   # Debian bookworm's python3
# The host's trust store goes into the stand-in so installers inside `docker build` trust what the host
# trusts (a TLS-inspecting egress proxy, for example); it is part of the recipe hash.
RECIPE_HASH="$(cat "$HERE"/build.sh "$HERE"/lambda-entrypoint.sh "$HERE"/bootstrap "$HERE"/aws-lambda-rie \
  "$HERE"/requirements.txt "$HOST_CA_BUNDLE" | sha256sum | cut -c1-16)"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/commodity-forecasts"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_PACKAGES="python3,python3-pip,ca-certificates"
DEBIAN_HASH="$(echo "bookworm minbase $DEBIAN_PACKAGES" | sha256sum | cut -c1-12)"

build_one() {
  local arch="$1" debian_arch platform wheel_platform
  case "$arch" in
    x86_64) debian_arch=amd64; platform=linux/amd64; wheel_platform=x86_64-manylinux_2_28 ;;
    arm64) debian_arch=arm64; platform=linux/arm64; wheel_platform=aarch64-manylinux_2_28 ;;
    *) echo "architecture must be x86_64 or arm64, got '$arch'" >&2; return 2 ;;
  esac
  local image="$REPOSITORY:$arch"
  local current
  current="$(docker image inspect -f '{{ index .Config.Labels "org.commodity-forecasts.standin" }}' "$image" 2>/dev/null || true)"
  if [[ "$current" == "$RECIPE_HASH" ]]; then
    echo "stand-in $image is current ($RECIPE_HASH)"
    return 0
  fi
  # Debian's root filesystem is cached apart from our files, so changing those never re-runs debootstrap.
  local debian="$CACHE_DIR/debian-bookworm-$debian_arch-$DEBIAN_HASH.tar"
  if [[ ! -f "$debian" ]]; then
    mkdir -p "$CACHE_DIR"
    local bootstrap_dir
    bootstrap_dir="$(mktemp -d "$CACHE_DIR/debootstrap-$arch.XXXXXX")"
    echo "debootstrapping Debian bookworm ($debian_arch) (minutes, once per machine)"
    if ! debootstrap --arch="$debian_arch" --variant=minbase --include="$DEBIAN_PACKAGES" \
        bookworm "$bootstrap_dir" "$MIRROR" >"$CACHE_DIR/debootstrap-$arch.log" 2>&1; then
      tail -20 "$CACHE_DIR/debootstrap-$arch.log" >&2
      rm -rf "$bootstrap_dir"
      return 1
    fi
    rm -rf "$bootstrap_dir"/var/cache/apt/archives/*.deb "$bootstrap_dir"/var/lib/apt/lists/* \
      "$bootstrap_dir"/usr/share/doc/* "$bootstrap_dir"/usr/share/man/*
    tar -C "$bootstrap_dir" -cf "$debian.partial" .
    mv "$debian.partial" "$debian"
    rm -rf "$bootstrap_dir"
  fi
  local rootfs tarball
  rootfs="$(mktemp -d "$CACHE_DIR/rootfs-$arch.XXXXXX")"
  rm -rf "$CACHE_DIR/context-$arch" && mkdir -p "$CACHE_DIR/context-$arch"
  tarball="$CACHE_DIR/context-$arch/rootfs.tar"
  tar -C "$rootfs" -xf "$debian"
  # Lambda's base image lets `pip install --target` write anywhere; Debian's PEP 668 marker would refuse.
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  cp "$HOST_CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  mkdir -p "$rootfs/var/task" "$rootfs/var/runtime"
  # The runtime interface client for the image's architecture, installed from the host (no emulation).
  "$UV" pip install --quiet --no-cache --require-hashes --no-deps --only-binary :all: \
    --python-version "$PYTHON_VERSION" --python-platform "$wheel_platform" --target "$rootfs/var/runtime" \
    -r "$HERE/requirements.txt"
  install -m 0755 "$HERE/lambda-entrypoint.sh" "$rootfs/lambda-entrypoint.sh"
  install -m 0755 "$HERE/bootstrap" "$rootfs/var/runtime/bootstrap"
  install -m 0755 "$HERE/aws-lambda-rie" "$rootfs/usr/local/bin/aws-lambda-rie"
  tar -C "$rootfs" -cf "$tarball" .
  rm -rf "$rootfs"
  # `docker build --platform` from scratch records the architecture in the image config (`docker import`
  # on a non-experimental daemon would record the host's), so images built on this base report it too.
  cat >"$rootfs.Dockerfile" <<DOCKERFILE
FROM scratch
ADD $(basename "$tarball") /
ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime LANG=C.UTF-8 TZ=:/etc/localtime \\
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /var/task
EXPOSE 8080
ENTRYPOINT ["/lambda-entrypoint.sh"]
LABEL org.commodity-forecasts.standin=$RECIPE_HASH
DOCKERFILE
  if ! DOCKER_BUILDKIT=0 docker build --quiet --platform "$platform" -t "$image" -f "$rootfs.Dockerfile" \
      "$CACHE_DIR/context-$arch" >"$CACHE_DIR/build-$arch.log" 2>&1; then
    cat "$CACHE_DIR/build-$arch.log" >&2
    return 1
  fi
  rm -rf "$tarball" "$rootfs.Dockerfile" "$CACHE_DIR/context-$arch"
  echo "built stand-in $image ($RECIPE_HASH)"
}

command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
architectures=("$@")
[[ ${#architectures[@]} -gt 0 ]] || architectures=(x86_64 arm64)
for arch in "${architectures[@]}"; do
  build_one "$arch"
done
