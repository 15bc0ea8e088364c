"""The predictor's data path under hostile conditions, on the emulator: what it loads must agree, every
malformed object is a typed error naming bucket and key, the prediction item is written atomically, and a
back-fill never touches the mobile app's document."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from common import errors
from predictor import service
from tests.images.conftest import NAMES, get_json

LATEST = "models/corn/latest.json"


@pytest.fixture
def predictor():
    from predictor import handler

    return handler.handler


def put(plane, key: str, body: bytes) -> None:
    plane.client("s3").put_object(Bucket=NAMES.data_bucket, Key=key, Body=body)


def rewrite_json(plane, key: str, change) -> None:
    document = get_json(plane, NAMES.data_bucket, key)
    change(document)
    put(plane, key, json.dumps(document).encode())


@pytest.mark.parametrize("body, message", [
    (b"", "is not valid JSON"),
    (b'{"version": "2026-11-20-ab', "is not valid JSON"),
    (b"\xff\xfe{}", "is not UTF-8 text"),
    (b"[1, 2]", "must hold a JSON object, got list"),
    (b'{"version": "v", "model_key": "k", "metadata_key": "m", "sha256": "s"}', "lacks 'trained_at'"),
], ids=["empty", "truncated", "not utf-8", "wrong shape", "missing field"])
def test_a_malformed_pointer_is_a_typed_error_naming_bucket_and_key(published, predictor, context, body, message):
    put(published, LATEST, body)
    with pytest.raises(errors.CorruptObject, match=rf"s3://{NAMES.data_bucket}/{LATEST} .*{message}"):
        predictor({"commodity": "corn"}, context)


@pytest.mark.parametrize("field, value", [
    ("commodity", "wheat"), ("version", "2026-01-01-000000000000"), ("model_sha256", "0" * 64), ("model_key", "models/corn/x/model.ubj"),
])
def test_metadata_that_disagrees_with_the_pointer_is_refused(published, predictor, context, field, value):
    pointer = get_json(published, NAMES.data_bucket, LATEST)
    rewrite_json(published, pointer["metadata_key"], lambda metadata: metadata.update({field: value}))
    with pytest.raises(errors.ModelMismatch, match=rf"s3://{NAMES.data_bucket}/{pointer['metadata_key']} does not describe .*{field} is"):
        predictor({"commodity": "corn"}, context)


def test_unparsable_trained_at_is_a_typed_error(published, predictor, context):
    pointer = get_json(published, NAMES.data_bucket, LATEST)
    rewrite_json(published, pointer["metadata_key"], lambda metadata: metadata.update(trained_at="last tuesday"))
    with pytest.raises(errors.ModelIncompatible, match=rf"s3://{NAMES.data_bucket}/{pointer['model_key']} cannot be read"):
        predictor({"commodity": "corn"}, context)


def test_a_price_file_that_is_not_utf8_is_named(published, predictor, context, today):
    key = f"prices/corn/{today.year}.csv"
    put(published, key, b"date,commodity,close\n\xff\xfe")
    with pytest.raises(errors.CorruptObject, match=rf"s3://{NAMES.data_bucket}/{key} is not UTF-8"):
        predictor({"commodity": "corn"}, context)


def test_an_existing_item_missing_attributes_is_a_typed_error(published, predictor, context, today):
    first = predictor({"commodity": "corn"}, context)
    dynamodb = published.client("dynamodb")
    key = {"commodity": {"S": "corn"}, "effective_date": {"S": today.isoformat()}}
    dynamodb.update_item(TableName=NAMES.predictions_table, Key=key, UpdateExpression="REMOVE model_sha256")
    assert first["effective_date"] == today.isoformat()
    with pytest.raises(errors.CorruptObject, match=rf"{NAMES.predictions_table} item \(corn, {today}\) lacks attribute 'model_sha256'"):
        predictor({"commodity": "corn"}, context)


def test_concurrent_runs_with_the_same_inputs_store_one_item_and_all_return_it(published, trained, today):
    s3, dynamodb = published.client("s3"), published.client("dynamodb")
    from common.events import PredictionRequest, now_utc

    request = PredictionRequest.parse({"commodity": "wheat"})
    model = service.load_model(s3, NAMES, "wheat")
    rows = service.recent_prices(s3, NAMES, request)
    base = service.predict(model, rows, request.as_of, now_utc())
    candidates = [replace(base, created_at=f"{today.isoformat()}T02:00:{second:02d}+00:00") for second in range(8)]
    start, results = threading.Barrier(len(candidates)), []

    def run(prediction):
        client = published.client("dynamodb")
        start.wait()
        results.append(service.store(client, NAMES, prediction))

    threads = [threading.Thread(target=run, args=(c,)) for c in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    items = dynamodb.query(
        TableName=NAMES.predictions_table, KeyConditionExpression="commodity = :c",
        ExpressionAttributeValues={":c": {"S": "wheat"}},
    )["Items"]
    assert len(items) == 1
    assert len({r.created_at for r in results}) == 1, "every racer returns exactly the stored item"
    assert items[0]["created_at"]["S"] == results[0].created_at


def test_a_new_model_replaces_the_item_deliberately_and_a_stale_replacement_is_retried(published, today):
    dynamodb = published.client("dynamodb")
    from common.events import PredictionRequest, now_utc

    s3 = published.client("s3")
    request = PredictionRequest.parse({"commodity": "corn"})
    first = service.predict(service.load_model(s3, NAMES, "corn"), service.recent_prices(s3, NAMES, request), request.as_of, now_utc())
    service.store(dynamodb, NAMES, first)
    newer = replace(first, model_sha256="1" * 64, model_version="2026-11-26-111111111111", predicted_price=first.predicted_price + 0.1)
    assert service.store(dynamodb, NAMES, newer) == newer
    racing = replace(first, model_sha256="2" * 64, model_version="2026-11-26-222222222222")
    real_get = dynamodb.get_item
    calls = {"n": 0}

    def get_then_someone_else_writes(**kwargs):
        answer = real_get(**kwargs)
        calls["n"] += 1
        if calls["n"] == 1:  # between our read and our conditional write, another run replaces the item
            service.store(published.client("dynamodb"), NAMES, replace(first, model_sha256="3" * 64, model_version="v3"))
        return answer

    dynamodb.get_item = get_then_someone_else_writes
    assert service.store(dynamodb, NAMES, racing) == racing
    assert calls["n"] == 2, "the stale conditional write failed and was retried against the new version"


def test_a_backfill_writes_its_dated_outputs_but_never_the_apps_document(published, predictor, context, today):
    scheduled = predictor({"commodity": "soybeans"}, context)
    document_before = published.client("s3").get_object(Bucket=NAMES.legacy_bucket, Key="predictions/latest/soybeans.json")["Body"].read()
    earlier = (today - timedelta(days=7)).isoformat()
    backfilled = predictor({"commodity": "soybeans", "as_of": earlier}, context)
    assert backfilled["backfill"] is True and backfilled["legacy_written"] is False
    assert scheduled["backfill"] is False and scheduled["legacy_written"] is True
    document_after = published.client("s3").get_object(Bucket=NAMES.legacy_bucket, Key="predictions/latest/soybeans.json")["Body"].read()
    assert document_after == document_before
    assert get_json(published, NAMES.data_bucket, f"predictions/soybeans/{earlier}.json")["effective_date"] == earlier


@pytest.mark.parametrize("as_of, message", [
    ("20261120", "as_of must be a YYYY-MM-DD date, got '20261120'"),
    ("1999-12-31", "as_of 1999-12-31 is before 2000-01-01, earlier than any price history this project keeps"),
    ("x" * 5000, "as_of must be a YYYY-MM-DD date, got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (5002 characters)"),
])
def test_as_of_is_strict_and_errors_echo_a_bounded_slice(plane, predictor, context, as_of, message):
    with pytest.raises(errors.InvalidEvent) as raised:
        predictor({"commodity": "corn", "as_of": as_of}, context)
    assert str(raised.value) == message
    assert len(str(raised.value)) < 200
