"""How the predictor should read a model: the hand-written UBJSON reader (predictor/forest.py) against
XGBoost's JSON format read with `json.loads`, and against py-ubjson (a UBJSON library with a C
extension), for cold-start milliseconds and bytes. `python -m bench.model_formats`; part of `make bench`.

Each figure is the median of fresh processes that import what the reader needs, read the file, build
the Forest and predict one row: what a cold start pays. The rule (docs/performance.md): keep the smaller
code unless it costs more than 10 ms of cold start.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

RUNS = 9
READERS = {
    "hand-written UBJSON reader (forest.py)": ("model.ubj", "from predictor.forest import Forest; f = Forest.from_ubj(raw)"),
    "XGBoost JSON + json.loads": ("model.json", "import json; from predictor.forest import Forest; f = Forest.from_model(json.loads(raw))"),
    "py-ubjson (C extension)": ("model.ubj", "import ubjson; from predictor.forest import Forest; f = Forest.from_model(ubjson.loadb(raw))"),
}
PROBE = """
import time
started = time.perf_counter()
import numpy as np
imported = time.perf_counter()
raw = open({path!r}, "rb").read()
{read}
f.predict(np.zeros((1, f.num_features)))
done = time.perf_counter()
print((done - started) * 1000, (done - imported) * 1000)
"""


def models(folder: Path) -> dict[str, int]:
    """The demo's corn model in both formats (the trainer's own training), and their sizes."""
    import xgboost as xgb

    from demo.prices import generate
    from trainer import training

    result = training.train("corn", generate("corn", date(2026, 11, 20)), as_of=date(2026, 11, 20),
                            now=datetime(2026, 11, 20, tzinfo=timezone.utc), min_improvement=0.0)
    (folder / "model.ubj").write_bytes(result.model)
    booster = xgb.Booster()
    booster.load_model(bytearray(result.model))
    (folder / "model.json").write_bytes(bytes(booster.save_raw("json")))
    return {name: (folder / name).stat().st_size for name in ("model.ubj", "model.json")}


def measure() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        sizes = models(folder)
        figures = {}
        for label, (file, read) in READERS.items():
            code = PROBE.format(path=str(folder / file), read=read)
            runs = [subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split() for _ in range(RUNS)]
            figures[label] = {
                "ms": statistics.median(float(total) for total, _ in runs),
                "read_ms": statistics.median(float(read) for _, read in runs),
                "model_bytes": sizes[file],
            }
    return figures


def reader_lines() -> int:
    source = (Path(__file__).resolve().parent.parent / "images" / "predictor" / "forest.py").read_text().splitlines()
    start = next(i for i, line in enumerate(source) if line.startswith("class _UBJReader"))
    return len(source) - start


def report(figures: dict[str, dict[str, float]]) -> str:
    rows = [
        "| reader | cold start: numpy import, read, first prediction (median ms) | of which reading the model (ms) | model file | code it adds to the predictor image |",
        "|---|---|---|---|---|",
    ]
    adds = {
        "hand-written UBJSON reader (forest.py)": f"{reader_lines()} lines of Python",
        "XGBoost JSON + json.loads": "nothing (standard library)",
        "py-ubjson (C extension)": "a third-party package (py-ubjson 0.16.1, last released 2020)",
    }
    for label, figure in figures.items():
        rows.append(f"| {label} | {figure['ms']:.1f} | {figure['read_ms']:.1f} | {figure['model_bytes'] / 1024:.0f} KiB | {adds[label]} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(report(measure()))
