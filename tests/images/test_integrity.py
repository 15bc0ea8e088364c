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
    ("commodity", "wheat"), ("version", "2026-01-01-000000000000"), ("model_sha256", "0" * 64), ("model_key", "models/corn/x/model.json"),
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


def test_a_missing_year_between_price_files_is_a_named_gap(seeded, context, today):
    from trainer import handler

    missing = f"prices/corn/{today.year - 2}.csv"
    seeded.client("s3").delete_object(Bucket=NAMES.data_bucket, Key=missing)
    with pytest.raises(errors.TrainingFailed, match=rf"corn: PricesGap: corn: s3://{NAMES.data_bucket}/{missing} is missing between"):
        handler.handler({"commodity": "corn"}, context)


def _rewrite_recent(plane, today, change) -> None:
    from common.schema import parse_csv, to_csv

    key = f"prices/corn/{today.year}.csv"
    s3 = plane.client("s3")
    rows = parse_csv(s3.get_object(Bucket=NAMES.data_bucket, Key=key)["Body"].read().decode(), source=key)
    s3.put_object(Bucket=NAMES.data_bucket, Key=key, Body=to_csv(change(rows)).encode())


def test_a_hole_inside_the_look_back_window_is_a_named_gap(published, predictor, context, today):
    _rewrite_recent(published, today, lambda rows: rows[:-15] + rows[-8:])
    with pytest.raises(errors.PricesGap, match=r"corn: 7 trading days missing between .* inside the features' look-back window"):
        predictor({"commodity": "corn"}, context)


def test_a_stuck_feed_of_constant_prices_is_refused(published, predictor, context, today):
    _rewrite_recent(published, today, lambda rows: [replace(row, close=4.25) for row in rows])
    with pytest.raises(errors.InvalidPrices, match=r"corn: the close is 4.25 on all 61 days .*: a stuck feed"):
        predictor({"commodity": "corn"}, context)


def test_stray_files_are_never_read_but_logged_and_counted(seeded, context, capfd, caplog):
    from tests.images.conftest import emitted_metrics, metric_value
    from trainer import handler

    s3 = seeded.client("s3")
    for stray in ("prices/corn/notes.txt", "prices/corn/2024.csv.bak", "prices/corn/backup/2024.csv"):
        s3.put_object(Bucket=NAMES.data_bucket, Key=stray, Body=b"\xff not a price file")
    result = handler.handler({"commodity": "corn"}, context)
    assert result["models"][0]["commodity"] == "corn", "stray files do not break training (they are not read)"
    assert metric_value(emitted_metrics(capfd.readouterr().out), "StrayPriceFiles", commodity="corn") == 3
    assert [r for r in caplog.records if r.getMessage() == "stray files under the price prefix were not read"]


def http_event(body, *, base64_encoded: bool = False) -> dict:
    """A Function URL request as Lambda delivers it (payload format 2.0)."""
    import base64

    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"}, "requestId": "r1"},
        "body": base64.b64encode(text.encode()).decode() if base64_encoded else text,
        "isBase64Encoded": base64_encoded,
    }


def test_a_function_url_request_is_answered_with_the_prediction(published, predictor, context, today):
    answer = predictor(http_event({"commodity": "wheat"}, base64_encoded=True), context)
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "application/json"
    body = json.loads(answer["body"])
    assert body["commodity"] == "wheat" and body["effective_date"] == today.isoformat()


@pytest.mark.parametrize("body, reason", [
    ({"commodity": "oats"}, "unknown commodity 'oats'"),
    ("{not json", "the request body is not JSON"),
    ("", "the request needs a JSON body"),
    ({"commodity": "corn", "as_of": "tomorrow"}, "as_of must be a YYYY-MM-DD date, got 'tomorrow'"),
])
def test_a_bad_function_url_request_is_a_400_with_the_reason(plane, predictor, context, body, reason):
    answer = predictor(http_event(body), context)
    assert answer["statusCode"] == 400
    assert reason in json.loads(answer["body"])["error"]


def test_a_real_failure_behind_a_function_url_still_raises(plane, predictor, context):
    with pytest.raises(errors.ModelNotFound):
        predictor(http_event({"commodity": "corn"}), context)


def test_a_price_file_named_for_a_year_before_any_history_is_refused_before_any_read(seeded, context):
    """`prices/corn/0001.csv` would make history start in year 1: one GET per year, about 2,000 of them,
    then the file skipped. It is refused by name instead, and counted as a training failure."""
    from tests.images.test_request_profiles import counting
    from trainer import handler

    seeded.client("s3").put_object(Bucket=NAMES.data_bucket, Key="prices/corn/0001.csv", Body=b"date,commodity,close\n")
    with counting(handler.s3) as calls:
        with pytest.raises(errors.TrainingFailed, match=rf"corn: PriceFileOutOfRange: corn: s3://{NAMES.data_bucket}/prices/corn/0001.csv names year 1, before 2000"):
            handler.handler({"commodity": "corn"}, context)
    assert calls["s3.GetObject"] == 0, dict(calls)


def test_a_trained_at_without_a_time_zone_is_refused_when_the_model_loads(published, predictor, context):
    pointer = get_json(published, NAMES.data_bucket, LATEST)
    rewrite_json(published, pointer["metadata_key"], lambda metadata: metadata.update(trained_at="2026-11-20T03:00:00"))
    with pytest.raises(errors.CorruptObject, match=rf"s3://{NAMES.data_bucket}/{pointer['metadata_key']}: trained_at '2026-11-20T03:00:00' has no time zone"):
        service.load_model(published.client("s3"), NAMES, "corn")
    service._MODELS.clear()
    with pytest.raises(errors.CorruptObject, match="has no time zone"):
        predictor({"commodity": "corn"}, context)


def test_a_deeply_nested_json_object_is_a_typed_error_naming_bucket_and_key(published, predictor, context):
    pointer = get_json(published, NAMES.data_bucket, LATEST)
    put(published, pointer["metadata_key"], b'{"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    with pytest.raises(errors.CorruptObject, match=rf"s3://{NAMES.data_bucket}/{pointer['metadata_key']} is JSON nested deeper"):
        predictor({"commodity": "corn"}, context)


@pytest.mark.parametrize("model_format", ["xgboost-json", "xgboost-ubj"])
def test_a_deeply_nested_model_with_a_matching_checksum_is_a_typed_error_naming_bucket_and_key(published, predictor, context, model_format):
    import hashlib

    nested = b"[" * 200_000 + b"]" * 200_000  # an array in both formats ("[" is UBJSON's array marker too)
    pointer = get_json(published, NAMES.data_bucket, "models/wheat/latest.json")
    assert pointer["method"] == "model"
    put(published, pointer["model_key"], nested)
    rewrite_json(published, pointer["metadata_key"], lambda m: m.update(model_sha256=hashlib.sha256(nested).hexdigest(), model_format=model_format))
    put(published, "models/wheat/latest.json", json.dumps({**pointer, "sha256": hashlib.sha256(nested).hexdigest()}).encode())
    with pytest.raises(errors.ModelIncompatible, match=rf"wheat: s3://{NAMES.data_bucket}/{pointer['model_key']} cannot be read: .*nested deeper"):
        predictor({"commodity": "wheat"}, context)
