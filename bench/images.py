"""Build and inspect the images the benchmarks compare, with the local Docker engine and stand-in base."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools import images as local

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BuiltImage:
    label: str
    tag: str
    architecture: str


def ours(image: str, architecture: str | None = None) -> BuiltImage:
    architecture = architecture or local.host_architecture()
    return BuiltImage(image, local.build(image, architecture), architecture)


def baseline() -> BuiltImage:
    """The seed-style image, on the same stand-in base as ours (its Dockerfile takes BASE_IMAGE too)."""
    architecture = local.host_architecture()
    tag = f"{local.LOCAL_REPOSITORY}/bench-baseline:{architecture}"
    completed = subprocess.run(
        ["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={local.base_image(architecture)}",
         "-t", tag, "-f", str(ROOT / "bench" / "baseline" / "Dockerfile"), str(ROOT / "bench" / "baseline")],
        capture_output=True, text=True, env=local.build_environment(),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"building the baseline failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return BuiltImage("baseline", tag, architecture)
