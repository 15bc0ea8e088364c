"""Dry runs on the emulator: the whole path runs, nothing anyone reads changes (byte for byte), only the
DryRun metric is emitted, a first deployment passes with the data-dependent checks reported as skipped,
and a broken input or a missing permission fails the run with the bucket, key or table it concerns."""

from __future__ import annotations

import json

import pytest

from common import errors
from tests.images.conftest import NAMES, emitted_metrics, metric_value

BUSINESS_METRICS = {"PredictionsWritten", "PredictedChangePct", "ModelAgeDays", "LegacyWriteFailures",
                    "ModelsTrained", "ModelPromoted", "ModelDemoted", "ModelImprovementPct", "TrainingFailures"}


def everything_readable(plane) -> dict:
    """Every current object (key → bytes) in both buckets and every table item."""
    s3 = plane.client("s3")
    state = {}
    for bucket in (NAMES.data_bucket, NAMES.legacy_bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                state[f"s3://{bucket}/{item['Key']}"] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    items = plane.client("dynamodb").scan(TableName=NAMES.predictions_table)["Items"]
    state["table"] = sorted(json.dumps(item, sort_keys=True) for item in items)
    return state


def metric_names(stdout: str) -> set[str]:
    return {m["Name"] for blob in emitted_metrics(stdout) for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


@pytest.fixture
def predictor():
    from predictor import handler

    return handler.handler


@pytest.fixture
def trainer():
    from trainer import handler

    return handler.handler


@pytest.mark.parametrize("commodity", ["corn", "soybeans"])
def test_a_predictor_dry_run_exercises_everything_and_changes_nothing(published, predictor, context, capfd, commodity):
    from predictor import service

    predictor({"commodity": commodity}, context)  # a real run first: the table and the app's document exist
    capfd.readouterr()
    before, cache_before = everything_readable(published), dict(service._MODELS)

    report = predictor({"commodity": commodity, "dry_run": True}, context)

    assert report["dry_run"] is True and report["skipped"] == []
    assert list(report["checks"]) == ["configuration", "model", "prices", "prediction", "write_access"]
    assert all(outcome.startswith("passed") for outcome in report["checks"].values()), report
    assert f"_dry-run/{context.aws_request_id}.json" in report["checks"]["write_access"]
    assert everything_readable(published) == before, "a dry run must leave every object and item as it was"
    assert service._MODELS == cache_before
    out = capfd.readouterr().out
    assert metric_value(emitted_metrics(out), "DryRun", commodity=commodity) == 1
    assert not metric_names(out) & BUSINESS_METRICS


def test_a_first_deployment_dry_run_passes_and_says_what_it_could_not_check(plane, predictor, trainer, context):
    report = predictor({"commodity": "corn", "dry_run": True}, context)
    assert report["skipped"] == ["model", "prices", "prediction"]
    assert "models/corn/latest.json does not exist" in report["checks"]["model"]
    assert report["checks"]["write_access"].startswith("passed")

    training = trainer({"dry_run": True}, context)
    assert training["skipped"] == ["corn: history", "wheat: history", "soybeans: history"]
    assert everything_readable(plane) == {"table": []}, "no marker is left behind"


def test_a_trainer_dry_run_validates_and_fits_a_little_but_publishes_nothing(seeded, trainer, context, capfd):
    before = everything_readable(seeded)
    report = trainer({"commodity": "wheat", "dry_run": True}, context)
    assert report["checks"]["wheat: history"].startswith("passed")
    assert report["checks"]["wheat: serving"].startswith("skipped: nothing serves yet")
    assert report["checks"]["wheat: fit"].startswith("passed")
    assert everything_readable(seeded) == before
    out = capfd.readouterr().out
    assert metric_value(emitted_metrics(out), "DryRun") == 1 and not metric_names(out) & BUSINESS_METRICS


def test_a_corrupt_pointer_fails_the_dry_run_like_a_real_run(published, predictor, context):
    published.client("s3").put_object(Bucket=NAMES.data_bucket, Key="models/corn/latest.json", Body=b"{")
    with pytest.raises(errors.CorruptObject, match=f"s3://{NAMES.data_bucket}/models/corn/latest.json is not valid JSON"):
        predictor({"commodity": "corn", "dry_run": True}, context)


def test_a_missing_write_permission_fails_the_dry_run_naming_bucket_and_key(published, predictor, context):
    deny = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{NAMES.legacy_bucket}/*",
    }]}
    published.client("s3").put_bucket_policy(Bucket=NAMES.legacy_bucket, Policy=json.dumps(deny))
    marker = f"s3://{NAMES.legacy_bucket}/{NAMES.legacy_prefix}_dry-run/{context.aws_request_id}.json"
    # S3 answers AccessDenied; moto, 403 Forbidden.
    with pytest.raises(errors.WriteAccessDenied, match=f"dry run: s3:PutObject on {marker} failed: (AccessDenied|403)"):
        predictor({"commodity": "corn", "dry_run": True}, context)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_dry_run_must_be_a_boolean(plane, predictor, context, value):
    with pytest.raises(errors.InvalidEvent, match="dry_run must be true or false"):
        predictor({"commodity": "corn", "dry_run": value}, context)
