"""Monitoring: every alarm per function with its metric, statistic, threshold, period, missing-data
rule and actions; cold-start metric filters checked against real report records; one dashboard."""

from __future__ import annotations

import json

import pytest

from components.function import ContainerFunction, ContainerFunctionArgs
from components.image import LambdaImage, LambdaImageArgs
from components.cron import longest_gap_minutes
from components.monitoring import AlarmThresholds as AlarmSettings
from components.monitoring import MonitoredFunction, Monitoring, MonitoringArgs, init_duration_filter
from components.registry import EcrRepository, EcrRepositoryArgs
from stack_config import SettingsError, settings_from_config, stack_config
from tests.conftest import ROOT, run_program
from tests.filter_patterns import match, metric_value

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PREDICTORS = ("corn", "wheat", "soybeans")
TIMEOUTS = {"corn": 120, "wheat": 120, "soybeans": 120, "trainer": 900}

JSON_COLD = json.dumps({
    "time": "2026-11-23T02:00:03.123Z", "type": "platform.report",
    "record": {"requestId": "6f2c1d9e", "status": "success", "metrics": {
        "durationMs": 812.4, "billedDurationMs": 813, "memorySizeMB": 1024, "maxMemoryUsedMB": 210, "initDurationMs": 1450.2}},
})
JSON_WARM = json.dumps({
    "time": "2026-11-23T02:15:03.456Z", "type": "platform.report",
    "record": {"requestId": "0b7e44aa", "status": "success", "metrics": {
        "durationMs": 95.1, "billedDurationMs": 96, "memorySizeMB": 1024, "maxMemoryUsedMB": 212}},
})
JSON_APP_LOG = json.dumps({"level": "INFO", "message": "model loaded", "record": {"metrics": {"initDurationMs": 5}}})
TEXT_COLD = (
    "REPORT RequestId: 6f2c1d9e-8b1a-4c1e-9d1e-3c2b1a0f9e8d\tDuration: 812.40 ms\tBilled Duration: 813 ms\t"
    "Memory Size: 1024 MB\tMax Memory Used: 210 MB\tInit Duration: 290.29 ms\t\n"
    "XRAY TraceId: 1-6741a3b2-1c2d3e4f5a6b7c8d9e0f1a2b\tSegmentId: 7a8b9c0d1e2f3a4b\tSampled: true\t"
)
TEXT_WARM = (
    "REPORT RequestId: 0b7e44aa-1d2e-4f5a-8b9c-0d1e2f3a4b5c\tDuration: 95.10 ms\tBilled Duration: 96 ms\t"
    "Memory Size: 1024 MB\tMax Memory Used: 212 MB\t\n"
    "XRAY TraceId: 1-6741a3b2-aaaabbbbccccddddeeeeffff\tSegmentId: 1a2b3c4d5e6f7a8b\tSampled: true\t"
)
TEXT_COLD_UNTRACED = (
    "REPORT RequestId: 11111111-2222-3333-4444-555555555555\tDuration: 1.23 ms\tBilled Duration: 2 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 64 MB\tInit Duration: 2290.50 ms\t"
)


@pytest.fixture(params=["dev", "prod"])
def graph(request):
    return request.getfixturevalue(f"{request.param}_graph")


def alarms_of(graph, function):
    prefix = f"monitoring-{function}-"
    return {a.name[len(prefix):]: a for a in graph.of_type(ALARM) if a.name.startswith(prefix)}


def physical_name(graph, function):
    return f"{graph.outputs['dashboard']}-{function}"


def topic_arn(graph):
    [topic] = graph.of_type("aws:sns/topic:Topic")
    return topic.state["arn"]


