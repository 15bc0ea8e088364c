"""Build and inspect the images the benchmarks compare, with the local Docker engine."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"


@dataclass(frozen=True)
class BuiltImage:
    label: str
    tag: str


def build(label: str, dockerfile: Path, context: Path) -> BuiltImage:
    tag = f"commodity-forecasts-bench/{label}:latest"
    completed = subprocess.run(
        ["docker", "build", "--network", "host", "-t", tag, "-f", str(dockerfile), str(context)],
        capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"building {label} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return BuiltImage(label, tag)


def ours(image: str) -> BuiltImage:
    return build(image, ROOT / "images" / image / "Dockerfile", ROOT / "images")


def baseline() -> BuiltImage:
    return build("baseline", ROOT / "bench" / "baseline" / "Dockerfile", ROOT / "bench" / "baseline")


def size_bytes(tag: str) -> int:
    out = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", tag], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def added_megabytes(tag: str) -> float:
    """What the image adds over the Lambda base image, in MB (10^6 bytes)."""
    return (size_bytes(tag) - size_bytes(BASE_IMAGE)) / 1e6


def top_packages(tag: str, count: int = 8) -> list[tuple[str, float]]:
    """The largest entries of the task root, in MB."""
    out = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", tag, "-c", "du -sk /var/task/* | sort -rn"],
        capture_output=True, text=True, check=True,
    ).stdout
    entries = []
    for line in out.splitlines()[:count]:
        kilobytes, path = line.split(maxsplit=1)
        entries.append((path.removeprefix("/var/task/"), int(kilobytes) * 1024 / 1e6))
    return entries
