"""Monitoring: alarms that catch real failures of scheduled functions, an encrypted SNS topic, one dashboard."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from .contract import MetricNames
from .cron import longest_gap_minutes
from .errors import ComponentError, check_range
from .function import ALIAS, ContainerFunction
from .limits import (
    ALARM_COLD_START_MS,
    ALARM_DURATION_TIMEOUT_PERCENT,
    ALARM_ERRORS,
    ALARM_MISSED_RUN_SLACK_MINUTES,
    ALARM_MODEL_AGE_DAYS,
    ALARM_RANGES,
    ALARM_THROTTLES,
    LOG_FORMATS,
    MAX_ALARM_WINDOW_MINUTES,
)
from .schedule import Schedule

COLD_START_NAMESPACE = "CommodityForecasts/ColdStarts"
"""Where the init-duration metric filters publish (Lambda itself publishes no InitDuration metric)."""


class MonitoringError(ComponentError):
    """Monitoring's inputs were refused (thresholds, log format, monitored functions)."""


@dataclass(frozen=True)
class AlarmThresholds:
    """Alarm thresholds, the same for every function (durations follow each function's timeout); ranges
    and defaults: components/limits.py."""

    errors: int = int(ALARM_ERRORS.default)
    """Errors in 5 minutes that page (≥)."""
    throttles: int = int(ALARM_THROTTLES.default)
    duration_timeout_percent: int = int(ALARM_DURATION_TIMEOUT_PERCENT.default)
    """p99 duration above this share of the timeout pages before runs start timing out."""
    cold_start_ms: int = int(ALARM_COLD_START_MS.default)
    model_age_days: int = int(ALARM_MODEL_AGE_DAYS.default)
    """A weekly trainer plus three days of slack."""
    missed_run_slack_minutes: int = int(ALARM_MISSED_RUN_SLACK_MINUTES.default)
    """Added to a schedule's longest gap before a run counts as missed."""

_TEXT_REPORT_FIELDS = (
    'report = "REPORT"', 'request_id_label = "RequestId:"', "request_id",
    'duration_label = "Duration:"', "duration", 'duration_unit = "ms"',
    'billed = "Billed"', 'billed_label = "Duration:"', "billed_duration", 'billed_unit = "ms"',
    'memory = "Memory"', 'memory_label = "Size:"', "memory_size", 'memory_unit = "MB"',
    'max = "Max"', 'max_memory = "Memory"', 'used_label = "Used:"', "max_memory_used", 'max_memory_unit = "MB"',
    'init = "Init"', 'init_label = "Duration:"', "init_duration", 'init_unit = "ms"', "...",
)


def init_duration_filter(log_format: str) -> tuple[str, str]:
    """(filter pattern, metric value) extracting the init duration from a function's REPORT record.

    JSON log format: the `platform.report` record, `record.metrics.initDurationMs` (present only on a
    cold start). Text: the `REPORT RequestId: … Init Duration: 290.29 ms` line, matched field by field
    (`...` skips the XRAY suffix tracing adds).
    """
    if log_format == "JSON":
        return '{ $.type = "platform.report" && $.record.metrics.initDurationMs > 0 }', "$.record.metrics.initDurationMs"
    if log_format == "Text":
        return "[" + ", ".join(_TEXT_REPORT_FIELDS) + "]", "$init_duration"
    raise MonitoringError("log-format", f"log_format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")


@dataclass(frozen=True)
class MonitoredFunction:
    name: str
    """Short name used in alarm names and the dashboard (e.g. `corn`)."""
    function: ContainerFunction
    schedule: Schedule | None = None
    schedule_expression: str | None = None
    """Effective expression; a missed-run alarm needs it."""
    business_dimensions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Dimensions of the workload's EMF metrics (e.g. commodity, service); empty for functions
    that emit no PredictionsWritten / ModelAgeDays."""
    legacy_feed: bool = True
    """With business dimensions: the function writes the mobile app's document and counts LegacyWriteFailures
    (alarmed as `legacy-feed`). False for a stack without a legacy bucket."""
    price_feed: "PriceFeedWatch | None" = None
    """The function is the price feed: watch each commodity's new closes and the files it refuses."""


@dataclass(frozen=True)
class PriceFeedWatch:
    """What the price feed's alarms watch."""

    commodities: tuple[str, ...]
    window_minutes: int
    """A commodity that gained no close in this long alarms (missing data breaching, so a silent feed does
    too): a day shorter than the predictors' freshness limit, so the page comes before their StaleData."""


