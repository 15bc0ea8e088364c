"""arm64 image builds on this machine, two ways: the dependency stage on the build platform installing
wheels for arm64 (what every build does), against the whole build emulated under qemu. Both from an
empty layer cache; the two images must hold the same files. Reported for the whole build and for the
dependency install step alone (the step emulation slows; the rest is layer handling, the same both ways).
Run: `python -m bench.builds`."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time

from tools import images

ARCHITECTURE = "arm64"


def file_list(tag: str) -> list[str]:
    """Every path in the image's filesystem, from `docker export` (no emulation needed)."""
    container = subprocess.run(["docker", "create", tag], capture_output=True, text=True, check=True).stdout.strip()
    try:
        exported = subprocess.run(["docker", "export", container], capture_output=True, check=True).stdout
    finally:
        subprocess.run(["docker", "rm", container], capture_output=True)
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        return sorted(member.name for member in archive.getmembers())


INSTALL_STEP = "RUN case"
"""The Dockerfiles' dependency install step (the one RUN that installs wheels)."""


def built_tag(image: str, *, emulated: bool) -> str:
    """The tag a timed build leaves (bench/promotion.py copies the cross-stage ones)."""
    return f"{images.LOCAL_REPOSITORY}/bench-{image}:{ARCHITECTURE}-{'emulated' if emulated else 'cross'}"


def timed_build(image: str, *, emulated: bool) -> tuple[str, float, float]:
    """Tag, whole-build seconds and install-step seconds (from the time each `Step N/M` line appeared)."""
    tag = built_tag(image, emulated=emulated)
    command = images.build_command(image, ARCHITECTURE, emulated=emulated, tag=tag)
    command.insert(2, "--no-cache")
    started = time.perf_counter()
    steps: list[tuple[float, str]] = []
    output: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=images.build_environment()) as build:
        for line in build.stdout:
            output.append(line)
            if line.startswith("Step "):
                steps.append((time.perf_counter(), line))
    seconds = time.perf_counter() - started
    if build.returncode != 0:
        raise RuntimeError(f"building {tag} failed:\n{''.join(output)[-3000:]}")
    steps.append((time.perf_counter(), "end"))
    install = next(later[0] - step[0] for step, later in zip(steps, steps[1:]) if INSTALL_STEP in step[1])
    return tag, seconds, install


def measure(names: tuple[str, ...] = images.IMAGES) -> dict[str, dict]:
    results = {}
    for image in names:
        cross_tag, cross, cross_install = timed_build(image, emulated=False)
        emulated_tag, emulated, emulated_install = timed_build(image, emulated=True)
        cross_files, emulated_files = file_list(cross_tag), file_list(emulated_tag)
        results[image] = {
            "cross_s": cross,
            "emulated_s": emulated,
            "ratio": cross / emulated,
            "cross_install_s": cross_install,
            "emulated_install_s": emulated_install,
            "install_ratio": cross_install / emulated_install,
            "same_files": cross_files == emulated_files,
            "files": len(cross_files),
            "only_cross": sorted(set(cross_files) - set(emulated_files))[:5],
            "only_emulated": sorted(set(emulated_files) - set(cross_files))[:5],
        }
    return results


def report(results: dict[str, dict]) -> str:
    lines = [
        "| arm64 image | whole build s, cross / emulated | ratio | install step s, cross / emulated | ratio | same file list |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for image, r in results.items():
        same = f"yes ({r['files']} paths)" if r["same_files"] else f"no: only cross {r['only_cross']}, only emulated {r['only_emulated']}"
        lines.append(
            f"| {image} | {r['cross_s']:.0f} / {r['emulated_s']:.0f} | {r['ratio']:.2f}x | "
            f"{r['cross_install_s']:.0f} / {r['emulated_install_s']:.0f} | {r['install_ratio']:.2f}x | {same} |"
        )
    lines.append("")
    lines.append("Both from an empty layer cache on the vfs storage driver (every layer a full copy); target: cross-stage <= 0.3x of fully emulated.")
    return "\n".join(lines)


def met(results: dict[str, dict]) -> bool:
    return all(r["install_ratio"] <= 0.3 and r["same_files"] for r in results.values())


if __name__ == "__main__":
    outcome = measure()
    print(report(outcome))
    sys.exit(0 if met(outcome) else 1)
