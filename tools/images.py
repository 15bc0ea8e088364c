"""Build the images locally and run them the way Lambda's base image runs them: over the invoke endpoint.

`python -m tools.images` (what `make images` runs) builds every image for linux/amd64 and linux/arm64,
tagged `commodity-forecasts-local/<image>:<x86_64|arm64>`, on the local stand-in base image
(`tools/lambda-base`). Builds use Docker's legacy builder with the platform arguments BuildKit would set
itself, so the dependency stage runs on the build platform and only the final COPY steps are foreign
(`emulated=True` runs the dependency stage on the target platform instead, for the benchmark).

`LambdaContainer` is one long-lived container of an image, reached only through Lambda's invoke
endpoint (`POST /2015-03-31/functions/function/invocations`). It runs on the host network (the AWS
emulator listens on loopback) with the real image's RIE options choosing the ports, so the same command
line works on the real `public.ecr.aws/lambda/python` image.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = ROOT / "images"
LOCAL_REPOSITORY = "commodity-forecasts-local"
BASE_IMAGE = f"{LOCAL_REPOSITORY}/lambda-base"
"""The stand-in base image (tools/lambda-base/build.sh), one tag per architecture."""
IMAGES = ("predictor", "trainer")
SIZES = ROOT / ".cache" / "image-sizes.json"
"""What `make images` measured each image to add over its base, MB per architecture (read by tools.cost)."""
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
"""Lambda architecture → Docker platform."""
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
RIE = "/usr/local/bin/aws-lambda-rie"
"""Where the real base image (and the stand-in) keep the runtime interface emulator."""


def host_architecture() -> str:
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"


def local_tag(image: str, architecture: str) -> str:
    return f"{LOCAL_REPOSITORY}/{image}:{architecture}"


def base_image(architecture: str) -> str:
    return f"{BASE_IMAGE}:{architecture}"


def build_command(image: str, architecture: str, *, emulated: bool = False, tag: str | None = None) -> list[str]:
    """`docker build` for one image and architecture; the dependency stage runs on the host's platform
    unless `emulated`."""
    if architecture not in PLATFORMS:
        raise ValueError(f"architecture must be one of {', '.join(PLATFORMS)}, got {architecture!r}")
    build_arch = architecture if emulated else host_architecture()
    return [
        # No --platform: the legacy builder would then refuse COPY --from a stage of another platform. The
        # stand-in base is one tag per architecture, so BASE_IMAGE alone fixes the image's platform.
        "docker", "build", "--network", "host",
        "--build-arg", f"BASE_IMAGE={base_image(architecture)}",
        "--build-arg", f"DEPS_IMAGE={base_image(build_arch)}",
        "--build-arg", f"BUILDPLATFORM={PLATFORMS[build_arch]}",
        "--build-arg", f"TARGETARCH={PLATFORMS[architecture].split('/')[1]}",
        "-t", tag or local_tag(image, architecture),
        "-f", str(IMAGES_DIR / image / "Dockerfile"), str(IMAGES_DIR),
    ]


def build_environment() -> dict[str, str]:
    """Docker's legacy builder, given BuildKit's platform arguments explicitly (Debian's docker.io has no buildx)."""
    return {**os.environ, "DOCKER_BUILDKIT": "0"}


def build(image: str, architecture: str, *, emulated: bool = False, tag: str | None = None) -> str:
    """Build and tag one image; raises with Docker's output when the build fails."""
    tag = tag or local_tag(image, architecture)
    completed = subprocess.run(
        build_command(image, architecture, emulated=emulated, tag=tag),
        capture_output=True, text=True, env=build_environment(),
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"docker build of {image} for {architecture} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return tag


def image_architecture(tag: str) -> str:
    """The architecture Docker recorded for a built image (amd64 → x86_64)."""
    arch = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Architecture}}", tag], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {"amd64": "x86_64", "arm64": "arm64"}[arch]


def added_megabytes(tag: str) -> float:
    """What an image adds over the stand-in base of its architecture, in MB (10^6 bytes)."""
    def size(ref: str) -> int:
        return int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", ref], capture_output=True, text=True, check=True).stdout)

    return (size(tag) - size(base_image(image_architecture(tag)))) / 1e6