FINDING_SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""Inspector's severities of a finding, least to most severe (UNTRIAGED aside: it has no rank to page on)."""


@dataclass(frozen=True)
class ImageFindings:
    """Which Amazon Inspector findings on the stack's images page: those on its repositories, at or above
    a severity, still ACTIVE, and not reviewed and accepted (the scan gate's allow list)."""

    repository_arns: tuple[pulumi.Input[str], ...]
    """The stack's repositories: an image finding's event names its image as `<repository ARN>/sha256:<digest>`."""
    min_severity: str = "CRITICAL"
    """The least severe finding that pages (the scan gate's threshold: what would block a deploy pages)."""
    accepted_ids: tuple[str, ...] = ()
    """Vulnerability ids that never page (allow-listed; expiry is the gate's to enforce, at the next deploy)."""


@dataclass(frozen=True)
class MonitoringArgs:
    name_prefix: str
    """Alarm and dashboard names start with it (unique per account and region)."""
    region: str
    functions: tuple[MonitoredFunction, ...]
    emails: tuple[str, ...] = ()
    thresholds: AlarmThresholds = AlarmThresholds()
    metrics_namespace: str = MetricNames.NAMESPACE
    runbook_url: str = "README.md#runbook"
    topic_key: pulumi.Input[str] | None = None
    """The KMS key (ARN or `alias/…`) encrypting the alarm topic, whose policy lets CloudWatch use it
    (`alarm_topic_key_policy`). None: the component creates that key itself. A stack deployed by an
    identity that may not write key policies passes one made outside the stack (the bootstrap's)."""
    image_findings: ImageFindings | None = None
    """Inspector findings to page on (an EventBridge rule to the alarm topic); None: none."""


@dataclass(frozen=True)
class _Alarm:
    key: str
    description: str
    namespace: pulumi.Input[str]
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str
    threshold: float
    comparison: str
    period: int = 300
    evaluation_periods: int = 1
    treat_missing_data: str = "notBreaching"


