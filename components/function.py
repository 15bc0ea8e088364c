"""ContainerFunction: a container-image Lambda function with everything it needs to run unattended."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import pulumi
import pulumi_aws as aws

from . import cron
from .errors import ComponentError, check_range
from .iam import PolicyStatement, RoleOptions, policy_document, service_trust_policy
from .image import LambdaImage
from .promoted_image import PromotedImage
from .queues import dead_letter_queue
from .limits import (
    EPHEMERAL_STORAGE_MB,
    FUNCTION_NAME,
    MAX_FUNCTION_NAME,
    FUNCTION_RANGES,
    LOG_FORMATS,
    LOG_RETENTION_DAYS,
    LOG_RETENTION_DAYS_DEFAULT,
    MAX_EVENT_AGE_SECONDS,
    MAX_RETRY_ATTEMPTS,
    MEMORY_MB,
    PROVISIONED_CONCURRENCY_LEAD_MINUTES,
    PROVISIONED_CONCURRENCY_MODES,
    RESERVED_CONCURRENCY,
    RESERVED_ENVIRONMENT,
    TIMEOUT_SECONDS,
)

ALIAS = "live"
"""Schedules, destinations, provisioned concurrency and URLs all point here, never at `$LATEST`."""
DRAIN_MINUTES = 5
"""Schedule-aligned concurrency stays up this long after a run's timeout could have elapsed."""


@dataclass(frozen=True)
class ContainerFunctionArgs:
    """What one function is built from. The stack settings (stack_config/) build these directly from
    config, the effective (staggered) schedule included, leaving what comes from resources (the image
    build, resource names in the environment, the access statements) for `__main__.py` to fill in with
    `dataclasses.replace`; the defaults here are the only ones."""

    function_name: str
    """Physical name, e.g. `commodity-forecasts-dev-corn`."""
    image: LambdaImage | PromotedImage | None = None
    """The image to run (required by the component): this stack's build, or the tested digest a promoting stack
    runs; its digest URI and architecture are used together, so they cannot disagree."""
    description: str = ""
    memory_mb: int = MEMORY_MB.default
    timeout_seconds: int = TIMEOUT_SECONDS.default
    ephemeral_storage_mb: int = EPHEMERAL_STORAGE_MB.default
    reserved_concurrency: int | None = None
    provisioned_concurrency: int = 0
    provisioned_concurrency_mode: str = PROVISIONED_CONCURRENCY_MODES[0]
    """`fixed`: always on. `schedule_aligned`: raised only around each scheduled run."""
    provisioned_concurrency_lead_minutes: int = PROVISIONED_CONCURRENCY_LEAD_MINUTES.default
    schedule_expression: str | None = None
    """The function's effective schedule; schedule-aligned concurrency is derived from it."""
    schedule_timezone: str = "UTC"
    log_retention_days: int = LOG_RETENTION_DAYS_DEFAULT
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=lambda: MappingProxyType({}))
    """Names from resource outputs (bucket, table, …), never typed by hand."""
    statements: tuple[PolicyStatement, ...] = ()
    """What the function may touch beyond its own logs, traces and DLQ, by exact ARN."""
    max_retry_attempts: int = MAX_RETRY_ATTEMPTS.default
    max_event_age_seconds: int = MAX_EVENT_AGE_SECONDS.default
    function_url: bool = False
    """An `AWS_IAM`-authenticated Function URL on the alias for on-demand runs."""
    log_format: str = LOG_FORMATS[0]
    """`JSON` (structured application logs and platform records) or `Text`."""
    pre_traffic_event: Mapping[str, Any] | None = None
    """The pre-traffic gate: each newly published version is invoked once with this event (synchronously,
    before `live` moves); a function error fails the deployment and `live` stays where it was. Give the
    workload's dry-run event; None turns the gate off."""
    pinned_version: int | None = None
    """Keep `live` on this published version (after a rollback); None follows each new version."""
    role_options: RoleOptions = RoleOptions()
    """The execution role's IAM path and permissions boundary."""
    protect_logs: bool = False
    """`protect` the log group (production): removing the function from the program cannot delete its logs."""
    retain_dead_letters: bool = False
    """Leave the DLQ (`<function_name>-dlq`) in place, with its messages, if the program stops declaring it."""
    image_command: tuple[str, ...] | None = None
    """The handler to run instead of the image's own `CMD` (another entry point of the same image)."""


