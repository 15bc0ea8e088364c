"""`make bench`: every benchmark in one run on this machine; prints the figures and the ratios to
the seed-style baseline and writes bench/results.md. Exits 1 when a target is missed."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone

from bench import builds, cold_start, footprint, intervals, model_formats, program, promotion, skill, warm
from bench.world import ROOT, world


def main(argv: list[str] | None = None) -> int:
    import argparse

    argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0]).parse_args(argv)
    sections = []
    print("footprint …", flush=True)
    sizes = footprint.measure()
    sections.append(("Image footprint", footprint.report(sizes)))
    print("cold start, warm latency …", flush=True)
    with world() as w:
        variants = cold_start.host_variants(w) + cold_start.container_variants(w)
        latency = warm.host(w) | warm.containers(w)
    sections.append(("Cold start (fresh process: import, model load, first prediction)", cold_start.report(variants)))
    sections.append(("Warm latency (features + model per prediction, emulator I/O excluded)", warm.report(latency)))
    print("arm64 builds, cross-stage and emulated …", flush=True)
    arm64_builds = builds.measure()
    sections.append(("arm64 builds: dependency stage on the build platform vs fully emulated", builds.report(arm64_builds)))
    print("prod's promotion: the same arm64 images copied by digest …", flush=True)
    promoted = promotion.measure(arm64_builds)
    sections.append(("Promotion: prod's two arm64 builds vs a copy of the same digests (emulator's ECR)", promotion.report(promoted)))
    print("model formats …", flush=True)
    sections.append(("How the predictor reads a model (fresh processes, median of 9)", model_formats.report(model_formats.measure())))
    print("forecast skill over seeded histories …", flush=True)
    measured = [skill.measure(kind, horizon) for kind, horizon in skill.CONFIGURATIONS]
    sections.append(("Forecast skill: promotion rate and interval coverage over 20 seeds", skill.report(measured)))
    print("intervals walked forward window by window …", flush=True)
    walked = [intervals.measure(horizon) for horizon in (1, 5)]
    sections.append(("Intervals year by year: 250-day windows served after training runs that never saw them", intervals.report(walked)))
    print("program scaling …", flush=True)
    sections.append(("Program scaling (real program under Pulumi mocks)", program.report(program.measure())))

    by_label = {v.label: v for v in variants}
    cold = {where: by_label[f"ours ({where})"].median() / by_label[f"baseline ({where})"].median() for where in ("host", "container")}
    summary = [
        f"predictor / baseline added MB: {sizes['ratio']:.2f}x (target <= 0.5x)",
        f"predictor / baseline cold start, host: {cold['host']:.2f}x; container: {cold['container']:.2f}x (target <= 0.5x)",
        *filter(None, [cold_start.xray_sdk_cost(variants)]),
        "arm64 dependency install, cross-stage / emulated: "
        + ", ".join(f"{name} {r['install_ratio']:.2f}x (whole build {r['ratio']:.2f}x)" for name, r in arm64_builds.items())
        + " (target <= 0.3x, same files)",
        *promotion.summary(promoted),
        *skill.summary(measured),
        *intervals.summary(walked),
    ]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    header = (
        f"# Benchmark results\n\n`make bench` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit or 'unknown'}, "
        f"{platform.machine()}, Python {platform.python_version()} on the host; images on the local Lambda base image.\n"
    )
    body = "\n\n".join(f"## {title}\n\n{text}" for title, text in sections)
    (ROOT / "bench" / "results.md").write_text(f"{header}\n## Summary\n\n" + "\n".join(f"- {s}" for s in summary) + f"\n\n{body}\n")
    print("\n" + body + "\n\n" + "\n".join(summary))
    targets = sizes["ratio"] <= 0.5 and max(cold.values()) <= 0.5 and builds.met(arm64_builds) and skill.met(measured)
    return 0 if targets and all(ok for ok, _ in walked[0].targets().values()) else 1


if __name__ == "__main__":
    sys.exit(main())
