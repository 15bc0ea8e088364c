"""Cold start: a fresh process per run imports the handler, loads the model and serves the first
prediction; ours against the seed-style baseline, on the host (each in a venv holding only its own
locked set, timed by bench/host_invoke.py) and inside the built images (a new container per run,
invoked over Lambda's invoke endpoint, timed by its runtime interface emulator's REPORT line: Init
Duration and Duration, as Lambda reports them). Run: `python -m bench.cold_start`."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from bench import images
from bench.world import ROOT, World, world
from tools.image_env import python_for
from tools.images import LambdaContainer

RUNS = 7
"""Measured runs per variant, after one unmeasured run that warms the page cache."""
INVOKER = ROOT / "bench" / "host_invoke.py"
"""One-shot invoker for the host runs (containers report through their own emulator)."""


@dataclass(frozen=True)
class Sample:
    init_ms: float
    first_ms: float

    @property
    def total_ms(self) -> float:
        return self.init_ms + self.first_ms


@dataclass(frozen=True)
class Variant:
    label: str
    samples: list[Sample]

    def median(self, attribute: str = "total_ms") -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)

    def spread(self) -> tuple[float, float]:
        totals = sorted(s.total_ms for s in self.samples)
        return totals[0], totals[-1]


def container_run(tag: str, event: dict, environment: dict) -> Sample:
    with LambdaContainer(tag, environment=environment) as container:
        result = container.invoke(event, timeout=600)
        logs = container.logs()
        deadline = time.monotonic() + 10
        while "\nREPORT " not in f"\n{logs}" and time.monotonic() < deadline:  # the emulator prints it after answering
            time.sleep(0.1)
            logs = container.logs()
    if result.failed:
        raise RuntimeError(f"{tag} failed: {result.payload}")
    return _sample(logs, tag)


def host_run(python: str, code: str, handler: str, event: dict, environment: dict) -> Sample:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= environment | {"LAMBDA_TASK_ROOT": code, "PYTHONPATH": code}
    completed = subprocess.run([python, "-s", str(INVOKER), handler], input=json.dumps(event),
                               capture_output=True, text=True, env=env, cwd=code)
    if completed.returncode != 0:
        raise RuntimeError(f"{handler} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    return _sample(completed.stderr, handler)


def _sample(output: str, label: str) -> Sample:
    """Init and first-invocation durations from a Lambda-style REPORT line."""
    report = next((line for line in output.splitlines() if line.startswith("REPORT ")), None)
    if report is None:
        raise RuntimeError(f"{label}: no REPORT line in:\n{output[-2000:]}")
    fields = dict(part.split(": ", 1) for part in report.removeprefix("REPORT ").split("\t") if ": " in part)
    return Sample(float(fields["Init Duration"].split()[0]), float(fields["Duration"].split()[0]))


def measure(run, runs: int = RUNS) -> list[Sample]:
    run()
    return [run() for _ in range(runs)]


def host_variants(w: World, runs: int = RUNS) -> list[Variant]:
    ours = str(python_for(ROOT / "images" / "predictor" / "requirements.txt", "predictor"))
    baseline = str(python_for(ROOT / "bench" / "baseline" / "requirements.txt", "baseline", require_hashes=False))
    return [
        Variant("ours (host)", measure(lambda: host_run(ours, str(ROOT / "images"), "predictor.handler.handler", w.ours_event, w.environment), runs)),
        Variant("baseline (host)", measure(lambda: host_run(baseline, str(ROOT / "bench" / "baseline"), "handler.handler", w.baseline_event, w.environment), runs)),
    ]


def measure_interleaved(first, second, runs: int = RUNS) -> tuple[list[Sample], list[Sample]]:
    """Two variants run alternately (after one warm-up each), so that load from elsewhere on the machine
    falls on both alike: what the comparison of the two is for."""
    first(), second()
    pairs = [(first(), second()) for _ in range(runs)]
    return [a for a, _ in pairs], [b for _, b in pairs]


def container_variants(w: World, runs: int = RUNS) -> list[Variant]:
    ours, baseline = images.ours("predictor"), images.baseline()
    traced = images.ours_with_xray_sdk(ours)
    without_sdk, with_sdk = measure_interleaved(
        lambda: container_run(ours.tag, w.ours_event, w.environment),
        lambda: container_run(traced.tag, w.ours_event, w.environment), runs,
    )
    return [
        Variant("ours (container)", without_sdk),
        Variant(XRAY_VARIANT, with_sdk),
        Variant("baseline (container)", measure(lambda: container_run(baseline.tag, w.baseline_event, w.environment), runs)),
    ]


XRAY_VARIANT = "ours with the X-Ray SDK (container)"
"""The predictor as it ran before the SDK was dropped (Powertools' Tracer on aws-xray-sdk), same code otherwise."""


def xray_sdk_cost(variants: list[Variant]) -> str | None:
    """What the X-Ray SDK added to the container cold start (median init and total), when both were measured."""
    by_label = {v.label: v for v in variants}
    without, with_sdk = by_label.get("ours (container)"), by_label.get(XRAY_VARIANT)
    if not (without and with_sdk):
        return None
    fastest = min(s.total_ms for s in with_sdk.samples) - min(s.total_ms for s in without.samples)
    return (
        f"X-Ray SDK in the container: cold start {with_sdk.median():.0f} ms with it, {without.median():.0f} ms without "
        f"(init {with_sdk.median('init_ms'):.0f} / {without.median('init_ms'):.0f} ms): "
        f"{with_sdk.median() - without.median():+.0f} ms median, {fastest:+.0f} ms between the fastest runs"
    )


def report(variants: list[Variant]) -> str:
    lines = [
        "| variant | init ms (median) | first invoke ms (median) | total ms (median) | total min–max |",
        "|---|---:|---:|---:|---|",
    ]
    for v in variants:
        low, high = v.spread()
        lines.append(f"| {v.label} | {v.median('init_ms'):.0f} | {v.median('first_ms'):.0f} | {v.median():.0f} | {low:.0f}–{high:.0f} |")
    by_label = {v.label: v for v in variants}
    lines.append("")
    for where in ("host", "container"):
        ours, baseline = by_label.get(f"ours ({where})"), by_label.get(f"baseline ({where})")
        if ours and baseline:
            lines.append(f"{where}: ours / baseline cold start = {ours.median() / baseline.median():.2f}x (target <= 0.5x)")
    sdk = xray_sdk_cost(variants)
    if sdk:
        lines.append(sdk)
    return "\n".join(lines)


if __name__ == "__main__":
    with world() as w:
        variants = host_variants(w)
        if "--host-only" not in sys.argv:
            variants += container_variants(w)
    print(report(variants))