@pytest.mark.parametrize("function", PREDICTORS + ("trainer",))
def test_every_function_has_its_alarms_wired_to_the_topic(graph, function):
    alarms = alarms_of(graph, function)
    expected = {"errors", "throttles", "duration", "cold-start", "dlq", "schedule-dlq"}
    if function != "trainer":
        expected |= {"missed-run", "model-age", "legacy-feed"}
    if function != "trainer" and graph.outputs["dashboard"].endswith("-prod"):
        expected |= {"spillover"}
    assert set(alarms) == expected
    topic = topic_arn(graph)
    for key, alarm in alarms.items():
        assert alarm.inputs["alarmActions"] == [topic], f"{alarm.urn}: alarm must notify the topic"
        assert alarm.inputs["okActions"] == [topic], f"{alarm.urn}: recovery must notify the topic"
        assert alarm.inputs["alarmDescription"].endswith("Runbook: README.md#runbook")


def _spec(alarm):
    i = alarm.inputs
    return (i["namespace"], i["metricName"], i.get("statistic") or i.get("extendedStatistic"), i["threshold"],
            i["comparisonOperator"], i["period"], i["evaluationPeriods"], i["treatMissingData"])


@pytest.mark.parametrize("function", PREDICTORS + ("trainer",))
def test_alarm_metrics_statistics_thresholds_periods_and_missing_data(graph, function):
    alarms = alarms_of(graph, function)
    physical = physical_name(graph, function)
    assert _spec(alarms["errors"]) == ("AWS/Lambda", "Errors", "Sum", 1, "GreaterThanOrEqualToThreshold", 300, 1, "notBreaching")
    assert alarms["errors"].inputs["dimensions"] == {"FunctionName": physical}
    assert _spec(alarms["throttles"]) == ("AWS/Lambda", "Throttles", "Sum", 1, "GreaterThanOrEqualToThreshold", 300, 1, "notBreaching")
    assert _spec(alarms["duration"]) == (
        "AWS/Lambda", "Duration", "p99", TIMEOUTS[function] * 1000 * 0.8, "GreaterThanThreshold", 300, 1, "notBreaching"
    ), "the duration alarm must follow the function's own timeout"
    assert _spec(alarms["cold-start"]) == (
        "CommodityForecasts/ColdStarts", physical, "Maximum", 2000, "GreaterThanThreshold", 300, 1, "notBreaching"
    )
    for key in ("dlq", "schedule-dlq"):
        assert _spec(alarms[key]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 0, "GreaterThanThreshold", 300, 1, "notBreaching")
    queues = {q.state["name"] for q in graph.of_type("aws:sqs/queue:Queue") if q.name in (f"{function}-dlq", f"{function}-schedule-dlq")}
    assert {alarms["dlq"].inputs["dimensions"]["QueueName"], alarms["schedule-dlq"].inputs["dimensions"]["QueueName"]} == queues
    if function in PREDICTORS:
        dims = {"commodity": function, "service": physical}
        assert _spec(alarms["missed-run"]) == (
            "CommodityForecasts", "PredictionsWritten", "Sum", 1, "LessThanThreshold", 3600, 25, "breaching"
        ), "a daily run missing for 24 h + 1 h of slack, missing data breaching, must page"
        assert alarms["missed-run"].inputs["datapointsToAlarm"] == 25
        assert alarms["missed-run"].inputs["dimensions"] == dims
        assert _spec(alarms["model-age"]) == ("CommodityForecasts", "ModelAgeDays", "Maximum", 10, "GreaterThanThreshold", 3600, 1, "notBreaching")
        assert alarms["model-age"].inputs["dimensions"] == dims
        assert _spec(alarms["legacy-feed"]) == (
            "CommodityForecasts", "LegacyWriteFailures", "Sum", 0, "GreaterThanThreshold", 300, 1, "notBreaching"
        ), "a failed write of the mobile app's document is an outage for the app's users and must page"
        assert alarms["legacy-feed"].inputs["dimensions"] == dims


