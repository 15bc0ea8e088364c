"""Schedule: EventBridge Scheduler → a function's `live` alias, with retries, a DLQ and staggering."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import cron
from components.function import ContainerFunction
from components.iam import PolicyStatement, policy_document, service_trust_policy
from components.limits import SCHEDULE_MAX_EVENT_AGE_SECONDS, SCHEDULE_RANGES, SCHEDULE_RETRY_ATTEMPTS
from components.queues import dead_letter_queue

if TYPE_CHECKING:  # settings build ScheduleArgs: a runtime import would be circular
    from components.settings import FunctionSettings


class ScheduleError(ValueError):
    """Schedules that cannot be staggered or that would fire at the same minute."""


def staggered_expressions(functions: Sequence[FunctionSettings], stagger_minutes: int) -> dict[str, str]:
    """Effective schedule expression per scheduled function.

    Functions whose schedules share a base time (same expression and time zone) run
    `stagger_minutes` apart in declared order — corn 02:00, wheat 02:15, soybeans 02:30 — so they do
    not contend for concurrency or for the same upstream data at the same second. Afterwards no two
    schedules may fire at the same minute on the same days; such a clash is refused.
    """
    groups: dict[tuple[str, str], list[FunctionSettings]] = {}
    for function in functions:
        if function.schedule is not None:
            key = (" ".join(function.schedule.expression.split()), function.schedule.timezone)
            groups.setdefault(key, []).append(function)
    effective: dict[str, str] = {}
    for (expression, _), members in groups.items():
        if len(members) == 1:
            effective[members[0].name] = expression
            continue
        parsed = cron.parse(expression)
        names = ", ".join(m.name for m in members)
        if not isinstance(parsed, cron.CronExpression) or parsed.fixed_time is None:
            raise ScheduleError(
                f"functions {names} share the schedule {expression}, which fires more than once a day and cannot be "
                "staggered; give each function its own schedule"
            )
        for position, member in enumerate(members):
            try:
                effective[member.name] = str(parsed.shifted(position * stagger_minutes))
            except cron.ScheduleExpressionError as error:
                raise ScheduleError(f"staggering function {member.name}: {error}") from None
    _refuse_collisions(functions, effective)
    return effective


def _refuse_collisions(functions: Sequence[FunctionSettings], effective: dict[str, str]) -> None:
    seen: dict[tuple, str] = {}
    for function in functions:
        if function.name not in effective:
            continue
        parsed = cron.parse(effective[function.name])
        if isinstance(parsed, cron.RateExpression):
            continue
        for minute in parsed.minutes_of_day():
            key = (function.schedule.timezone, parsed.days_key, minute)
            if key in seen:
                hours, minutes = divmod(minute, 60)
                raise ScheduleError(
                    f"functions {seen[key]} and {function.name} would both run at {hours:02d}:{minutes:02d} "
                    f"{function.schedule.timezone}; change one schedule or stagger_minutes"
                )
            seen[key] = function.name


@dataclass(frozen=True)
class ScheduleArgs:
    """When and how a function runs. The stack settings build these from config with the declared
    expression; `__main__.py` fills in the function and the staggered expression."""

    expression: str
    """Effective (already staggered) `cron(...)` or `rate(...)`."""
    function: ContainerFunction | None = None
    """The target (required by the component); the schedule invokes its `live` alias, never `$LATEST`."""
    timezone: str = "UTC"
    payload: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Delivered verbatim as the invocation event."""
    retry_attempts: int = int(SCHEDULE_RETRY_ATTEMPTS.default)
    """Scheduler's retries of a failed delivery."""
    max_event_age_seconds: int = int(SCHEDULE_MAX_EVENT_AGE_SECONDS.default)
    """How long Scheduler keeps retrying one run before it goes to the DLQ."""
    description: str = ""


class Schedule(pulumi.ComponentResource):
    """An EventBridge Scheduler schedule that invokes one function's alias.

    Flexible window off (runs start on the minute), a retry policy bounded in attempts and age, an
    encrypted (SSE-SQS) dead-letter queue for deliveries that still fail, and an invoke role that may
    call that one alias and nothing else.
    """

    schedule_name: pulumi.Output[str]
    """The schedule's name."""
    dlq_arn: pulumi.Output[str]
    """Dead-letter queue for runs Scheduler could not deliver."""
    dlq_url: pulumi.Output[str]
    dlq_name: pulumi.Output[str]
    schedule: aws.scheduler.Schedule
    """The Scheduler schedule itself."""
    dlq: aws.sqs.Queue
    """Where runs Scheduler could not deliver wait."""
    role: aws.iam.Role
    """What Scheduler assumes to invoke the alias (and nothing else)."""

    def __init__(self, name: str, args: ScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(args)
        super().__init__("commodity-forecasts:schedule:Schedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        dlq = dead_letter_queue(f"{name}-dlq", parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"EventBridge Scheduler invoking {name}",
            assume_role_policy=account.apply(lambda account_id: service_trust_policy("scheduler.amazonaws.com", account_id)),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document([
                PolicyStatement("InvokeLiveAlias", ("lambda:InvokeFunction",), (args.function.alias.arn,)),
                PolicyStatement("DeadLetter", ("sqs:SendMessage",), (dlq.arn,)),
            ]),
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-trigger",
            description=args.description or f"Runs {name}",
            schedule_expression=args.expression,
            schedule_expression_timezone=args.timezone,
            flexible_time_window={"mode": "OFF"},
            state="ENABLED",
            target={
                "arn": args.function.alias.arn,
                "role_arn": role.arn,
                "input": json.dumps(dict(args.payload), sort_keys=True),
                "retry_policy": {
                    "maximum_retry_attempts": args.retry_attempts,
                    "maximum_event_age_in_seconds": args.max_event_age_seconds,
                },
                "dead_letter_config": {"arn": dlq.arn},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

        self.schedule, self.dlq, self.role = schedule, dlq, role
        self.schedule_name = schedule.name
        self.dlq_arn = dlq.arn
        self.dlq_url = dlq.url
        self.dlq_name = dlq.name
        self.register_outputs({"schedule_name": self.schedule_name, "dlq_arn": self.dlq_arn, "dlq_url": self.dlq_url})


def _validate(args: ScheduleArgs) -> None:
    try:
        cron.parse(args.expression)
    except cron.ScheduleExpressionError as error:
        raise ValueError(f"expression must be an EventBridge cron(...) or rate(...), got {args.expression!r}: {error}") from None
    if args.function is None:
        raise ValueError("function is required (the ContainerFunction to invoke)")
    for limit in SCHEDULE_RANGES:
        limit.check(getattr(args, limit.name), where=limit.name)
    try:
        json.dumps(dict(args.payload))
    except TypeError as error:
        raise ValueError(f"payload must be JSON-serialisable: {error}") from None
