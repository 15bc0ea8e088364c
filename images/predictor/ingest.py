"""The price feed: each CSV file a daily feed drops under the data bucket's `incoming/` is checked and
merged into the price history exactly as `tools.prices load` merges one (common/price_feed.py), then
moved to `processed/` — or, when refused, to `rejected/` with its reasons beside it. Triggered by the
bucket's ObjectCreated notification (an S3 event record per file).

Every step is idempotent, so a repeated or late delivery of the same event (S3 delivers at least once)
and Lambda's retries change nothing twice: a merged file merges to no change, the move is a copy then
a delete, and a file already moved away is skipped. A merge that lost a race with another writer
raises, so Lambda retries it; a refused file does not (retrying cannot fix it): it is kept, with its
reasons, and counted, which the rejected-feed alarm watches.
"""

from __future__ import annotations

import io
import os
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import ClientError

from common.contract import INCOMING_PREFIX, PRICES_PREFIX, PROCESSED_PREFIX, REJECTED_PREFIX, Env, MetricNames
from common.dry_run import DryRunReport, marker_key, prove_object_write
from common.errors import InvalidEvent, MissingConfiguration, WriteAccessDenied
from common.price_feed import RejectedPrices, merge, read_rows

logger = Logger()
metrics = Metrics()
s3 = boto3.client("s3")
_MISSING = ("NoSuchKey", "404", "NotFound")


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics
def handler(event, context):
    """Each record's file: merged and moved to `processed/`, refused and moved to `rejected/`, or skipped.
    `{"dry_run": true}` (the pre-traffic gate's event) proves the bucket and every write instead."""
    if isinstance(event, dict) and event.get("dry_run") is True:
        return _dry_run(context)
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise InvalidEvent("the price feed takes S3 event notifications: an object with a Records list")
    outcomes = [ingest(record) for record in records]
    return {"files": outcomes}


def _dry_run(context) -> dict:
    """Every prefix the feed writes gets one marker written and deleted (the drop zone's delete included):
    a missing permission fails the new version before it is live."""
    bucket = os.environ.get(Env.DATA_BUCKET)
    if not bucket:
        raise MissingConfiguration(f"{Env.DATA_BUCKET} is not set: the price feed cannot know its bucket")
    report = DryRunReport()
    written = [prove_object_write(s3, bucket, prefix, context.aws_request_id) for prefix in (PRICES_PREFIX, PROCESSED_PREFIX, REJECTED_PREFIX)]
    report.passed("write_access", "wrote and deleted " + ", ".join(f"s3://{bucket}/{key}" for key in written))
    # The drop zone is only ever deleted from: deleting a key that is not there proves the permission.
    absent = marker_key(INCOMING_PREFIX, context.aws_request_id)
    try:
        s3.delete_object(Bucket=bucket, Key=absent)
    except ClientError as error:
        raise WriteAccessDenied(f"dry run: s3:DeleteObject on s3://{bucket}/{absent} failed: {error.response.get('Error', {}).get('Code')}") from None
    report.passed("drop_zone", f"may delete under s3://{bucket}/{INCOMING_PREFIX}")
    metrics.add_metric(name=MetricNames.DRY_RUN, unit=MetricUnit.Count, value=1)
    return report.as_dict()


def _location(record) -> tuple[str, str]:
    try:
        return record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])
    except (KeyError, TypeError):
        raise InvalidEvent(f"an S3 event record names its bucket and key (s3.bucket.name, s3.object.key), got {record!r:.300}") from None


def ingest(record) -> dict:
    bucket, key = _location(record)
    where = f"s3://{bucket}/{key}"
    if not key.startswith(INCOMING_PREFIX) or not key.endswith(".csv"):
        logger.warning("not a price file under the drop zone; left alone", extra={"object": where})
        return {"object": where, "outcome": "ignored"}
    try:
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            logger.info("already moved by an earlier delivery of this event", extra={"object": where})
            return {"object": where, "outcome": "already processed"}
        raise
    except UnicodeDecodeError as error:
        return _reject(bucket, key, f"{where} is not UTF-8 text (byte {error.start})")
    try:
        merged = merge(s3, bucket, PRICES_PREFIX, read_rows(io.StringIO(text), source=where))
    except RejectedPrices as error:
        return _reject(bucket, key, str(error))
    _move(bucket, key, PROCESSED_PREFIX)
    metrics.add_metric(name=MetricNames.PRICE_FILES_INGESTED, unit=MetricUnit.Count, value=1)
    for commodity, count in merged.new_closes.items():
        _new_closes(commodity, count)
    logger.info("price file merged", extra={"object": where, "written": merged.written, "new_closes": merged.new_closes})
    return {"object": where, "outcome": "processed", "new_closes": merged.new_closes}


def _new_closes(commodity: str, count: int) -> None:
    """The freshness alarm's metric: closes each commodity gained (a stale feed adds none), one record per
    commodity with the same dimensions as the predictors' metrics (commodity, service)."""
    service = os.environ.get(Env.SERVICE, "")
    with single_metric(name=MetricNames.NEW_CLOSES, unit=MetricUnit.Count, value=count,
                       default_dimensions={MetricNames.SERVICE_DIMENSION: service}) as metric:
        metric.add_dimension(name=MetricNames.COMMODITY_DIMENSION, value=commodity)


def _reject(bucket: str, key: str, reasons: str) -> dict:
    """Kept under `rejected/` with a `.reasons.txt` beside it, never lost, and counted."""
    moved = _move(bucket, key, REJECTED_PREFIX)
    s3.put_object(Bucket=bucket, Key=f"{moved}.reasons.txt", Body=(reasons + "\n").encode(), ContentType="text/plain")
    metrics.add_metric(name=MetricNames.PRICE_FILES_REJECTED, unit=MetricUnit.Count, value=1)
    logger.error("price file rejected; nothing of it was written", extra={"object": f"s3://{bucket}/{key}", "kept_as": moved, "reasons": reasons})
    return {"object": f"s3://{bucket}/{key}", "outcome": "rejected", "kept_as": f"s3://{bucket}/{moved}", "reasons": reasons}


def _move(bucket: str, key: str, prefix: str) -> str:
    """Copy, then delete: a crash between the two leaves the file where the next delivery finds it."""
    target = prefix + key[len(INCOMING_PREFIX):]
    s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
    s3.delete_object(Bucket=bucket, Key=key)
    return target