class Monitoring(pulumi.ComponentResource):
    """An SNS topic (KMS-encrypted with its own key, since CloudWatch cannot use the AWS-managed SNS
    key) with email subscriptions; per function the alarms below, each with alarm and OK actions; one
    dashboard for the stack.

    Alarms per function: Errors, Throttles, p99 Duration vs timeout, cold start (init duration from
    a log metric filter), both dead-letter queues' depth; with provisioned concurrency, spillover; for
    functions emitting business metrics, a missed run (no PredictionsWritten over the schedule's
    longest gap plus slack, missing data breaching) and model age.
    """

    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    alarm_names: list[pulumi.Output[str]]
    alarms: dict[str, dict[str, aws.cloudwatch.MetricAlarm]]
    """Per function short name, alarm key → alarm."""
    findings_rule: aws.cloudwatch.EventRule | None
    """The EventBridge rule sending Inspector findings on the stack's images to the topic."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(args)
        super().__init__("commodity-forecasts:monitoring:Monitoring", name, None, opts)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        topic = self._topic(name, args, account)
        self.findings_rule = self._image_findings(name, args, topic) if args.image_findings is not None else None
        self._topic_policy(name, args, account, topic)
        self.alarms = {}
        alarm_names: list[pulumi.Output[str]] = []
        for monitored in args.functions:
            self.alarms[monitored.name] = self._function_alarms(name, args, monitored, topic)
            alarm_names += [alarm.name for alarm in self.alarms[monitored.name].values()]
            self._cold_start_filter(name, monitored)

        alarm_arns = [alarm.arn for alarms in self.alarms.values() for alarm in alarms.values()]
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.name_prefix,
            dashboard_body=pulumi.Output.json_dumps(dashboard_body(args, alarm_arns)),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.topic_arn = topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.alarm_names = alarm_names
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name, "alarm_names": alarm_names})

    def _topic(self, name: str, args: MonitoringArgs, account) -> aws.sns.Topic:
        """The alarm topic, named after the stack (so a deploying identity can be scoped to it), encrypted
        with a KMS key CloudWatch may use (given, or its own), and its emails."""
        child = pulumi.ResourceOptions(parent=self)
        key_id = args.topic_key
        if key_id is None:
            key_id = aws.kms.Key(
                f"{name}-key",
                description=f"{args.name_prefix} alarm topic",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=account.apply(
                    lambda account_id: json.dumps(alarm_topic_key_policy(account_id, findings=args.image_findings is not None))
                ),
                opts=child,
            ).arn
        topic = aws.sns.Topic(f"{name}-topic", name=f"{args.name_prefix}-alarms", kms_master_key_id=key_id, opts=child)
        for index, email in enumerate(args.emails):
            aws.sns.TopicSubscription(f"{name}-email-{index}", topic=topic.arn, protocol="email", endpoint=email, opts=child)
        return topic

    def _image_findings(self, name: str, args: MonitoringArgs, topic: aws.sns.Topic) -> aws.cloudwatch.EventRule:
        """Inspector's finding events for the stack's repositories, at or above the severity, as one line each
        on the topic: repository@digest, severity, CVE, package (EventBridge's input transformer)."""
        findings = args.image_findings
        assert findings is not None
        rule = aws.cloudwatch.EventRule(
            f"{name}-image-findings",
            name=f"{args.name_prefix}-image-findings",
            description=f"Amazon Inspector findings at or above {findings.min_severity} on {args.name_prefix}'s images",
            event_pattern=pulumi.Output.all(*findings.repository_arns).apply(lambda arns: json.dumps(findings_pattern(findings, arns))),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-image-findings-target",
            rule=rule.name,
            arn=topic.arn,
            input_transformer={"input_paths": dict(FINDING_INPUT_PATHS), "input_template": FINDING_TEMPLATE},
            opts=pulumi.ResourceOptions(parent=self),
        )
        return rule

    def _topic_policy(self, name: str, args: MonitoringArgs, account, topic: aws.sns.Topic) -> aws.sns.TopicPolicy:
        """Who may publish: CloudWatch for the stack's own alarms, EventBridge for the findings rule only,
        each scoped by `aws:SourceArn` (it replaces the topic's default policy)."""
        rule_arn = self.findings_rule.arn if self.findings_rule is not None else None
        return aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account, rule_arn).apply(
                lambda values: json.dumps(topic_policy(values[0], values[1], args.region, args.name_prefix, values[2]))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _function_alarms(self, name: str, args: MonitoringArgs, monitored, topic) -> dict[str, aws.cloudwatch.MetricAlarm]:
        """One alarm per check of `_alarms_for`, each alarming and recovering to the topic."""
        alarms = {}
        for alarm in _alarms_for(monitored, args):
            alarms[alarm.key] = aws.cloudwatch.MetricAlarm(
                f"{name}-{monitored.name}-{alarm.key}",
                name=f"{monitored.function.args.function_name}-{alarm.key}",
                alarm_description=f"{alarm.description} Runbook: {args.runbook_url}",
                namespace=alarm.namespace,
                metric_name=alarm.metric,
                dimensions=dict(alarm.dimensions),
                **({"extended_statistic": alarm.statistic} if alarm.statistic.startswith("p") else {"statistic": alarm.statistic}),
                threshold=alarm.threshold,
                comparison_operator=alarm.comparison,
                period=alarm.period,
                evaluation_periods=alarm.evaluation_periods,
                datapoints_to_alarm=alarm.evaluation_periods,
                treat_missing_data=alarm.treat_missing_data,
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                opts=pulumi.ResourceOptions(parent=self),
            )
        return alarms

    def _cold_start_filter(self, name: str, monitored) -> None:
        """Init duration from the function's REPORT records, as a metric the cold-start alarm reads."""
        pattern, value = init_duration_filter(monitored.function.args.log_format)
        aws.cloudwatch.LogMetricFilter(
            f"{name}-{monitored.name}-init-duration",
            log_group_name=monitored.function.log_group.name,
            pattern=pattern,
            metric_transformation={
                "name": monitored.function.args.function_name,
                "namespace": COLD_START_NAMESPACE,
                "value": value,
                "unit": "Milliseconds",
            },
            opts=pulumi.ResourceOptions(parent=self),
        )


def _alarms_for(monitored: MonitoredFunction, args: MonitoringArgs) -> list[_Alarm]:
    thresholds = args.thresholds
    function = monitored.function
    lambda_dims = {"FunctionName": function.args.function_name}
    alarms = [
        _Alarm("errors", "The function raised: a run failed and will be retried, then dead-lettered.",
               "AWS/Lambda", "Errors", lambda_dims, "Sum", thresholds.errors, "GreaterThanOrEqualToThreshold"),
        _Alarm("throttles", "Invocations were throttled: reserved or account concurrency is exhausted.",
               "AWS/Lambda", "Throttles", lambda_dims, "Sum", thresholds.throttles, "GreaterThanOrEqualToThreshold"),
        _Alarm("duration", f"p99 duration is above {thresholds.duration_timeout_percent}% of the {function.args.timeout_seconds} s timeout.",
               "AWS/Lambda", "Duration", lambda_dims, "p99", function.args.timeout_seconds * 10 * thresholds.duration_timeout_percent,
               "GreaterThanThreshold"),
        _Alarm("cold-start", f"A cold start's init duration exceeded {thresholds.cold_start_ms} ms.",
               COLD_START_NAMESPACE, function.args.function_name, {}, "Maximum", thresholds.cold_start_ms, "GreaterThanThreshold"),
        _Alarm("dlq", "A failed asynchronous invocation is waiting in the function's dead-letter queue.",
               "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": function.dlq.name}, "Maximum", 0, "GreaterThanThreshold"),
    ]
    if monitored.schedule is not None:
        alarms.append(_Alarm(
            "schedule-dlq", "Scheduler could not deliver a run: it is waiting in the schedule's dead-letter queue.",
            "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": monitored.schedule.dlq_name}, "Maximum", 0,
            "GreaterThanThreshold",
        ))
    if function.args.provisioned_concurrency > 0:
        alarms.append(_Alarm(
            "spillover", "Invocations ran beyond provisioned concurrency (cold) while it was expected to be warm.",
            "AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations",
            {"FunctionName": function.args.function_name, "Resource": f"{function.args.function_name}:{ALIAS}"}, "Sum", 0,
            "GreaterThanThreshold",
        ))
    if monitored.price_feed is not None:
        alarms += _price_feed_alarms(monitored, args)
    if monitored.business_dimensions:
        dims = dict(monitored.business_dimensions)
        if monitored.schedule_expression is not None:
            window = longest_gap_minutes(monitored.schedule_expression) + thresholds.missed_run_slack_minutes
            alarms.append(_Alarm(
                "missed-run", f"No prediction was written in the last {window} minutes: the scheduled job silently stopped.",
                args.metrics_namespace, MetricNames.PREDICTIONS_WRITTEN, dims, "Sum", 1, "LessThanThreshold",
                period=3600, evaluation_periods=math.ceil(window / 60), treat_missing_data="breaching",
            ))
        alarms.append(_Alarm(
            "model-age", f"The model in use is older than {thresholds.model_age_days} days: the trainer is not promoting models.",
            args.metrics_namespace, MetricNames.MODEL_AGE_DAYS, dims, "Maximum", thresholds.model_age_days, "GreaterThanThreshold",
            period=3600,
        ))
        if monitored.legacy_feed:
            alarms.append(_Alarm(
                "legacy-feed", "The mobile app's document could not be written: the app keeps showing an older forecast.",
                args.metrics_namespace, MetricNames.LEGACY_WRITE_FAILURES, dims, "Sum", 0, "GreaterThanThreshold",
            ))
    return alarms


