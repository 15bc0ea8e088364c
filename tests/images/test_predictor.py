"""Predictor handler on the emulator: stored outputs, idempotency, and every refusal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from common import errors
from common.schema import to_csv, parse_csv
from tests.images.conftest import NAMES, emitted_metrics, get_json, metric_value

LEGACY_FIELDS = {"prediction_date", "predicted_price", "current_price", "direction", "timestamp"}


@pytest.fixture
def predictor():
    from predictor import handler

    return handler.handler


def stored_items(plane, commodity):
    response = plane.client("dynamodb").query(
        TableName=NAMES.predictions_table,
        KeyConditionExpression="commodity = :c",
        ExpressionAttributeValues={":c": {"S": commodity}},
    )
    return response["Items"]


@pytest.mark.parametrize("commodity", ["corn", "wheat", "soybeans"])
def test_scheduled_run_stores_prediction_everywhere(published, predictor, context, capfd, commodity, today):
    result = predictor({"commodity": commodity}, context)

    assert result["effective_date"] == today.isoformat()
    assert 0.8 < result["predicted_price"] / result["current_price"] < 1.2, "a one-week move beyond 20% is not plausible"
    assert result["legacy_written"] is True
    [item] = stored_items(published, commodity)
    assert item["effective_date"]["S"] == today.isoformat()
    assert float(item["predicted_price"]["N"]) == result["predicted_price"]
    assert item["model_sha256"]["S"] == result["model_sha256"]
    pointer = get_json(published, NAMES.data_bucket, f"models/{commodity}/latest.json")
    assert result["method"] == item["method"]["S"] == pointer["method"] and result["model_version"] == pointer["version"]
    if result["method"] == "naive":
        assert result["predicted_price"] == result["current_price"] and result["direction"] == "flat"
    assert result["lower_95"] < result["lower_80"] < result["predicted_price"] < result["upper_80"] < result["upper_95"]
    for bound in ("lower_80", "upper_80", "lower_95", "upper_95"):
        assert float(item[bound]["N"]) == result[bound]

    full = get_json(published, NAMES.data_bucket, f"predictions/{commodity}/{today.isoformat()}.json")
    assert full["predicted_price"] == result["predicted_price"]
    assert full["input_sha256"] == result["input_sha256"]
    assert (full["method"], full["lower_95"], full["upper_95"]) == (result["method"], result["lower_95"], result["upper_95"])

    legacy = get_json(published, NAMES.legacy_bucket, f"predictions/latest/{commodity}.json")
    assert set(legacy) == LEGACY_FIELDS, "the mobile app's JSON must keep exactly its five fields"
    assert legacy["predicted_price"] == result["predicted_price"]
    assert legacy["current_price"] == result["current_price"]
    assert legacy["prediction_date"] == result["target_date"]
    assert legacy["direction"] == ("UP" if result["predicted_price"] > result["current_price"] else "DOWN")

    blobs = emitted_metrics(capfd.readouterr().out)
    assert metric_value(blobs, "PredictionsWritten", commodity=commodity) == 1
    assert metric_value(blobs, "LegacyWriteFailures", commodity=commodity) == 0
    assert metric_value(blobs, "ModelAgeDays", commodity=commodity) == 0
    assert metric_value(blobs, "PredictedChangePct", commodity=commodity) == result["change_pct"]


def test_retried_run_writes_the_same_item_not_a_duplicate(published, predictor, context):
    first = predictor({"commodity": "corn"}, context)
    second = predictor({"commodity": "corn"}, context)
    assert second == first, "a retry must return the stored prediction unchanged, timestamp included"
    assert len(stored_items(published, "corn")) == 1


def test_manual_run_for_a_past_date_uses_prices_up_to_that_date(published, predictor, context, today):
    as_of = today - timedelta(days=30)
    result = predictor({"commodity": "wheat", "as_of": as_of.isoformat()}, context)
    assert result["effective_date"] == as_of.isoformat()
    assert result["price_date"] <= as_of.isoformat()
    assert {item["effective_date"]["S"] for item in stored_items(published, "wheat")} == {as_of.isoformat()}


def test_a_fresh_deployment_with_random_walk_prices_serves_labelled_naive_forecasts(plane, predictor, context, today):
    """Real prices are close to a random walk: no model earns promotion, and still every commodity gets a
    forecast after the first training run, labelled naive, with intervals; the app's document is written."""
    from tests.images.test_trainer import random_walk, write_history
    from trainer import handler as trainer

    for seed, commodity in enumerate(("corn", "wheat", "soybeans")):
        write_history(plane, random_walk(commodity, today, seed=seed))
    models = trainer.handler({}, context)["models"]
    assert [m["serves"] for m in models] == ["naive"] * 3, [m["promotion"] for m in models]

    for commodity in ("corn", "wheat", "soybeans"):
        result = predictor({"commodity": commodity}, context)
        assert result["method"] == "naive" and result["model_version"].startswith(f"{today.isoformat()}-naive-")
        assert result["predicted_price"] == result["current_price"]
        assert result["lower_95"] < result["lower_80"] < result["current_price"] < result["upper_80"] < result["upper_95"]
        legacy = get_json(plane, NAMES.legacy_bucket, f"predictions/latest/{commodity}.json")
        assert set(legacy) == LEGACY_FIELDS and legacy["predicted_price"] == legacy["current_price"]


