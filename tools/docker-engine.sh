#!/usr/bin/env bash
# Make a Docker engine reachable, arm64 emulation registered, and the stand-in Lambda base images built.
#
# Installs Debian's docker.io, qemu-user-static, binfmt-support and debootstrap when missing (needs root),
# registers qemu's aarch64 interpreter with the kernel (so linux/arm64 containers run here), starts dockerd
# with the vfs storage driver (works inside containers and CI runners without overlay support), waits for
# it, then builds commodity-forecasts-local/lambda-base:{x86_64,arm64} (tools/lambda-base/build.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG="${TMPDIR:-/tmp}/commodity-forecasts-dockerd.log"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
command -v update-binfmts >/dev/null 2>&1 || missing+=(binfmt-support)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "installing Debian's ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ "$(uname -m)" != "aarch64" && ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
  [[ -e /proc/sys/fs/binfmt_misc/register ]] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
  echo "registered arm64 emulation: $(head -1 /proc/sys/fs/binfmt_misc/qemu-aarch64)"
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: $LOG)"
  nohup dockerd --storage-driver=vfs >"$LOG" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

"$HERE/lambda-base/build.sh" x86_64 arm64