def test_spillover_alarms_only_where_provisioned_concurrency_is_on(dev_graph, prod_graph):
    assert not [a for a in dev_graph.of_type(ALARM) if a.name.endswith("-spillover")]
    spillover = {a.name: a.inputs for a in prod_graph.of_type(ALARM) if a.name.endswith("-spillover")}
    assert set(spillover) == {f"monitoring-{p}-spillover" for p in PREDICTORS}
    corn = spillover["monitoring-corn-spillover"]
    assert corn["metricName"] == "ProvisionedConcurrencySpilloverInvocations"
    assert corn["dimensions"] == {"FunctionName": "commodity-forecasts-prod-corn", "Resource": "commodity-forecasts-prod-corn:live"}
    assert (corn["statistic"], corn["threshold"], corn["comparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")


def test_the_stacks_topic_is_encrypted_with_the_bootstraps_key_and_emails_subscribe(dev_graph):
    [topic] = dev_graph.of_type("aws:sns/topic:Topic")
    assert dev_graph.of_type("aws:kms/key:Key") == [], "the stack writes no key policy: the bootstrap made the key"
    assert topic.inputs["kmsMasterKeyId"] == "alias/commodity-forecasts-dev-alarms", "the alarm topic must be KMS-encrypted"
    assert topic.inputs["name"] == "commodity-forecasts-dev-alarms", "named, so the deploying identity is scoped to it"
    [subscription] = dev_graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "ml-dev-alerts@example.com")


