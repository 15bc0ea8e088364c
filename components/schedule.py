"""Schedule: EventBridge Scheduler → a function's `live` alias, with retries and a DLQ. It runs the
expression it is given: staggering is the settings' plan (stack_config/plan.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import pulumi
import pulumi_aws as aws

from . import cron
from .errors import ComponentError, check_range
from .function import ContainerFunction
from .iam import PolicyStatement, RoleOptions, policy_document, service_trust_policy
from .limits import SCHEDULE_MAX_EVENT_AGE_SECONDS, SCHEDULE_RANGES, SCHEDULE_RETRY_ATTEMPTS
from .queues import dead_letter_queue


class ScheduleError(ComponentError):
    """A Schedule's inputs were refused."""


@dataclass(frozen=True)
class ScheduleArgs:
    """When and how a function runs. The stack settings build these from config with the effective
    (staggered) expression; `__main__.py` fills in the target function."""

    expression: str
    """Effective (already staggered) `cron(...)` or `rate(...)`: what will run."""
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
    name: str | None = None
    """The schedule's physical name; None: the target function's name, so that an identity scoped to the
    stack's names (`schedule/default/<prefix>-*`) may manage it (an unnamed schedule gets a random name)."""
    role_options: RoleOptions = RoleOptions()
    """The invoke role's IAM path and permissions boundary."""
    retain_dead_letters: bool = False
    """Leave the DLQ (`<name>-schedule-dlq`) in place, with its messages, if the program stops declaring it."""


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
    args: ScheduleArgs
    """The plain inputs (the expression that runs, its time zone, retries), for others to read."""

    def __init__(self, name: str, args: ScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(args)
        super().__init__("commodity-forecasts:schedule:Schedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        dlq = dead_letter_queue(
            f"{name}-dlq", parent=self, name=f"{args.name or args.function.args.function_name}-schedule-dlq", retain=args.retain_dead_letters,
        )
        role = aws.iam.Role(
            f"{name}-role",
            description=f"EventBridge Scheduler invoking {name}",
            assume_role_policy=account.apply(lambda account_id: service_trust_policy("scheduler.amazonaws.com", account_id)),
            **args.role_options.role_arguments(),
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
            name=args.name or args.function.args.function_name,
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

        self.schedule, self.dlq, self.role, self.args = schedule, dlq, role, args
        self.schedule_name = schedule.name
        self.dlq_arn = dlq.arn
        self.dlq_url = dlq.url
        self.dlq_name = dlq.name
        self.register_outputs({"schedule_name": self.schedule_name, "dlq_arn": self.dlq_arn, "dlq_url": self.dlq_url})


def _validate(args: ScheduleArgs) -> None:
    try:
        cron.parse(args.expression)
    except cron.ScheduleExpressionError as error:
        raise ScheduleError(
            "expression", f"expression must be an EventBridge cron(...) or rate(...), got {args.expression!r}: {error}"
        ) from None
    if args.function is None:
        raise ScheduleError("function-required", "function is required (the ContainerFunction to invoke)")
    for limit in SCHEDULE_RANGES:
        check_range(ScheduleError, limit, getattr(args, limit.name), where=limit.name)
    try:
        json.dumps(dict(args.payload))
    except TypeError as error:
        raise ScheduleError("payload", f"payload must be JSON-serialisable: {error}") from None