def test_missing_model_raises_and_stores_nothing(seeded, predictor, context):
    with pytest.raises(errors.ModelNotFound, match=r"corn: no promoted model; s3://test-data/models/corn/latest.json"):
        predictor({"commodity": "corn"}, context)
    assert stored_items(seeded, "corn") == []


@pytest.mark.parametrize("commodity, method, file", [("wheat", "model", "model.json"), ("soybeans", "naive", "naive.json")])
def test_checksum_mismatch_raises(published, predictor, context, commodity, method, file):
    s3 = published.client("s3")
    pointer = get_json(published, NAMES.data_bucket, f"models/{commodity}/latest.json")
    assert pointer["method"] == method
    s3.put_object(Bucket=NAMES.data_bucket, Key=pointer["model_key"], Body=b"tampered bytes")
    with pytest.raises(errors.ModelChecksumMismatch, match=rf"{commodity}: .*{file} has sha256 [0-9a-f]{{64}}, latest.json expects"):
        predictor({"commodity": commodity}, context)
    assert stored_items(published, commodity) == []


def test_model_trained_on_other_features_is_refused(published, predictor, context):
    pointer = get_json(published, NAMES.data_bucket, "models/corn/latest.json")
    metadata = get_json(published, NAMES.data_bucket, pointer["metadata_key"])
    metadata["features"] = metadata["features"][:-1]
    published.client("s3").put_object(Bucket=NAMES.data_bucket, Key=pointer["metadata_key"], Body=json.dumps(metadata).encode())
    with pytest.raises(errors.ModelIncompatible, match="corn: model .* expects features"):
        predictor({"commodity": "corn"}, context)


def test_warm_container_reuses_the_verified_model(published, predictor, context):
    predictor({"commodity": "corn"}, context)
    pointer = get_json(published, NAMES.data_bucket, "models/corn/latest.json")
    published.client("s3").delete_object(Bucket=NAMES.data_bucket, Key=pointer["model_key"])
    assert predictor({"commodity": "corn"}, context)["model_sha256"] == pointer["sha256"], (
        "a warm invocation must not download the model again"
    )
    from predictor import service

    service._MODELS.clear()
    with pytest.raises(errors.ModelNotFound, match="does not exist"):
        predictor({"commodity": "corn"}, context)


def _rewrite_year(plane, commodity, year, transform):
    s3 = plane.client("s3")
    key = f"prices/{commodity}/{year}.csv"
    rows = parse_csv(s3.get_object(Bucket=NAMES.data_bucket, Key=key)["Body"].read().decode(), source=key)
    s3.put_object(Bucket=NAMES.data_bucket, Key=key, Body=transform(to_csv(rows), rows).encode())


def test_stale_prices_are_refused(published, predictor, context, today):
    cutoff = today - timedelta(days=10)
    _rewrite_year(published, "corn", today.year, lambda text, rows: to_csv([r for r in rows if r.date <= cutoff]))
    with pytest.raises(errors.StaleData, match=r"corn: newest price is from .* days before .*; the limit is 4 days"):
        predictor({"commodity": "corn"}, context)


def test_too_few_prices_are_refused(published, predictor, context, today):
    s3 = published.client("s3")
    for item in s3.list_objects_v2(Bucket=NAMES.data_bucket, Prefix="prices/corn/")["Contents"]:
        s3.delete_object(Bucket=NAMES.data_bucket, Key=item["Key"])
    _keep_last = 30
    from demo.prices import generate

    rows = generate("corn", today)[-_keep_last:]
    s3.put_object(Bucket=NAMES.data_bucket, Key=f"prices/corn/{today.year}.csv", Body=to_csv(rows).encode())
    with pytest.raises(errors.InsufficientData, match=r"corn: 30 price rows up to .*, need at least 61"):
        predictor({"commodity": "corn", "as_of": today.isoformat()}, context)


@pytest.mark.parametrize("bad_close, message", [
    ("nan", r"close on .* is nan, not a finite number"),
    ("0", r"close on .* is 0.0, prices must be positive"),
    ("-4.2", r"close on .* is -4.2, prices must be positive"),
    ("n/a", r"close 'n/a' is not a number"),
])
def test_bad_price_values_are_refused(published, predictor, context, today, bad_close, message):
    def corrupt(text, rows):
        lines = text.splitlines()
        date_, commodity, _ = lines[-1].split(",")
        lines[-1] = f"{date_},{commodity},{bad_close}"
        return "\n".join(lines) + "\n"

    _rewrite_year(published, "wheat", today.year, corrupt)
    with pytest.raises(errors.InvalidPrices, match=message):
        predictor({"commodity": "wheat"}, context)
    assert stored_items(published, "wheat") == []


