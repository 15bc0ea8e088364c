"""The price feed under mocks: its function (the predictor's image, the feed's handler), the bucket's
notification to its live alias, S3's permission on that alias only, least privilege, and alarms that
treat a silent feed as breaching."""

from __future__ import annotations

import json

import pytest

from stack_config import settings_from_config, stack_config
from tests.conftest import ROOT

FEED = "commodity-forecasts-{env}-price-feed"


@pytest.fixture(params=["dev", "prod"])
def stack(request):
    return request.param, request.getfixturevalue(f"{request.param}_graph")


def test_the_feed_runs_the_predictor_image_with_its_own_handler_and_dry_run(stack):
    env, graph = stack
    [function] = [f for f in graph.of_type("aws:lambda/function:Function") if f.inputs["name"] == FEED.format(env=env)]
    [predictor] = [f for f in graph.of_type("aws:lambda/function:Function") if f.inputs["name"].endswith("-corn")]
    assert function.inputs["imageUri"] == predictor.inputs["imageUri"], "one image, two entry points"
    assert function.inputs["imageConfig"] == {"commands": ["predictor.ingest.handler"]}
    [gate] = [g for g in graph.of_type("aws:lambda/invocation:Invocation") if g.name == "price-feed-pre-traffic"]
    assert json.loads(gate.inputs["input"]) == {"dry_run": True}


def test_each_csv_dropped_under_incoming_invokes_the_live_alias(stack):
    env, graph = stack
    [notification] = graph.of_type("aws:s3/bucketNotification:BucketNotification")
    [target] = notification.inputs["lambdaFunctions"]
    assert target["lambdaFunctionArn"].endswith(f":function:{FEED.format(env=env)}:live")
    assert (target["events"], target["filterPrefix"], target["filterSuffix"]) == (["s3:ObjectCreated:*"], "incoming/", ".csv")
    [bucket] = [b for b in graph.of_type("aws:s3/bucket:Bucket") if b.name == "data-bucket"]
    assert notification.inputs["bucket"] == bucket.inputs["bucket"]
    [permission] = graph.of_type("aws:lambda/permission:Permission")
    assert (permission.inputs["principal"], permission.inputs["qualifier"]) == ("s3.amazonaws.com", "live")
    assert permission.inputs["sourceArn"] == bucket.state["arn"] and permission.inputs["sourceAccount"] == "123456789012"
    assert any(d.endswith("price-feed-invoke") for d in notification.depends_on), "S3 checks the permission when the notification is set"


def test_the_feed_may_touch_its_prefixes_only(stack):
    env, graph = stack
    [policy] = [p for p in graph.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "price-feed-policy"]
    by_sid = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    data = f"arn:aws:s3:::commodity-forecasts-{env}-data-123456789012-us-east-1"
    assert by_sid["ReadData"]["Resource"] == [f"{data}/incoming/*", f"{data}/prices/*"]
    assert by_sid["WriteData"]["Resource"] == [f"{data}/prices/*", f"{data}/processed/*", f"{data}/rejected/*"]
    assert by_sid["DeleteData"]["Resource"] == [f"{data}/incoming/*"]
    assert "PredictionsTable" not in by_sid and "WriteLegacyPrefix" not in by_sid, "no table, no app bucket"


def test_a_silent_feed_alarms_a_day_before_predictions_go_stale(stack):
    env, graph = stack
    alarms = {a.inputs["name"]: a.inputs for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    for commodity in ("corn", "wheat", "soybeans"):
        stale = alarms[f"{FEED.format(env=env)}-stale-{commodity}"]
        assert (stale["metricName"], stale["statistic"], stale["comparisonOperator"], stale["threshold"]) == ("NewCloses", "Sum", "LessThanThreshold", 1)
        assert stale["treatMissingData"] == "breaching", "no datapoint at all is a silent feed"
        assert stale["period"] * stale["evaluationPeriods"] == 3 * 24 * 3600, "max_price_age_days (4) less a day"
        assert stale["dimensions"] == {"commodity": commodity, "service": FEED.format(env=env)}
    rejected = alarms[f"{FEED.format(env=env)}-rejected-files"]
    assert (rejected["metricName"], rejected["threshold"]) == ("PriceFilesRejected", 1)


def test_the_feed_can_be_turned_off_and_needs_the_predictor_image():
    config = {**stack_config(ROOT, "dev"), "commodity-forecasts:price_feed": "false"}
    assert settings_from_config(config, stack="dev").price_feed is None
    config = {**stack_config(ROOT, "dev"), "commodity-forecasts:images": json.dumps({"trainer": {}}),
              "commodity-forecasts:functions": json.dumps([{"name": "trainer", "image": "trainer"}]),
              "commodity-forecasts:function_defaults": "{}"}
    from stack_config import SettingsError

    with pytest.raises(SettingsError, match="price_feed runs the predictor image"):
        settings_from_config(config, stack="dev")
