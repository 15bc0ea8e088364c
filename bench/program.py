"""Program scaling: wall time and peak memory to run the real Pulumi program under mocks for 3, 30
and 300 functions, each in a fresh process; growth per function. Run: `python -m bench.program`."""

from __future__ import annotations

import json
import resource
import runpy
import subprocess
import sys
import time
from pathlib import Path

from stack_config import stack_config
from tests.conftest import run_program

ROOT = Path(__file__).resolve().parent.parent
SIZES = (3, 30, 300)
COMMODITIES = ("corn", "wheat", "soybeans")


def config_for(count: int) -> dict[str, str]:
    """The dev stack with `count` scheduled predictor functions, each at its own minute of the day."""
    config = stack_config(ROOT, "dev")
    functions = [
        {
            "name": f"p{index:03d}",
            "image": "predictor",
            "timeout_seconds": 120,
            "schedule": {"expression": f"cron({index % 60} {(index // 60) % 24} * * ? *)"},
            "event": {"commodity": COMMODITIES[index % 3]},
        }
        for index in range(count)
    ]
    config["commodity-forecasts:functions"] = json.dumps(functions)
    return config


def child(count: int) -> dict:
    config = config_for(count)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    graph = run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), stack="dev", config=config)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"functions": count, "resources": len(graph.resources), "seconds": seconds,
            "peak_mb": peak / 1024, "program_mb": (peak - before) / 1024}


def measure() -> list[dict]:
    results = []
    for count in SIZES:
        completed = subprocess.run([sys.executable, "-m", "bench.program", "--child", str(count)],
                                   capture_output=True, text=True, cwd=ROOT)
        if completed.returncode != 0:
            raise RuntimeError(completed.stderr[-3000:])
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return results


def _slope(xs, ys) -> float:
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)


def report(results: list[dict]) -> str:
    lines = ["| functions | resources | wall s | peak RSS MB |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['functions']} | {r['resources']} | {r['seconds']:.2f} | {r['peak_mb']:.0f} |" for r in results]
    xs = [r["functions"] for r in results]
    time_slope = _slope(xs, [r["seconds"] for r in results])
    memory_slope = _slope(xs, [r["peak_mb"] for r in results])
    resource_slope = _slope(xs, [r["resources"] for r in results])
    small, large = results[1], results[-1]
    marginal = (large["seconds"] - small["seconds"]) / (large["functions"] - small["functions"])
    early = (small["seconds"] - results[0]["seconds"]) / (small["functions"] - results[0]["functions"])
    lines += [
        "",
        f"growth per function: {time_slope * 1000:.0f} ms, {memory_slope:.2f} MB, {resource_slope:.1f} resources",
        f"marginal seconds per function, 3→30: {early * 1000:.0f} ms; 30→300: {marginal * 1000:.0f} ms "
        f"(equal when growth is linear)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(child(int(sys.argv[sys.argv.index("--child") + 1]))))
    else:
        print(report(measure()))
