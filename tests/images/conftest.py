"""Workload tests run the real handlers against moto's server on loopback, through boto3.

One emulator serves the session; each test that asks for `plane` gets it reset with fresh buckets
and table. Models are trained once per session (in memory) and published per test.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date

import pytest

from common.environment import WorkloadEnvironment
from common.events import today_utc
from common.contract import COMMODITIES
from demo.emulator import Emulator, create_data_plane, seed_prices
from demo.prices import generate

NAMES = WorkloadEnvironment(
    data_bucket="test-data",
    predictions_table="test-predictions",
    legacy_bucket="test-legacy",
    legacy_prefix="predictions/latest/",
    prices_prefix="prices/",
    models_prefix="models/",
    predictions_prefix="predictions/",
)


@dataclass
class LambdaContext:
    """What Powertools and the handlers read from Lambda's context object."""

    function_name: str = "commodity-forecasts-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:commodity-forecasts-test:live"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture(scope="session")
def emulator():
    with pytest.MonkeyPatch.context() as patch, Emulator() as running:
        for key, value in {
            **running.environment,
            **NAMES.variables(service="tests"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
        }.items():
            patch.setenv(key, value)
        yield running


@pytest.fixture(scope="session")
def today() -> date:
    return today_utc()


MODEL_AS_OF = date(2026, 11, 20)
"""Session models are trained on history up to this fixed date, so they (and the quality test) are
the same whatever day the tests run."""


@pytest.fixture(scope="session")
def trained():
    """One model per commodity, trained on generated history up to MODEL_AS_OF."""
    from trainer import training
    from common.events import now_utc

    return {
        commodity: training.train(commodity, generate(commodity, MODEL_AS_OF), as_of=MODEL_AS_OF, now=now_utc(), min_improvement=0.0)
        for commodity in COMMODITIES
    }


@pytest.fixture
def plane(emulator):
    """A fresh data plane: empty buckets and table, no cached models in this 'container'."""
    from predictor import service

    emulator.reset()
    create_data_plane(emulator, NAMES)
    service._MODELS.clear()
    return emulator


@pytest.fixture
def seeded(plane, today):
    seed_prices(plane, NAMES, COMMODITIES, today)
    return plane


@pytest.fixture
def published(seeded, trained):
    """Prices through today and a promoted model for every commodity."""
    from trainer import training

    for result in trained.values():
        training.publish(seeded.client("s3"), NAMES, result)
    return seeded


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


def emitted_metrics(captured_stdout: str) -> list[dict]:
    """The CloudWatch embedded-metric-format blobs Powertools printed, one dict per blob."""
    blobs = []
    for line in captured_stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def metric_value(blobs: list[dict], name: str, **dimensions: str):
    """The value of metric `name` in the blob whose dimensions include `dimensions`."""
    for blob in blobs:
        names = {m["Name"] for directive in blob["_aws"]["CloudWatchMetrics"] for m in directive["Metrics"]}
        if name in names and all(blob.get(key) == value for key, value in dimensions.items()):
            value = blob[name]
            return value[0] if isinstance(value, list) and len(value) == 1 else value
    raise AssertionError(f"metric {name} with {dimensions} not emitted; blobs: {blobs}")


def get_json(emulator: Emulator, bucket: str, key: str):
    return json.loads(emulator.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