def largest_entries(tag: str, count: int = 8) -> list[tuple[str, float]]:
    """The largest entries of the image's task root, in MB (10^6 bytes), largest first."""
    out = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", tag, "-c", "du -sk /var/task/* | sort -rn"],
        capture_output=True, text=True, check=True,
    ).stdout
    entries = []
    for line in out.splitlines()[:count]:
        kilobytes, path = line.split(maxsplit=1)
        entries.append((path.removeprefix("/var/task/"), int(kilobytes) * 1024 / 1e6))
    return entries


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class InvokeError(RuntimeError):
    """The container did not answer an invocation (not a handler error: those are answered)."""


@dataclass
class Invocation:
    status: int
    payload: Any
    function_error: str | None
    """`X-Amz-Function-Error` (e.g. `Unhandled`), as Lambda's Invoke API reports handler errors."""
    seconds: float

    @property
    def failed(self) -> bool:
        return self.function_error is not None or (isinstance(self.payload, dict) and "errorType" in self.payload)


class LambdaContainer:
    """One running container of a Lambda image, invoked over HTTP until `stop()`."""

    def __init__(
        self, tag: str, *, environment: Mapping[str, str] = {}, port: int | None = None, name: str | None = None,
        labels: Mapping[str, str] = {},
    ):
        self.tag = tag
        self.labels = dict(labels)
        self.port = port or free_port()
        self.api_port = free_port()
        self.name = name or f"{LOCAL_REPOSITORY}-{uuid.uuid4().hex[:10]}"
        self.environment = dict(environment)
        self.container_id: str | None = None

    def start(self, ready_timeout: float = 60) -> "LambdaContainer":
        handler = json.loads(subprocess.run(
            ["docker", "image", "inspect", "-f", "{{json .Config.Cmd}}", self.tag], capture_output=True, text=True, check=True
        ).stdout)[0]
        env_args = [part for key, value in self.environment.items() for part in ("-e", f"{key}={value}")]
        env_args += [part for key, value in self.labels.items() for part in ("--label", f"{key}={value}")]
        command = [
            "docker", "run", "-d", "--rm", "--name", self.name, "--network", "host", "-e", f"_HANDLER={handler}",
            *env_args, "--entrypoint", RIE, self.tag,
            "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
            "--runtime-api-address", f"127.0.0.1:{self.api_port}",
            "/var/runtime/bootstrap",
        ]
        self.container_id = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if not self.running():
                raise InvokeError(f"{self.tag} exited before listening on port {self.port}:\n{self.logs()[-3000:]}")
            time.sleep(0.1)
        raise InvokeError(f"{self.tag} did not listen on port {self.port} within {ready_timeout:.0f} s:\n{self.logs()[-3000:]}")

    def invoke(self, event: Any, timeout: float = 900) -> Invocation:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}", data=json.dumps(event).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, body, error = response.status, response.read(), response.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as failure:
            status, body, error = failure.code, failure.read(), failure.headers.get("X-Amz-Function-Error") or "Unhandled"
        except (urllib.error.URLError, TimeoutError) as failure:
            raise InvokeError(f"{self.tag}: no answer on port {self.port} within {timeout:.0f} s ({failure}):\n{self.logs()[-3000:]}") from None
        seconds = time.perf_counter() - started
        try:
            payload = json.loads(body) if body else None
        except json.JSONDecodeError:
            payload = body.decode(errors="replace")
        return Invocation(status, payload, error, seconds)

    def running(self) -> bool:
        return subprocess.run(["docker", "container", "inspect", self.name], capture_output=True).returncode == 0

    def logs(self) -> str:
        completed = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        return completed.stdout + completed.stderr

    def exec(self, *command: str) -> str:
        return subprocess.run(["docker", "exec", self.name, *command], capture_output=True, text=True, check=True).stdout

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)

    def __enter__(self) -> "LambdaContainer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.images", description="Build every image for every architecture on the local stand-in base.")
    parser.add_argument("--arch", action="append", choices=sorted(PLATFORMS), help="architecture (default: both)")
    parser.add_argument("images", nargs="*", default=list(IMAGES), help="images to build (default: all)")
    options = parser.parse_args(argv)
    sizes = json.loads(SIZES.read_text()) if SIZES.exists() else {}
    for architecture in options.arch or sorted(PLATFORMS):
        for image in options.images:
            started = time.perf_counter()
            tag = build(image, architecture)
            sizes.setdefault(image, {})[architecture] = round(added_megabytes(tag), 1)
            print(f"built {tag} in {time.perf_counter() - started:.0f} s ({sizes[image][architecture]} MB over the base)", flush=True)
    SIZES.parent.mkdir(parents=True, exist_ok=True)
    SIZES.write_text(json.dumps(sizes, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
