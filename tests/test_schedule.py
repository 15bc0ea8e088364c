"""Schedule: alias target, retries, DLQ and a narrowly scoped invoke role (staggering: tests/test_plan.py)."""

from __future__ import annotations

import json

import pytest

from components.function import ContainerFunction, ContainerFunctionArgs
from components.image import LambdaImage, LambdaImageArgs
from components.registry import EcrRepository, EcrRepositoryArgs
from components.schedule import Schedule, ScheduleArgs
from tests.conftest import run_program

ALIAS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:commodity-forecasts-dev-corn:live"


def build(**overrides):
    def program():
        repo = EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor"))
        image = LambdaImage("predictor-arm64", LambdaImageArgs(image="predictor", architecture="arm64", repository=repo, context_dir="images"))
        function = ContainerFunction("corn", ContainerFunctionArgs(function_name="commodity-forecasts-dev-corn", image=image, description="corn"))
        args = dict(function=function, expression="cron(0 2 * * ? *)", payload={"commodity": "corn"}, retry_attempts=4, max_event_age_seconds=7200)
        args.update(overrides)
        Schedule("corn-schedule", ScheduleArgs(**args))

    return run_program(program)


def one(graph, type_, parent_type="commodity-forecasts:schedule:Schedule"):
    [resource] = [r for r in graph.of_type(type_) if r.parent_type == parent_type]
    return resource


def test_schedule_targets_the_alias_with_payload_retries_and_dlq():
    graph = build()
    schedule = one(graph, "aws:scheduler/schedule:Schedule").inputs
    assert schedule["scheduleExpression"] == "cron(0 2 * * ? *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert target["arn"] == ALIAS_ARN, "schedules must invoke the live alias, never $LATEST or the bare function"
    assert json.loads(target["input"]) == {"commodity": "corn"}
    assert target["retryPolicy"] == {"maximumRetryAttempts": 4, "maximumEventAgeInSeconds": 7200}
    dlq = one(graph, "aws:sqs/queue:Queue")
    assert target["deadLetterConfig"] == {"arn": dlq.state["arn"]}
    assert dlq.inputs["sqsManagedSseEnabled"] is True


def test_invoke_role_may_call_that_alias_only():
    graph = build()
    role = one(graph, "aws:iam/role:Role")
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    statements = json.loads(one(graph, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    assert statements == [
        {"Sid": "InvokeLiveAlias", "Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [ALIAS_ARN]},
        {"Sid": "DeadLetter", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [one(graph, "aws:sqs/queue:Queue").state["arn"]]},
    ]
    assert one(graph, "aws:scheduler/schedule:Schedule").inputs["target"]["roleArn"] == role.state["arn"]


@pytest.mark.parametrize("overrides, message", [
    ({"expression": "cron(0 2 * * *)"}, "expression must be an EventBridge cron"),
    ({"retry_attempts": 186}, "retry_attempts must be between 0 and 185, got 186"),
    ({"max_event_age_seconds": 30}, "max_event_age_seconds must be between 60 and 86400, got 30"),
    ({"payload": {"when": object()}}, "payload must be JSON-serialisable"),
])
def test_refuses_bad_arguments(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(**overrides)