def _price_feed_alarms(monitored: MonitoredFunction, args: MonitoringArgs) -> list[_Alarm]:
    """No new close for a commodity within the window (a stale feed), and any refused file."""
    watch, service = monitored.price_feed, monitored.function.args.function_name
    hours = math.ceil(watch.window_minutes / 60)
    alarms = [
        _Alarm(
            f"stale-{commodity}", f"No new {commodity} close arrived in {hours} hours: the price feed is silent, and "
            "predictions will fail as stale within a day.",
            args.metrics_namespace, MetricNames.NEW_CLOSES,
            {MetricNames.COMMODITY_DIMENSION: commodity, MetricNames.SERVICE_DIMENSION: service}, "Sum", 1, "LessThanThreshold",
            period=3600, evaluation_periods=hours, treat_missing_data="breaching",
        )
        for commodity in watch.commodities
    ]
    alarms.append(_Alarm(
        "rejected-files", "A price file was refused: it is kept under rejected/ with its reasons beside it; nothing of it was merged.",
        args.metrics_namespace, MetricNames.PRICE_FILES_REJECTED, {MetricNames.SERVICE_DIMENSION: service}, "Sum", 1,
        "GreaterThanOrEqualToThreshold",
    ))
    return alarms


def dashboard_body(args: MonitoringArgs, alarm_arns: Sequence[pulumi.Input[str]]) -> dict[str, Any]:
    """One row per function: traffic, duration vs timeout, concurrency, cold starts, business, DLQs."""
    widgets: list[dict[str, Any]] = [
        {
            "type": "text", "x": 0, "y": 0, "width": 12, "height": 3,
            "properties": {"markdown": (
                f"# {args.name_prefix}\nScheduled container functions and their alarms. "
                f"What each alarm means and what to check first: [runbook]({args.runbook_url})."
            )},
        },
        {
            "type": "alarm", "x": 12, "y": 0, "width": 12, "height": 3,
            "properties": {"title": "Alarms", "alarms": list(alarm_arns)},
        },
    ]
    y = 3
    for monitored in args.functions:
        function = monitored.function
        name = function.args.function_name
        qualified = f"{name}:{ALIAS}"
        region = args.region
        dlqs = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", function.dlq.name, {"label": "function DLQ"}]]
        if monitored.schedule is not None:
            dlqs.append(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", monitored.schedule.dlq_name, {"label": "schedule DLQ"}])
        row = [
            _metric_widget(f"{monitored.name}: invocations, errors, throttles", region, "Sum", [
                ["AWS/Lambda", "Invocations", "FunctionName", name],
                ["AWS/Lambda", "Errors", "FunctionName", name],
                ["AWS/Lambda", "Throttles", "FunctionName", name],
            ]),
            _metric_widget(f"{monitored.name}: duration (ms)", region, "p50", [
                ["AWS/Lambda", "Duration", "FunctionName", name, {"stat": "p50", "label": "p50"}],
                ["AWS/Lambda", "Duration", "FunctionName", name, {"stat": "p99", "label": "p99"}],
            ], annotations={"horizontal": [{"label": "timeout", "value": function.args.timeout_seconds * 1000}]}),
            _metric_widget(f"{monitored.name}: concurrency", region, "Maximum", [
                ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", name],
                ["AWS/Lambda", "ProvisionedConcurrencyUtilization", "FunctionName", name, "Resource", qualified],
                ["AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations", "FunctionName", name, "Resource", qualified, {"stat": "Sum"}],
            ]),
            _metric_widget(f"{monitored.name}: cold starts (init ms)", region, "Maximum", [
                [COLD_START_NAMESPACE, name, {"label": "init duration"}],
            ], annotations={"horizontal": [{"label": "alarm", "value": args.thresholds.cold_start_ms}]}),
        ]
        if monitored.business_dimensions:
            dims = [part for key, value in monitored.business_dimensions.items() for part in (key, value)]
            row.append(_metric_widget(f"{monitored.name}: predicted change %, model age, app feed", region, "Maximum", [
                [args.metrics_namespace, MetricNames.PREDICTED_CHANGE_PCT, *dims],
                [args.metrics_namespace, MetricNames.MODEL_AGE_DAYS, *dims, {"yAxis": "right"}],
                [args.metrics_namespace, MetricNames.PREDICTIONS_WRITTEN, *dims, {"stat": "Sum"}],
                *([[args.metrics_namespace, MetricNames.LEGACY_WRITE_FAILURES, *dims, {"stat": "Sum", "label": "app feed write failures"}]]
                  if monitored.legacy_feed else []),
            ]))
        row.append(_metric_widget(f"{monitored.name}: dead-letter queues", region, "Maximum", dlqs))
        width = 24 // len(row)
        for index, widget in enumerate(row):
            widget.update(x=index * width, y=y, width=width, height=6)
        widgets.extend(row)
        y += 6
    return {"widgets": widgets}


def _metric_widget(title, region, stat, metrics, annotations=None) -> dict[str, Any]:
    properties: dict[str, Any] = {"title": title, "region": region, "stat": stat, "period": 300, "view": "timeSeries", "metrics": metrics}
    if annotations:
        properties["annotations"] = annotations
    return {"type": "metric", "properties": properties}


FINDING_INPUT_PATHS = MappingProxyType({
    "repository": "$.detail.resources[0].details.awsEcrContainerImage.repositoryName",
    "digest": "$.detail.resources[0].details.awsEcrContainerImage.imageHash",
    "severity": "$.detail.severity",
    "cve": "$.detail.packageVulnerabilityDetails.vulnerabilityId",
    "package": "$.detail.packageVulnerabilityDetails.vulnerablePackages[0].name",
    "version": "$.detail.packageVulnerabilityDetails.vulnerablePackages[0].version",
    "title": "$.detail.title",
})
"""Where an `Inspector2 Finding` event carries what the page names (AWS's sample event, ECR user guide:
image-scanning-enhanced, "Event for an image scan finding update")."""
FINDING_TEMPLATE = (
    '"Image vulnerability <severity> <cve> in <package> <version> (<title>) on <repository>@<digest>. '
    'Runbook: image-finding. Fix: rebuild on a patched base or package, or allow-list it with a reason."'
)
"""One line per finding; a JSON string, so SNS's email shows it as it is."""


def findings_pattern(findings: ImageFindings, repository_arns: Sequence[str]) -> dict[str, Any]:
    """EventBridge's pattern for Inspector finding events on the repositories (their ARNs, resolved) at or
    above the severity."""
    detail: dict[str, Any] = {
        "severity": list(FINDING_SEVERITIES[FINDING_SEVERITIES.index(findings.min_severity):]),
        "status": ["ACTIVE"],
    }
    if findings.accepted_ids:
        detail["packageVulnerabilityDetails"] = {"vulnerabilityId": [{"anything-but": sorted(findings.accepted_ids)}]}
    return {
        "source": ["aws.inspector2"],
        "detail-type": ["Inspector2 Finding"],
        # The event's `resources` lists the image's ARN; a prefix match on an array matches any element.
        "resources": [{"prefix": f"{arn}/sha256:"} for arn in repository_arns],
        "detail": detail,
    }


def topic_policy(topic_arn: str, account_id: str, region: str, name_prefix: str, findings_rule_arn: str | None) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [{
        "Sid": "CloudWatchAlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name_prefix}-*"},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    }]
    if findings_rule_arn is not None:
        statements.append({
            "Sid": "InspectorFindingsRulePublishes",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": findings_rule_arn}},
        })
    return {"Version": "2012-10-17", "Statement": statements}