def provisioned_windows(expression: str, timeout_seconds: int, lead_minutes: int) -> list[tuple[str, str]]:
    """(scale-up, scale-down) cron pairs around each run of `expression`: up `lead_minutes` before,
    down once the run's timeout (rounded up to minutes) plus DRAIN_MINUTES has passed."""
    parsed = cron.parse(expression)
    if not isinstance(parsed, cron.CronExpression):
        raise FunctionError("schedule-aligned-needs-cron", f"schedule-aligned concurrency needs a cron(...) schedule, got {expression!r}")
    hold = math.ceil(timeout_seconds / 60) + DRAIN_MINUTES
    return [
        (str(parsed.at_minute_of_day(run - lead_minutes)), str(parsed.at_minute_of_day(run + hold)))
        for run in parsed.minutes_of_day()
    ]


class ContainerFunction(pulumi.ComponentResource):
    """Role, log group, function, published version, `live` alias, provisioned concurrency,
    asynchronous-invocation retries with an SQS dead-letter destination, and an optional URL.

    Secure by default: an inline policy of exact ARNs and named actions, tracing Active, JSON logs
    into a log group with retention that exists before the function, an encrypted DLQ.
    """

    function: aws.lambda_.Function
    alias: aws.lambda_.Alias
    """`live`: what schedules, destinations, provisioned concurrency and the URL target."""
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    dlq: aws.sqs.Queue
    """On-failure destination of asynchronous invocations (what Scheduler's runs are)."""
    gate: aws.lambda_.Invocation | None
    """The pre-traffic invocation of the newest version, when enabled."""
    url: aws.lambda_.FunctionUrl | None
    args: ContainerFunctionArgs
    """The plain inputs (name, timeout, log format, concurrency…), for others to read; never copied."""

    def __init__(self, name: str, args: ContainerFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        windows = _validate(args)
        super().__init__("commodity-forecasts:function:ContainerFunction", name, None, opts)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{args.function_name}", retention_in_days=args.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect_logs),
        )
        dlq = dead_letter_queue(f"{name}-dlq", parent=self, name=f"{args.function_name}-dlq", retain=args.retain_dead_letters)
        role, policy = self._role(name, args, log_group, dlq)
        function = self._function(name, args, role, log_group, policy)
        alias = self._live_alias(name, args, function)
        self._invocation_settings(name, args, function, alias, dlq, windows)
        url = None
        if args.function_url:
            url = aws.lambda_.FunctionUrl(
                f"{name}-url", function_name=function.name, qualifier=alias.name, authorization_type="AWS_IAM",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[alias]),
            )
        self.function, self.alias, self.role, self.log_group, self.dlq, self.url = function, alias, role, log_group, dlq, url
        self.args = args
        self.register_outputs({
            "function_name": function.name,
            "alias_arn": alias.arn,
            "role_arn": role.arn,
            "log_group_name": log_group.name,
            "dlq_url": dlq.url,
            "url": url.function_url if url else None,
        })

    def _role(self, name: str, args: ContainerFunctionArgs, log_group, dlq) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The execution role: its own logs, traces and DLQ, plus exactly `args.statements`."""
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Execution role of {args.function_name}",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com"),
            **args.role_options.role_arguments(),
            opts=pulumi.ResourceOptions(parent=self),
        )
        own = (
            PolicyStatement("WriteOwnLogs", ("logs:CreateLogStream", "logs:PutLogEvents"), (pulumi.Output.concat(log_group.arn, ":*"),)),
            # X-Ray has no resource-level permissions: the actions are named, the resource cannot be.
            PolicyStatement("PublishTraces", ("xray:PutTraceSegments", "xray:PutTelemetryRecords"), ("*",)),
            PolicyStatement("DeadLetter", ("sqs:SendMessage",), (dlq.arn,)),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, policy=policy_document(own + args.statements), opts=pulumi.ResourceOptions(parent=self),
        )
        return role, policy

    def _function(self, name: str, args: ContainerFunctionArgs, role, log_group, policy) -> aws.lambda_.Function:
        """The image function, published, traced, logging into its own group (which exists first)."""
        return aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=args.description,
            package_type="Image",
            image_uri=args.image.image_uri,
            architectures=[args.image.architecture],
            role=role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            ephemeral_storage={"size": args.ephemeral_storage_mb},
            reserved_concurrent_executions=-1 if args.reserved_concurrency is None else args.reserved_concurrency,
            tracing_config={"mode": "Active"},
            **({"image_config": {"commands": list(args.image_command)}} if args.image_command else {}),
            environment={"variables": dict(args.environment)},
            logging_config={
                "log_format": args.log_format,
                "log_group": log_group.name,
                # Log levels exist only for JSON; INFO keeps platform.report records (init duration).
                **({"application_log_level": "INFO", "system_log_level": "INFO"} if args.log_format == "JSON" else {}),
            },
            publish=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, policy]),
        )

    def _invocation_settings(self, name: str, args: ContainerFunctionArgs, function, alias, dlq, windows) -> None:
        """On the alias: asynchronous retries into the DLQ, and provisioned concurrency (fixed or aligned)."""
        qualified = pulumi.ResourceOptions(parent=self, depends_on=[alias])
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            qualifier=alias.name,
            maximum_retry_attempts=args.max_retry_attempts,
            maximum_event_age_in_seconds=args.max_event_age_seconds,
            destination_config={"on_failure": {"destination": dlq.arn}},
            opts=qualified,
        )
        if args.provisioned_concurrency > 0 and args.provisioned_concurrency_mode == "fixed":
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-concurrency",
                function_name=function.name,
                qualifier=alias.name,
                provisioned_concurrent_executions=args.provisioned_concurrency,
                opts=qualified,
            )
        elif args.provisioned_concurrency > 0:
            self._schedule_aligned_concurrency(name, args, function, alias, windows)

    def _live_alias(self, name: str, args: ContainerFunctionArgs, function: aws.lambda_.Function) -> aws.lambda_.Alias:
        """`live`, moved only after the pre-traffic gate passed on the new version. The gate is the
        provider's Invocation resource on the published version number: `qualifier` forces a new
        invocation when it changes (a new version), and a function error fails the update
        ("invoking Lambda Function (<name>): <error payload>"; terraform-provider-aws
        internal/service/lambda/invocation.go), so the alias, which depends on it, is not touched."""
        self.gate = None
        if args.pre_traffic_event is not None:
            self.gate = aws.lambda_.Invocation(
                f"{name}-pre-traffic",
                function_name=function.name,
                qualifier=function.version,
                input=json.dumps(dict(args.pre_traffic_event), sort_keys=True),
                opts=pulumi.ResourceOptions(parent=self),
            )
        if args.pinned_version is not None:
            pulumi.log.warn(
                f"{args.function_name}: live is pinned to version {args.pinned_version} (live_version); new versions "
                "are published (and gated) but serve nothing until the pin is removed",
                resource=self,
            )
        return aws.lambda_.Alias(
            f"{name}-{ALIAS}",
            name=ALIAS,
            function_name=function.name,
            function_version=str(args.pinned_version) if args.pinned_version is not None else function.version,
            description="Published version the schedules and destinations invoke",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.gate] if self.gate else []),
        )

    def _schedule_aligned_concurrency(self, name, args, function, alias, windows) -> None:
        """Application Auto Scaling raises the alias's provisioned concurrency before each run and
        returns it to zero after: a daily job pays for minutes of warm capacity, not days."""
        target = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="lambda",
            scalable_dimension="lambda:function:ProvisionedConcurrency",
            resource_id=pulumi.Output.concat("function:", function.name, ":", alias.name),
            min_capacity=0,
            max_capacity=args.provisioned_concurrency,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[alias]),
        )
        for index, (warm, cool) in enumerate(windows):
            for role, schedule, capacity in (("warm", warm, args.provisioned_concurrency), ("cool", cool, 0)):
                aws.appautoscaling.ScheduledAction(
                    f"{name}-{role}-{index}",
                    name=f"{args.function_name}-{role}-{index}",
                    service_namespace=target.service_namespace,
                    scalable_dimension=target.scalable_dimension,
                    resource_id=target.resource_id,
                    schedule=schedule,
                    timezone=args.schedule_timezone,
                    scalable_target_action={"min_capacity": capacity, "max_capacity": capacity},
                    opts=pulumi.ResourceOptions(parent=self),
                )


class FunctionError(ComponentError):
    """A ContainerFunction's inputs were refused."""


_ENVIRONMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def check_environment(names: Iterable[str], *, where: str) -> None:
    """Environment variable names Lambda accepts and does not reserve. `where` names the variables
    as the caller's user knows them (a config key, or the function's environment)."""
    for key in names:
        if not _ENVIRONMENT_NAME.match(key):
            raise FunctionError("invalid-environment", f"{where} {key!r} is not a valid environment variable name")
        if RESERVED_ENVIRONMENT.match(key):
            raise FunctionError("reserved-environment", f"{where} {key!r} is reserved by Lambda")


def check_schedule_aligned(expression: str, lead_minutes: int, *, where: str) -> None:
    """Schedule-aligned concurrency needs known run times (a cron(...) schedule), spaced further apart
    than the lead time. `where` prefixes the keys named in the refusal (`functions[corn].`)."""
    parsed = cron.parse(expression)
    if not isinstance(parsed, cron.CronExpression):
        raise FunctionError(
            "schedule-aligned-needs-cron",
            f"{where}provisioned_concurrency_mode is schedule_aligned, which needs a cron(...) schedule with fixed times, "
            f"got {expression!r}; use provisioned_concurrency_mode fixed",
        )
    gap = min(cron.daily_gaps_minutes(parsed))
    if lead_minutes >= gap:
        raise FunctionError(
            "lead-exceeds-gap",
            f"{where}provisioned_concurrency_lead_minutes ({lead_minutes}) must be shorter than the {gap} minutes between "
            "the function's runs; use provisioned_concurrency_mode fixed",
        )


