"""The mobile app's feed keeps the contract of the pipeline it replaces (docs/workloads.md: "The mobile app's feed").

Golden: exactly five keys; `direction` is "UP" or "DOWN" by the sign of the change, as before; prices
are JSON numbers; `timestamp` is a naive UTC `datetime.isoformat()`; `prediction_date` is the first
trading day after the newest close; the object's key per commodity is the app's file name.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from common.environment import WorkloadEnvironment
from predictor import service
from tests.images.conftest import NAMES, get_json

PREDICTION = service.Prediction(
    commodity="corn", effective_date="2026-11-25", price_date="2026-11-24", target_date="2026-11-25",
    current_price=4.3125, predicted_price=4.3391, change_pct=0.6168, direction="up",
    method="model", lower_80=4.2645, upper_80=4.4150, lower_95=4.2179, upper_95=4.4638, model_version="2026-11-20",
    model_sha256="ab" * 32, model_age_days=5, input_sha256="cd" * 32, created_at="2026-11-25T02:00:01+00:00",
)
WRITTEN_AT = datetime(2026, 11, 25, 2, 0, 1, 482913, tzinfo=timezone.utc)
ORIGINAL_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$")
"""What `datetime.now().isoformat()` prints on a UTC clock: no offset, microseconds unless zero."""


def test_golden_document_byte_for_byte():
    document = service.legacy_document(PREDICTION, WRITTEN_AT)
    assert json.dumps(document, sort_keys=True) == (
        '{"current_price": 4.3125, "direction": "UP", "predicted_price": 4.3391, '
        '"prediction_date": "2026-11-25", "timestamp": "2026-11-25T02:00:01.482913"}'
    )
    assert list(document) == list(service.LEGACY_KEYS)


@pytest.mark.parametrize(
    ("predicted", "direction"), [(4.3391, "UP"), (4.2, "DOWN"), (4.3125, "DOWN"), (4.3126, "UP")],
    ids=["up", "down", "unchanged is DOWN as before", "tiny rise is UP"],
)
def test_direction_is_the_sign_of_the_change_in_the_originals_two_values(predicted, direction):
    document = service.legacy_document(replace(PREDICTION, predicted_price=predicted), WRITTEN_AT)
    assert document["direction"] == direction


def test_types_and_formats_never_drift():
    whole = replace(PREDICTION, predicted_price=5, current_price=4)
    document = service.legacy_document(whole, datetime(2026, 11, 25, 2, 0, 0, tzinfo=timezone.utc))
    assert isinstance(document["predicted_price"], float) and isinstance(document["current_price"], float)
    assert json.dumps(document["predicted_price"]) == "5.0", "prices stay JSON numbers with a decimal point"
    assert document["timestamp"] == "2026-11-25T02:00:00", "isoformat() drops a zero fraction, as the original did"
    chicago = datetime(2026, 11, 24, 20, 0, 1, 5, tzinfo=timezone(timedelta(hours=-6)))
    assert service.legacy_document(PREDICTION, chicago)["timestamp"] == "2026-11-25T02:00:01.000005", "always UTC"


def test_prediction_date_is_the_next_trading_day_after_the_newest_close():
    from common.features import DEFAULT_HORIZON
    from common.trading_calendar import add_trading_days

    assert DEFAULT_HORIZON == 1
    assert add_trading_days(date(2026, 11, 25), 1) == date(2026, 11, 27), "Thanksgiving is skipped"
    assert add_trading_days(date(2026, 11, 27), 1) == date(2026, 11, 30), "never a Saturday, unlike the original"
    assert add_trading_days(date(2026, 11, 25), 5) == date(2026, 12, 3)


def test_the_apps_file_name_per_commodity_is_a_setting():
    assert NAMES.legacy_key("soybeans") == "predictions/latest/soybeans.json"
    renamed = replace(NAMES, legacy_file_names={"soybeans": "soybean"})
    assert renamed.legacy_key("soybeans") == "predictions/latest/soybean.json"
    assert renamed.legacy_key("corn") == "predictions/latest/corn.json"


def test_written_feed_on_the_emulator_keeps_the_contract(published, context, monkeypatch, today):
    from predictor import handler

    monkeypatch.setenv("LEGACY_FILE_NAMES", json.dumps({"soybeans": "soybean"}))
    result = handler.handler({"commodity": "soybeans"}, context)
    document = get_json(published, NAMES.legacy_bucket, "predictions/latest/soybean.json")
    assert list(document) == list(service.LEGACY_KEYS)
    assert document["direction"] in ("UP", "DOWN")
    assert document["direction"] == ("UP" if result["predicted_price"] > result["current_price"] else "DOWN")
    assert ORIGINAL_TIMESTAMP.match(document["timestamp"]), document["timestamp"]
    assert document["prediction_date"] == result["target_date"] > result["price_date"]
    assert set(document) & {"method", "model_version", "change_pct"} == set()


def test_bad_file_name_setting_is_refused_naming_the_variable(monkeypatch):
    from common.errors import MissingConfiguration

    for key, value in NAMES.variables().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LEGACY_FILE_NAMES", '{"soybeans": "../x"}')
    with pytest.raises(MissingConfiguration, match="LEGACY_FILE_NAMES"):
        WorkloadEnvironment.from_env()


def _objects(emulator, bucket: str) -> list[str]:
    """Every key ever written (versions and delete markers too: a marker written and deleted counts)."""
    listed = emulator.client("s3").list_object_versions(Bucket=bucket)
    return [item["Key"] for kind in ("Versions", "DeleteMarkers") for item in listed.get(kind, [])]


def test_without_a_legacy_bucket_nothing_is_written_for_the_app_and_nothing_counted(published, context, monkeypatch, capfd):
    from predictor import handler
    from tests.images.conftest import emitted_metrics

    monkeypatch.delenv("LEGACY_BUCKET")
    monkeypatch.delenv("LEGACY_PREFIX")
    assert WorkloadEnvironment.from_env().legacy_bucket is None
    capfd.readouterr()

    result = handler.handler({"commodity": "corn"}, context)
    report = handler.handler({"commodity": "corn", "dry_run": True}, context)

    assert result["legacy_written"] is False and result["predicted_price"] > 0
    assert _objects(published, NAMES.legacy_bucket) == [], "no app document and no dry-run marker"
    assert any(key.startswith("predictions/corn/") for key in _objects(published, NAMES.data_bucket)), "the prediction itself is written"
    assert "no legacy feed" in report["checks"]["configuration"]
    assert report["checks"]["write_access"].startswith("passed") and NAMES.legacy_bucket not in report["checks"]["write_access"]
    names = {m["Name"] for blob in emitted_metrics(capfd.readouterr().out) for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert "PredictionsWritten" in names and "LegacyWriteFailures" not in names, "no metric for a feed the stack does not have"


def test_the_environment_carries_the_legacy_bucket_only_when_set():
    assert "LEGACY_BUCKET" in NAMES.variables()
    bare = replace(NAMES, legacy_bucket=None).variables()
    assert "LEGACY_BUCKET" not in bare and "LEGACY_PREFIX" not in bare