def alarm_topic_key_policy(account_id: str, *, findings: bool = False) -> dict[str, Any]:
    """The alarm topic key's policy: the account administers the key (actions named, no wildcard);
    CloudWatch may encrypt alarm notifications for the topic and SNS may decrypt them for delivery. The
    bootstrap (tools/identities/bootstrap.py) gives its per-environment key the same policy, findings
    included. With findings, EventBridge may
    too, without a source condition: its requests to KMS carry no aws:SourceArn or aws:SourceAccount (SNS
    developer guide, compatibility of AWS event sources with encrypted topics), so a condition would drop
    every finding silently. The topic policy is what confines publishing to the stack's rule."""
    root = f"arn:aws:iam::{account_id}:root"
    administer = [
        "kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias", "kms:DescribeKey", "kms:EnableKey", "kms:DisableKey",
        "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
        "kms:PutKeyPolicy", "kms:ListResourceTags", "kms:ListGrants", "kms:ListKeyPolicies", "kms:TagResource",
        "kms:UntagResource", "kms:UpdateKeyDescription", "kms:CreateGrant", "kms:RevokeGrant", "kms:RetireGrant",
        "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": root}, "Action": administer, "Resource": "*"},
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            *([{
                "Sid": "EventBridgeFindingsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
            }] if findings else []),
        ],
    }