def _validate(args: ContainerFunctionArgs) -> list[tuple[str, str]]:
    """Refuse bad plain inputs before anything is registered; returns the scaling windows."""
    name = args.function_name
    if not FUNCTION_NAME.match(name):
        raise FunctionError("function-name", f"function_name must be 1-{MAX_FUNCTION_NAME} letters, digits, hyphens or underscores, got {name!r}")
    if args.image is None:
        raise FunctionError("image-required", f"{name}: image is required (a LambdaImage or a PromotedImage)")
    for limit in FUNCTION_RANGES:
        check_range(FunctionError, limit, getattr(args, limit.name), where=f"{name}: {limit.name}")
    if args.pinned_version is not None and args.pinned_version < 1:
        raise FunctionError("pinned-version", f"{name}: pinned_version must be a published version (1 or more), got {args.pinned_version}")
    if args.log_format not in LOG_FORMATS:
        raise FunctionError("log-format", f"{name}: log_format must be JSON or Text, got {args.log_format!r}")
    if args.log_retention_days not in LOG_RETENTION_DAYS:
        raise FunctionError("log-retention", f"{name}: log_retention_days must be one of CloudWatch's values, got {args.log_retention_days}")
    _validate_concurrency(args)
    check_environment(args.environment, where=f"{name}: environment variable")
    if args.provisioned_concurrency > 0 and args.provisioned_concurrency_mode == "schedule_aligned":
        if args.schedule_expression is None:
            raise FunctionError("schedule-aligned-needs-schedule", f"{name}: schedule_aligned provisioned concurrency needs schedule_expression")
        check_schedule_aligned(args.schedule_expression, args.provisioned_concurrency_lead_minutes, where=f"{name}: ")
        return provisioned_windows(args.schedule_expression, args.timeout_seconds, args.provisioned_concurrency_lead_minutes)
    return []


def _validate_concurrency(args: ContainerFunctionArgs) -> None:
    name = args.function_name
    if args.reserved_concurrency is not None and args.reserved_concurrency < RESERVED_CONCURRENCY.minimum:
        raise FunctionError(
            "out-of-range",
            f"{name}: reserved_concurrency must be at least {RESERVED_CONCURRENCY.minimum} (or None), got {args.reserved_concurrency}",
        )
    ceiling = args.reserved_concurrency if args.reserved_concurrency is not None else RESERVED_CONCURRENCY.maximum
    if not 0 <= args.provisioned_concurrency <= ceiling:
        raise FunctionError(
            "out-of-range", f"{name}: provisioned_concurrency must be between 0 and {ceiling}, got {args.provisioned_concurrency}"
        )
    if args.provisioned_concurrency_mode not in PROVISIONED_CONCURRENCY_MODES:
        raise FunctionError(
            "provisioned-concurrency-mode",
            f"{name}: provisioned_concurrency_mode must be one of {', '.join(PROVISIONED_CONCURRENCY_MODES)}, "
            f"got {args.provisioned_concurrency_mode!r}",
        )
