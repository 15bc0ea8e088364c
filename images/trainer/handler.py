"""Trainer entry point: train each requested commodity, publish, and point each commodity at the method
that earned it (the model only when significantly better than the naive forecast).

Every commodity is attempted; if any failed, the run raises `TrainingFailed` naming them, so the
weekly schedule's retries, the DLQ and the Errors alarm see it.
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from common.contract import MetricNames
from common.environment import WorkloadEnvironment
from common.errors import TrainingFailed
from common.events import TrainingRequest, now_utc
from trainer import training

logger = Logger()
metrics = Metrics()
s3 = boto3.client("s3")


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event, context):
    try:
        request = TrainingRequest.parse(event)
        env = WorkloadEnvironment.from_env()
    except Exception:  # logged with the event's context, then raised unchanged
        logger.exception("training request refused")
        raise
    if request.dry_run:
        return _dry_run(env, request, context)
    results, failures = [], {}
    for commodity in request.commodities:
        try:
            rows, stray = training.read_history(s3, env, commodity, request.as_of)
            if stray:
                logger.warning("stray files under the price prefix were not read", extra={"commodity": commodity, "keys": stray[:20]})
                _emit(commodity, MetricNames.STRAY_PRICE_FILES, MetricUnit.Count, len(stray))
            result = training.train(
                commodity, rows, as_of=request.as_of, now=now_utc(), min_improvement=env.min_improvement,
                horizon=env.forecast_horizon_days, serving=training.read_serving(s3, env, commodity),
                allow_older=request.allow_older, significance=env.significance_level,
            )
            summary = training.publish(s3, env, result)
        except Exception as error:  # counted here, raised below once every commodity had its turn
            logger.exception("training failed", extra={"commodity": commodity})
            _emit(commodity, MetricNames.TRAINING_FAILURES, MetricUnit.Count, 1)
            failures[commodity] = f"{type(error).__name__}: {error}"
            continue
        results.append(summary)
        logger.info("model trained", extra=summary)
        metrics.add_metric(name=MetricNames.MODELS_TRAINED, unit=MetricUnit.Count, value=1)
        _emit(commodity, MetricNames.MODEL_PROMOTED, MetricUnit.Count, int(summary["promoted"]))
        if summary["demoted"]:
            logger.warning("the naive forecast replaces the serving model", extra={"commodity": commodity, "reasons": summary["promotion"]})
            _emit(commodity, MetricNames.MODEL_DEMOTED, MetricUnit.Count, 1)
        if result.metadata["promotion"]["older_than_serving"]:
            logger.warning("run older than the serving model", extra={"commodity": commodity, "promoted": summary["promoted"]})
            _emit(commodity, MetricNames.OLDER_THAN_SERVING, MetricUnit.Count, 1)
        _emit(commodity, MetricNames.MODEL_IMPROVEMENT_PCT, MetricUnit.Percent, summary["improvement"] * 100)
    if failures:
        raise TrainingFailed("; ".join(f"{name}: {reason}" for name, reason in failures.items()))
    return {"as_of": request.as_of.isoformat(), "models": results}


def _dry_run(env: WorkloadEnvironment, request, context) -> dict:
    """Validate inputs, prove the stack and the write permission; publish nothing. Failures raise."""
    try:
        report = training.dry_run(s3, env, request, request_id=context.aws_request_id)
    except Exception:  # logged with the event's context, then raised unchanged
        logger.exception("dry run failed")
        raise
    metrics.add_metric(name=MetricNames.DRY_RUN, unit=MetricUnit.Count, value=1)
    logger.info("dry run passed", extra=report)
    return report


def _emit(commodity: str, name: str, unit: MetricUnit, value: float) -> None:
    """One metric with its own commodity dimension (one invocation trains several commodities)."""
    with single_metric(name=name, unit=unit, value=value, default_dimensions=metrics.default_dimensions) as metric:
        metric.add_dimension(name=MetricNames.COMMODITY_DIMENSION, value=commodity)
