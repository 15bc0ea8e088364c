"""The cost estimate's storage requests per run (tools.cost.REQUESTS_PER_RUN) are what the workloads
really make: counted on every S3 and DynamoDB call of a real run against the emulator."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

from tools.cost import REQUESTS_PER_RUN, RunRequests

S3_TIER_1 = {"PutObject", "CopyObject", "ListObjectsV2", "ListObjects", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@contextmanager
def counting(*clients):
    """Every API call the clients make while inside, by `service.Operation`."""
    calls: Counter = Counter()

    def on_call(event_name, **_):
        calls[event_name.split(".", 1)[1]] += 1  # before-call.s3.GetObject -> s3.GetObject

    for client in clients:
        client.meta.events.register("before-call", on_call)
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", on_call)


def by_price_class(calls: Counter) -> RunRequests:
    def total(service, selected):
        return sum(n for call, n in calls.items() if call.startswith(f"{service}.") and selected(call.split(".", 1)[1]))

    return RunRequests(
        s3_get=total("s3", lambda op: op not in S3_TIER_1), s3_put=total("s3", lambda op: op in S3_TIER_1),
        dynamodb_write=total("dynamodb", lambda op: op in DYNAMODB_WRITES),
        dynamodb_read=total("dynamodb", lambda op: op not in DYNAMODB_WRITES),
    )


def test_a_scheduled_prediction_makes_the_requests_the_estimate_prices(published, context):
    from predictor import handler

    with counting(handler.s3, handler.dynamodb) as calls:
        handler.handler({"commodity": "corn"}, context)
    assert by_price_class(calls) == REQUESTS_PER_RUN["predictor"], dict(calls)


def test_a_weekly_training_run_makes_the_requests_the_estimate_prices(seeded, context):
    from trainer import handler

    with counting(handler.s3) as calls:
        handler.handler({}, context)
    assert by_price_class(calls) == REQUESTS_PER_RUN["trainer"], dict(calls)