def _validate(args: MonitoringArgs) -> None:
    findings = args.image_findings
    if findings is not None and findings.min_severity not in FINDING_SEVERITIES:
        raise MonitoringError(
            "finding-severity", f"image_findings.min_severity must be one of {', '.join(FINDING_SEVERITIES)}, got {findings.min_severity!r}",
        )
    if findings is not None and not findings.repository_arns:
        raise MonitoringError("no-repositories", "image_findings.repository_arns must name at least one repository")
    for limit in ALARM_RANGES:
        check_range(MonitoringError, limit, getattr(args.thresholds, limit.name), where=limit.name)
    names = [m.name for m in args.functions]
    if len(names) != len(set(names)):
        raise MonitoringError("duplicate-function", f"monitored function names must be unique, got {names}")
    for monitored in args.functions:
        if monitored.price_feed is not None and not 60 <= monitored.price_feed.window_minutes <= MAX_ALARM_WINDOW_MINUTES:
            raise MonitoringError(
                "feed-window", f"{monitored.name}: the stale-feed window must be 1 hour to 7 days (CloudWatch's longest alarm window), "
                f"got {monitored.price_feed.window_minutes} minutes",
            )
    slack = args.thresholds.missed_run_slack_minutes
    for monitored in args.functions:
        if monitored.business_dimensions and monitored.schedule_expression is not None:
            gap = longest_gap_minutes(monitored.schedule_expression)
            if gap is None or gap + slack > MAX_ALARM_WINDOW_MINUTES:
                raise MonitoringError(
                    "missed-run-window",
                    f"{monitored.name}: a missed-run alarm needs runs at most 7 days apart (CloudWatch's longest alarm "
                    f"window); schedule {monitored.schedule_expression} plus {slack} minutes of slack is longer",
                )