def test_without_a_given_key_the_component_makes_one_cloudwatch_may_use():
    graph = _monitor(AlarmSettings())
    [topic] = graph.of_type("aws:sns/topic:Topic")
    [key] = graph.of_type("aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"], "the alarm topic must be KMS-encrypted"
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["CloudWatchAlarmsPublish"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statements["CloudWatchAlarmsPublish"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    for statement in statements.values():
        assert not [a for a in statement["Action"] if "*" in a], "no wildcard actions, key policy included"


@pytest.mark.parametrize("function", PREDICTORS + ("trainer",))
def test_each_function_has_a_cold_start_metric_filter_on_its_own_log_group(graph, function):
    [metric_filter] = [f for f in graph.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter") if f.name == f"monitoring-{function}-init-duration"]
    inputs = metric_filter.inputs
    physical = physical_name(graph, function)
    assert inputs["logGroupName"] == f"/aws/lambda/{physical}"
    assert (inputs["pattern"], inputs["metricTransformation"]["value"]) == init_duration_filter("JSON"), (
        "the functions log JSON, so the filter must read platform.report records"
    )
    assert inputs["metricTransformation"]["name"] == physical
    assert inputs["metricTransformation"]["namespace"] == "CommodityForecasts/ColdStarts"


def test_json_filter_reads_init_duration_from_cold_platform_reports_only():
    pattern, value = init_duration_filter("JSON")
    assert metric_value(pattern, value, JSON_COLD) == 1450.2
    assert match(pattern, JSON_WARM)[0] is False, "warm invocations have no init duration"
    assert match(pattern, JSON_APP_LOG)[0] is False, "application logs are not platform reports"
    assert match(pattern, TEXT_COLD)[0] is False


def test_text_filter_reads_init_duration_from_report_lines_only():
    pattern, value = init_duration_filter("Text")
    assert metric_value(pattern, value, TEXT_COLD) == 290.29
    assert metric_value(pattern, value, TEXT_COLD_UNTRACED) == 2290.5
    assert match(pattern, TEXT_WARM)[0] is False
    assert match(pattern, JSON_COLD)[0] is False
    assert match(pattern, "START RequestId: 6f2c1d9e Version: 3")[0] is False


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="log_format must be one of JSON, Text, got 'XML'"):
        init_duration_filter("XML")


def test_dashboard_is_valid_json_and_references_every_function_and_alarm(graph):
    [dashboard] = graph.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dashboard.inputs["dashboardBody"])
    text = json.dumps(body)
    for function in PREDICTORS + ("trainer",):
        physical = physical_name(graph, function)
        assert physical in text, f"dashboard must show {physical}"
    [status] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(status["properties"]["alarms"]) == sorted(a.state["arn"] for a in graph.of_type(ALARM))
    [runbook] = [w for w in body["widgets"] if w["type"] == "text"]
    assert "[runbook](README.md#runbook)" in runbook["properties"]["markdown"]
    durations = [w for w in body["widgets"] if w["type"] == "metric" and w["properties"]["title"] == "corn: duration (ms)"]
    assert durations[0]["properties"]["annotations"]["horizontal"] == [{"label": "timeout", "value": 120000}]
    for widget in body["widgets"]:
        assert 0 <= widget["x"] and widget["x"] + widget["width"] <= 24, "widgets must fit the 24-column grid"


def test_longest_gap_between_runs():
    assert longest_gap_minutes("cron(0 2 * * ? *)") == 1440
    assert longest_gap_minutes("cron(0 2 ? * MON-FRI *)") == 3 * 1440
    assert longest_gap_minutes("cron(0 1 ? * SUN *)") == 7 * 1440
    assert longest_gap_minutes("cron(0 6,18 * * ? *)") == 720
    assert longest_gap_minutes("rate(2 hours)") == 120
    assert longest_gap_minutes("cron(0 2 1 * ? *)") is None


def _base(**overrides):
    config = stack_config(ROOT, "dev")
    config.update({f"commodity-forecasts:{k}": str(v) for k, v in overrides.items()})
    return config


@pytest.mark.parametrize("key, value, message", [
    ("alarm_duration_timeout_percent", 120, "alarm_duration_timeout_percent must be between 10 and 100, got 120"),
    ("alarm_errors_threshold", 0, "alarm_errors_threshold must be between 1 and 1000, got 0"),
    ("alarm_cold_start_ms", 20000, "alarm_cold_start_ms must be between 100 and 10000, got 20000"),
    ("alarm_model_age_days", 0, "alarm_model_age_days must be between 1 and 365, got 0"),
    ("alarm_missed_run_slack_minutes", 2, "alarm_missed_run_slack_minutes must be between 5 and 1440, got 2"),
])
def test_bad_thresholds_are_refused(key, value, message):
    with pytest.raises(SettingsError) as raised:
        settings_from_config(_base(**{key: value}), stack="dev")
    assert str(raised.value) == message


def _monitor(thresholds: AlarmSettings, schedule_expression: str | None = "cron(0 2 * * ? *)"):
    def program():
        repo = EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor"))
        image = LambdaImage("predictor-arm64", LambdaImageArgs(image="predictor", architecture="arm64", repository=repo, context_dir="images"))
        function = ContainerFunction("corn", ContainerFunctionArgs(function_name="cf-dev-corn", image=image, description="corn", timeout_seconds=60))
        Monitoring("monitoring", MonitoringArgs(
            name_prefix="cf-dev", region="us-east-1", thresholds=thresholds,
            functions=(MonitoredFunction("corn", function, schedule_expression=schedule_expression,
                                         business_dimensions={"commodity": "corn", "service": "cf-dev-corn"}),),
        ))

    return run_program(program)


def test_thresholds_from_settings_reach_the_alarms():
    settings = settings_from_config(_base(alarm_duration_timeout_percent=50, alarm_cold_start_ms=1500), stack="dev")
    alarms = {a.name: a.inputs for a in _monitor(settings.alarms).of_type(ALARM)}
    assert alarms["monitoring-corn-duration"]["threshold"] == 30000, "50% of a 60-second timeout"
    assert alarms["monitoring-corn-cold-start"]["threshold"] == 1500
    assert "monitoring-corn-schedule-dlq" not in alarms, "no schedule, no schedule DLQ alarm"


def test_weekday_schedule_widens_the_missed_run_window():
    alarms = {a.name: a.inputs for a in _monitor(AlarmSettings(), "cron(0 2 ? * MON-FRI *)").of_type(ALARM)}
    assert alarms["monitoring-corn-missed-run"]["evaluationPeriods"] == 73, "Friday to Monday is 72 hours, plus 1 of slack"


def test_missed_run_alarm_refuses_schedules_longer_than_cloudwatch_can_watch():
    with pytest.raises(ValueError, match="a missed-run alarm needs runs at most 7 days apart"):
        _monitor(AlarmSettings(), "cron(0 2 1 * ? *)")


def test_component_refuses_bad_thresholds():
    with pytest.raises(ValueError, match="duration_timeout_percent must be between 10 and 100, got 5"):
        _monitor(AlarmSettings(duration_timeout_percent=5))