@pytest.mark.parametrize("event, message", [
    (None, "event must be a JSON object like"),
    (["corn"], "event must be a JSON object like"),
    ({}, "event must name a commodity"),
    ({"commodity": 7}, "commodity must be a string, got 7"),
    ({"commodity": "corn", "horizon": 5}, "event has unknown field(s) horizon; allowed: as_of, commodity"),
    ({"commodity": "corn", "as_of": "20/11/2026"}, "as_of must be a YYYY-MM-DD date, got '20/11/2026'"),
    ({"commodity": "corn", "as_of": "2999-01-01"}, "as_of 2999-01-01 is in the future"),
])
def test_malformed_events_are_refused_with_a_clear_message(plane, predictor, context, event, message):
    with pytest.raises(errors.InvalidEvent) as raised:
        predictor(event, context)
    assert message in str(raised.value)


def test_unknown_commodity_is_refused(plane, predictor, context):
    with pytest.raises(errors.UnknownCommodity, match="unknown commodity 'oats'; this deployment forecasts corn, wheat, soybeans"):
        predictor({"commodity": "oats"}, context)


def test_legacy_access_denied_still_stores_and_counts_the_failure(published, predictor, context, capfd, caplog, today):
    deny = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{NAMES.legacy_bucket}/*",
        }],
    }
    published.client("s3").put_bucket_policy(Bucket=NAMES.legacy_bucket, Policy=json.dumps(deny))

    result = predictor({"commodity": "corn"}, context)

    assert result["legacy_written"] is False
    assert len(stored_items(published, "corn")) == 1, "the prediction must be stored despite the legacy failure"
    assert get_json(published, NAMES.data_bucket, f"predictions/corn/{today.isoformat()}.json")["commodity"] == "corn"
    blobs = emitted_metrics(capfd.readouterr().out)
    assert metric_value(blobs, "LegacyWriteFailures", commodity="corn") == 1
    assert metric_value(blobs, "PredictionsWritten", commodity="corn") == 1
    logged = [r for r in caplog.records if r.getMessage() == "legacy write failed"]
    assert logged and logged[0].levelname == "ERROR", "the failure must be logged as an error"
    assert "Forbidden" in logged[0].exc_text or "AccessDenied" in logged[0].exc_text


def test_missing_configuration_is_named(published, predictor, context, monkeypatch):
    monkeypatch.delenv("PREDICTIONS_TABLE")
    with pytest.raises(errors.MissingConfiguration, match="environment variable PREDICTIONS_TABLE is not set"):
        predictor({"commodity": "corn"}, context)


def test_a_version_published_before_intervals_existed_still_serves_with_derived_intervals(seeded, predictor, context, trained):
    """An upgrade must not leave a night without forecasts: the serving model from the earlier release
    (UBJSON, no method, no intervals in its metadata) is served, its intervals derived from its own
    held-out forecasts, until the next training run publishes a current version."""
    import hashlib

    import numpy as np
    import xgboost as xgb

    from common.intervals import conformal_half_width

    result = trained["corn"]
    booster = xgb.Booster()
    booster.load_model(bytearray(result.model))
    model = bytes(booster.save_raw("ubj"))
    sha = hashlib.sha256(model).hexdigest()
    folder = f"models/corn/2026-11-20-{sha[:12]}/"
    old = {key: value for key, value in result.metadata.items() if key not in ("method", "intervals", "tests", "configuration", "model_target")}
    old.update(version=f"2026-11-20-{sha[:12]}", model_sha256=sha, model_key=folder + "model.ubj", model_format="xgboost-ubj", promoted=True)
    backtest = result.backtest.drop(columns=["window"]).tail(250)
    s3 = seeded.client("s3")
    s3.put_object(Bucket=NAMES.data_bucket, Key=folder + "model.ubj", Body=model)
    s3.put_object(Bucket=NAMES.data_bucket, Key=folder + "metadata.json", Body=json.dumps(old).encode())
    s3.put_object(Bucket=NAMES.data_bucket, Key=folder + "backtest.csv", Body=backtest.to_csv(index=False).encode())
    pointer = {"version": old["version"], "model_key": old["model_key"], "metadata_key": folder + "metadata.json", "sha256": sha,
               "trained_at": old["trained_at"]}
    s3.put_object(Bucket=NAMES.data_bucket, Key="models/corn/latest.json", Body=json.dumps(pointer).encode())

    answer = predictor({"commodity": "corn"}, context)

    assert answer["method"] == "model" and answer["model_version"] == old["version"]
    assert answer["lower_95"] < answer["lower_80"] < answer["predicted_price"] < answer["upper_80"] < answer["upper_95"]
    errors = np.abs(np.log(backtest["actual"].to_numpy() / backtest["predicted"].to_numpy()))
    expected = answer["predicted_price"] * float(np.exp(round(conformal_half_width(errors, 0.8), 6)))
    assert answer["upper_80"] == pytest.approx(expected, abs=2e-4), "the trainer's formula on the version's own held-out errors"
    assert predictor({"commodity": "corn", "dry_run": True}, context)["skipped"] == [], "and the pre-traffic gate passes on it"
