"""What every benchmark runs against: a local emulator holding prices, our promoted model and the
baseline's pickled copy of the same model, plus the environment a handler process needs."""

from __future__ import annotations

import contextlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent

from common.events import now_utc, today_utc
from common.contract import COMMODITIES
from common.environment import WorkloadEnvironment
from demo.emulator import Emulator, create_data_plane, seed_prices
from demo.prices import generate

COMMODITY = "corn"
NAMES = WorkloadEnvironment(
    data_bucket="bench-data", predictions_table="bench-predictions", legacy_bucket="bench-legacy",
    legacy_prefix="predictions/latest/", prices_prefix="prices/", models_prefix="models/", predictions_prefix="predictions/",
)
BASELINE_MODEL_KEY = f"baseline/{COMMODITY}/model.pkl"
LAMBDA_LIKE = {
    # As inside Lambda with Active tracing: Lambda sets the trace header. The images no longer carry the
    # X-Ray SDK; the benchmark's variant with it (bench/xray) imports and patches on this header, which is
    # not sampled, so nothing is sent anywhere.
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "_X_AMZN_TRACE_ID": "Root=1-6741a3b2-1c2d3e4f5a6b7c8d9e0f1a2b;Parent=53995c3f42cd8ad8;Sampled=0",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class World:
    emulator: Emulator
    environment: dict[str, str]
    """Everything a handler process needs (emulator endpoint, names, Lambda-like settings)."""
    ours_event: dict
    baseline_event: dict
    model: object
    """Our TrainingResult for COMMODITY (its booster is the baseline's model too)."""


@contextlib.contextmanager
def world() -> Iterator[World]:
    with Emulator() as emulator:
        environment = {
            **emulator.environment,
            **NAMES.variables(service="bench"),
            **LAMBDA_LIKE,
            "BASELINE_MODEL_KEY": BASELINE_MODEL_KEY,
        }
        saved = dict(os.environ)
        os.environ.update(environment)
        try:
            import xgboost as xgb

            from trainer import training

            today = today_utc()
            create_data_plane(emulator, NAMES)
            seed_prices(emulator, NAMES, COMMODITIES, today)
            result = training.train(COMMODITY, generate(COMMODITY, today), as_of=today, now=now_utc(), min_improvement=0.0)
            training.publish(emulator.client("s3"), NAMES, result)
            baseline = xgb.XGBRegressor()
            baseline.load_model(bytearray(result.model))
            emulator.client("s3").put_object(Bucket=NAMES.data_bucket, Key=BASELINE_MODEL_KEY, Body=pickle.dumps(baseline))
            yield World(
                emulator=emulator,
                environment=environment,
                ours_event={"commodity": COMMODITY},
                baseline_event={"commodity": COMMODITY, "year": today.year},
                model=result,
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
