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
    """Our image, under a tag of the benchmark's own: `make images` and the container tests keep theirs."""
    architecture = architecture or local.host_architecture()
    tag = f"{local.LOCAL_REPOSITORY}/bench-{image}:{architecture}"
    return BuiltImage(image, local.build(image, architecture, tag=tag), architecture)


def ours_with_xray_sdk(predictor: BuiltImage) -> BuiltImage:
    """The predictor as it ran before the X-Ray SDK was dropped (bench/xray/Dockerfile): the same image,
    plus the SDK and Powertools' Tracer around the handler."""
    tag = f"{local.LOCAL_REPOSITORY}/bench-predictor-xray-sdk:{predictor.architecture}"
    completed = subprocess.run(
        ["docker", "build", "--network", "host", "--build-arg", f"PREDICTOR_IMAGE={predictor.tag}",
         "--build-arg", f"DEPS_IMAGE={local.base_image(predictor.architecture)}",
         "-t", tag, "-f", str(ROOT / "bench" / "xray" / "Dockerfile"), str(ROOT / "bench" / "xray")],
        capture_output=True, text=True, env=local.build_environment(),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"building the predictor with the X-Ray SDK failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return BuiltImage("predictor with the X-Ray SDK", tag, predictor.architecture)


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
