"""Warm latency. On the host: the handler's compute per prediction (features + model) in a warm process,
emulator I/O excluded. In the images: a whole warm invocation over Lambda's invoke endpoint (reads, the
prediction, the writes to the emulator), as a caller sees it. Ours against the baseline in both.
Run: `python -m bench.warm`."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from bench import images
from bench.world import ROOT, World, world
from tools.image_env import python_for
from tools.images import LambdaContainer

ITERATIONS = 300
OURS = r"""
import json, time
import botocore.session
from common.environment import WorkloadEnvironment
from common.events import PredictionRequest, now_utc
from predictor import service
s3 = botocore.session.get_session().create_client("s3")
env = WorkloadEnvironment.from_env()
request = PredictionRequest.parse({event!r})
model = service.load_model(s3, env, request.commodity)
rows = service.recent_prices(s3, env, request)
now = now_utc()
times = []
for _ in range({iterations}):
    started = time.perf_counter()
    service.predict(model, rows, request.as_of, now)
    times.append((time.perf_counter() - started) * 1000)
print("BENCH " + json.dumps(times))
"""
BASELINE = r"""
import io, json, time
import pandas as pd
import handler
event = {event!r}
frames = [pd.read_csv(io.BytesIO(handler.s3.get_object(Bucket=handler.BUCKET, Key=f"prices/{{event['commodity']}}/{{y}}.csv")["Body"].read()),
                      parse_dates=["date"]) for y in (event["year"] - 1, event["year"])]
frame = pd.concat(frames, ignore_index=True).tail(61)
times = []
for _ in range({iterations}):
    started = time.perf_counter()
    row = handler.features(frame).iloc[[-1]].to_numpy()
    handler.model.predict(row)
    times.append((time.perf_counter() - started) * 1000)
print("BENCH " + json.dumps(times))
"""


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": statistics.median(ordered), "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]}


def _parse(completed: subprocess.CompletedProcess, label: str) -> dict[str, float]:
    line = next((l for l in completed.stdout.splitlines() if l.startswith("BENCH ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"{label} failed:\n{completed.stderr[-3000:]}")
    return _summary(json.loads(line[6:]))


def host(w: World) -> dict[str, dict[str, float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))} | w.environment
    runs = {
        "ours (host)": (python_for(ROOT / "images" / "predictor" / "requirements.txt", "predictor"), ROOT / "images",
                        OURS.format(event=w.ours_event, iterations=ITERATIONS)),
        "baseline (host)": (python_for(ROOT / "bench" / "baseline" / "requirements.txt", "baseline", require_hashes=False),
                            ROOT / "bench" / "baseline", BASELINE.format(event=w.baseline_event, iterations=ITERATIONS)),
    }
    # Each venv holds only its image's packages; the code comes from PYTHONPATH, as LAMBDA_TASK_ROOT would give it.
    return {label: _parse(subprocess.run([str(python), "-s", "-c", script], capture_output=True, text=True, env=env | {"PYTHONPATH": str(code)}), label)
            for label, (python, code, script) in runs.items()}


def containers(w: World, invocations: int = 40) -> dict[str, dict[str, float]]:
    """Round trip of warm invocations through the invoke endpoint, after one cold invocation."""
    runs = {
        "ours (container, whole invocation)": (images.ours("predictor").tag, w.ours_event),
        "baseline (container, whole invocation)": (images.baseline().tag, w.baseline_event),
    }
    results = {}
    for label, (tag, event) in runs.items():
        with LambdaContainer(tag, environment=w.environment) as container:
            container.invoke(event, timeout=600)
            times = []
            for _ in range(invocations):
                result = container.invoke(event, timeout=600)
                if result.failed:
                    raise RuntimeError(f"{label} failed: {result.payload}")
                times.append(result.seconds * 1000)
        results[label] = _summary(times)
    return results


def report(results: dict[str, dict[str, float]]) -> str:
    lines = ["| variant | median ms | p99 ms |", "|---|---:|---:|"]
    lines += [f"| {label} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} |" for label, r in results.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    with world() as w:
        outcome = host(w)
        if "--host-only" not in sys.argv:
            outcome |= containers(w)
    print(report(outcome))
