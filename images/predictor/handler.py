"""Predictor entry point: validate the event, forecast one commodity, store it, emit metrics.

Failures raise (after `logger.exception`), so Lambda's retries, the DLQ and the Errors alarm see
them. Only the legacy mobile JSON is best-effort: its failure is logged and counted, not fatal.
"""

from __future__ import annotations

import json

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from common.contract import MetricNames
from common.environment import WorkloadEnvironment
from common import events
from common.errors import InvalidEvent
from common.events import PredictionRequest, now_utc
from predictor import service

logger = Logger()
metrics = Metrics()
s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    """A scheduled or direct invocation (the event is the request, failures raise), or a Function URL
    request (HTTP payload 2.0: the JSON body is the request; a bad request is answered 400 with the
    reason, a prediction 200; any other failure still raises, so Lambda answers 502 and alarms see it)."""
    if events.is_http_request(event):
        try:
            request = PredictionRequest.parse(events.http_json_body(event))
        except InvalidEvent as error:
            logger.warning("bad on-demand request", extra={"reason": str(error)})
            return _http_response(400, {"error": str(error)})
        return _http_response(200, _dry_run(request, context) if request.dry_run else _predict(request))
    try:
        request = PredictionRequest.parse(event)
    except InvalidEvent:
        logger.exception("prediction failed")
        raise
    if request.dry_run:
        return _dry_run(request, context)
    return _predict(request)


def _dry_run(request: PredictionRequest, context) -> dict:
    """Every check of a run, no output anyone reads; only the DryRun metric. Failures raise, so the
    pre-traffic gate (an invocation of the new version) fails the deployment with this error."""
    try:
        env = WorkloadEnvironment.from_env()
        logger.append_keys(commodity=request.commodity, dry_run=True)
        report = service.dry_run(s3, dynamodb, env, request, request_id=context.aws_request_id, now=now_utc())
    except Exception:  # logged with the event's context, then raised unchanged
        logger.exception("dry run failed")
        raise
    metrics.add_dimension(name=MetricNames.COMMODITY_DIMENSION, value=request.commodity)
    metrics.add_metric(name=MetricNames.DRY_RUN, unit=MetricUnit.Count, value=1)
    logger.info("dry run passed", extra=report)
    return report


def _http_response(status: int, document: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}


def _predict(request: PredictionRequest) -> dict:
    try:
        env = WorkloadEnvironment.from_env()
        logger.append_keys(commodity=request.commodity, as_of=request.as_of.isoformat())
        model = service.load_model(s3, env, request.commodity)
        rows = service.recent_prices(s3, env, request, since=model.as_of)
        now = now_utc()
        recorded = service.record(
            s3, dynamodb, env, service.predict(model, rows, request.as_of, now), backfill=request.backfill, replace_stored=request.replace,
        )
    except Exception:  # logged with the event's context, then raised unchanged
        logger.exception("prediction failed")
        raise
    document = recorded.document
    legacy_failed = False
    if env.legacy_bucket is None:
        pass  # the stack has no legacy feed: no app document, no LegacyWriteFailures (and no alarm on it)
    elif request.backfill:
        # A back-fill writes its dated outputs only: the app's document shows the newest forecast.
        logger.info("back-fill: the mobile app's document is left as it is", extra={"as_of": request.as_of.isoformat(), "stored": recorded.outcome})
    else:
        legacy_failed = _write_legacy(env, recorded.prediction, now)
    fallback = document.get("interval_fallback") or ""
    if fallback:
        logger.warning("intervals degraded", extra={"reason": fallback, "model_version": document["model_version"]})
    metrics.add_dimension(name=MetricNames.COMMODITY_DIMENSION, value=request.commodity)
    metrics.add_metric(name=MetricNames.PREDICTIONS_WRITTEN, unit=MetricUnit.Count, value=int(recorded.outcome == "written" or not request.backfill))
    metrics.add_metric(name=MetricNames.PREDICTED_CHANGE_PCT, unit=MetricUnit.Percent, value=document["change_pct"])
    metrics.add_metric(name=MetricNames.MODEL_AGE_DAYS, unit=MetricUnit.Count, value=document["model_age_days"])
    if env.legacy_bucket is not None:
        metrics.add_metric(name=MetricNames.LEGACY_WRITE_FAILURES, unit=MetricUnit.Count, value=int(legacy_failed))
    metrics.add_metric(name=MetricNames.INTERVAL_FALLBACKS, unit=MetricUnit.Count, value=int(bool(fallback)))
    logger.info("prediction stored", extra={"prediction": document, "full_json": recorded.full_key, "stored": recorded.outcome})
    legacy_written = env.legacy_bucket is not None and not (legacy_failed or request.backfill)
    return {**document, "legacy_written": legacy_written, "backfill": request.backfill}


def _write_legacy(env: WorkloadEnvironment, prediction: service.Prediction, now) -> bool:
    """Write the mobile app's JSON; True when it failed (logged and counted, never raised)."""
    try:
        service.write_legacy_json(s3, env, prediction, now)
    except (ClientError, BotoCoreError):
        logger.exception("legacy write failed", extra={"legacy_bucket": env.legacy_bucket})
        return True
    return False
