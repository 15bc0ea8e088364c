"""ContainerFunction: least-privilege role, logs, image function, alias, concurrency, async DLQ, URL."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.function import ContainerFunction, ContainerFunctionArgs, provisioned_windows
from components.iam import PolicyStatement
from components.image import LambdaImage, LambdaImageArgs
from components.registry import EcrRepository, EcrRepositoryArgs
from tests.conftest import run_program

FUNCTION = "aws:lambda/function:Function"
FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:commodity-forecasts-dev-corn"
TABLE_READ = PolicyStatement("PredictionsTable", ("dynamodb:GetItem", "dynamodb:PutItem"), ("arn:aws:dynamodb:us-east-1:123456789012:table/predictions",))


def build(architecture="arm64", **overrides):
    def program():
        repo = EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor"))
        image = LambdaImage(f"predictor-{architecture}", LambdaImageArgs(image="predictor", architecture=architecture, repository=repo, context_dir="images"))
        args = dict(
            function_name="commodity-forecasts-dev-corn",
            image=image,
            description="corn: daily price prediction",
            memory_mb=1024,
            timeout_seconds=120,
            log_retention_days=14,
            environment={"DATA_BUCKET": "data-bucket"},
            statements=(TABLE_READ,),
        )
        args.update(overrides)
        ContainerFunction("corn", ContainerFunctionArgs(**args))

    return run_program(program)


def one(graph, type_):
    [resource] = graph.of_type(type_)
    return resource


def test_function_runs_the_digest_pinned_image_on_the_images_architecture():
    for architecture in ("arm64", "x86_64"):
        graph = build(architecture)
        function = one(graph, FUNCTION).inputs
        build_inputs = one(graph, "docker-build:index:Image")
        assert function["packageType"] == "Image"
        assert function["imageUri"].endswith("@" + build_inputs.state["digest"]), "image URI must be pinned by digest"
        assert function["architectures"] == [architecture]
        assert build_inputs.inputs["platforms"] == [{"arm64": "linux/arm64", "x86_64": "linux/amd64"}[architecture]]


def test_function_settings_tracing_logging_and_publishing():
    graph = build(memory_mb=2048, ephemeral_storage_mb=1024, reserved_concurrency=3)
    function = one(graph, FUNCTION)
    inputs = function.inputs
    assert inputs["name"] == "commodity-forecasts-dev-corn"
    assert (inputs["memorySize"], inputs["timeout"], inputs["ephemeralStorage"]["size"]) == (2048, 120, 1024)
    assert inputs["reservedConcurrentExecutions"] == 3
    assert inputs["tracingConfig"] == {"mode": "Active"}, f"{function.urn}: tracing must be Active"
    assert inputs["description"] == "corn: daily price prediction"
    assert inputs["environment"] == {"variables": {"DATA_BUCKET": "data-bucket"}}
    assert inputs["publish"] is True, "every code or configuration change publishes a version"
    assert inputs["loggingConfig"]["logFormat"] == "JSON"
    assert inputs["loggingConfig"]["logGroup"] == "/aws/lambda/commodity-forecasts-dev-corn"
    assert inputs["loggingConfig"]["systemLogLevel"] == "INFO", "REPORT records (init duration) are platform INFO logs"


def test_unreserved_by_default():
    assert one(build(), FUNCTION).inputs["reservedConcurrentExecutions"] == -1


def test_log_group_has_retention_and_exists_before_the_function():
    graph = build()
    log_group = one(graph, "aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs == {"name": "/aws/lambda/commodity-forecasts-dev-corn", "retentionInDays": 14}
    assert log_group.urn in one(graph, FUNCTION).depends_on, "the log group must exist before the function logs"


def test_role_policy_is_built_from_exact_arns_statement_by_statement():
    graph = build()
    role = one(graph, "aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    dlq = one(graph, "aws:sqs/queue:Queue").state["arn"]
    log_group_arn = one(graph, "aws:cloudwatch/logGroup:LogGroup").state["arn"]
    statements = {s["Sid"]: s for s in json.loads(one(graph, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]}
    assert statements == {
        "WriteOwnLogs": {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [f"{log_group_arn}:*"]},
        "PublishTraces": {"Sid": "PublishTraces", "Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": ["*"]},
        "DeadLetter": {"Sid": "DeadLetter", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [dlq]},
        "PredictionsTable": TABLE_READ.document(),
    }
    for statement in statements.values():
        assert not any("*" in action for action in statement["Action"]), f"wildcard action in {statement['Sid']}"


def test_alias_live_points_at_the_published_version():
    graph = build()
    alias = one(graph, "aws:lambda/alias:Alias")
    assert alias.inputs["name"] == "live"
    assert alias.inputs["functionVersion"] == one(graph, FUNCTION).state["version"]
    assert alias.state["arn"] == f"{FN_ARN}:live"


DRY_RUN = {"commodity": "corn", "dry_run": True}
INVOCATION = "aws:lambda/invocation:Invocation"


def test_the_pre_traffic_gate_invokes_the_new_version_before_live_moves():
    graph = build(pre_traffic_event=DRY_RUN)
    function, gate, alias = one(graph, FUNCTION), one(graph, INVOCATION), one(graph, "aws:lambda/alias:Alias")
    assert gate.inputs["qualifier"] == function.state["version"], "the gate targets the published version"
    assert gate.inputs["qualifier"] not in ("$LATEST", "live")
    assert gate.inputs["functionName"] == function.inputs["name"]
    assert json.loads(gate.inputs["input"]) == DRY_RUN
    assert gate.inputs.get("lifecycleScope", "CREATE_ONLY") == "CREATE_ONLY", "invoked on create or replace only, never on delete"
    assert gate.urn in alias.depends_on, "live must not move before the gate passed"
    assert alias.inputs["functionVersion"] == gate.inputs["qualifier"]


def test_a_changed_image_gets_a_new_version_and_so_a_new_gate_invocation():
    """`qualifier` is ForceNew in the provider (invocation.go), so another version number means a new
    invocation; under mocks, like Lambda, other code gets another number."""
    first = one(build(pre_traffic_event=DRY_RUN), INVOCATION).inputs["qualifier"]
    again = one(build(pre_traffic_event=DRY_RUN), INVOCATION).inputs["qualifier"]
    changed = one(build(pre_traffic_event=DRY_RUN, environment={"DATA_BUCKET": "other-bucket"}), INVOCATION).inputs["qualifier"]
    assert first == again, "an unchanged function publishes nothing new and invokes nothing"
    assert changed != first


def test_the_gate_can_be_turned_off():
    graph = build(pre_traffic_event=None)
    assert graph.of_type(INVOCATION) == []
    assert one(graph, "aws:lambda/alias:Alias").inputs["functionVersion"] == one(graph, FUNCTION).state["version"]


def test_a_pinned_version_keeps_live_where_a_rollback_put_it():
    graph = build(pre_traffic_event=DRY_RUN, pinned_version=3)
    assert one(graph, "aws:lambda/alias:Alias").inputs["functionVersion"] == "3"
    assert one(graph, INVOCATION).inputs["qualifier"] == one(graph, FUNCTION).state["version"], "new versions are still gated"


def test_async_failures_go_to_an_encrypted_dlq_after_bounded_retries():
    graph = build(max_retry_attempts=1, max_event_age_seconds=1800)
    dlq = one(graph, "aws:sqs/queue:Queue")
    assert dlq.inputs["sqsManagedSseEnabled"] is True, "the DLQ must be encrypted"
    config = one(graph, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs
    assert config["qualifier"] == "live", "async config belongs to the alias the schedules invoke"
    assert (config["maximumRetryAttempts"], config["maximumEventAgeInSeconds"]) == (1, 1800)
    assert config["destinationConfig"] == {"onFailure": {"destination": dlq.state["arn"]}}


def test_fixed_provisioned_concurrency_on_the_alias():
    graph = build(reserved_concurrency=2, provisioned_concurrency=2)
    config = one(graph, "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig").inputs
    assert config["qualifier"] == "live" and config["provisionedConcurrentExecutions"] == 2
    assert graph.of_type("aws:appautoscaling/target:Target") == []


def test_schedule_aligned_concurrency_warms_before_and_cools_after_each_run():
    graph = build(
        provisioned_concurrency=1, provisioned_concurrency_mode="schedule_aligned",
        provisioned_concurrency_lead_minutes=10, schedule_expression="cron(15 2 * * ? *)",
    )
    assert graph.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig") == []
    target = one(graph, "aws:appautoscaling/target:Target").inputs
    assert target["resourceId"] == "function:commodity-forecasts-dev-corn:live"
    assert target["scalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert (target["minCapacity"], target["maxCapacity"]) == (0, 1)
    actions = {a.name: a.inputs for a in graph.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")}
    assert actions["corn-warm-0"]["schedule"] == "cron(5 2 * * ? *)", "10 minutes before the 02:15 run"
    assert actions["corn-warm-0"]["scalableTargetAction"] == {"minCapacity": 1, "maxCapacity": 1}
    assert actions["corn-cool-0"]["schedule"] == "cron(22 2 * * ? *)", "after the 2-minute timeout plus 5 minutes' drain"
    assert actions["corn-cool-0"]["scalableTargetAction"] == {"minCapacity": 0, "maxCapacity": 0}
    assert all(a["timezone"] == "UTC" and a["resourceId"] == target["resourceId"] for a in actions.values())


def test_provisioned_windows_per_run_and_across_midnight():
    assert provisioned_windows("cron(0 2,14 * * ? *)", 60, 10) == [
        ("cron(50 1 * * ? *)", "cron(6 2 * * ? *)"),
        ("cron(50 13 * * ? *)", "cron(6 14 * * ? *)"),
    ]
    assert provisioned_windows("cron(5 0 * * ? *)", 60, 10) == [("cron(55 23 * * ? *)", "cron(11 0 * * ? *)")]
    with pytest.raises(ValueError, match="falls on another day"):
        provisioned_windows("cron(5 0 ? * SUN *)", 60, 10)


def test_function_url_is_iam_authenticated_on_the_alias():
    graph = build(function_url=True)
    url = one(graph, "aws:lambda/functionUrl:FunctionUrl").inputs
    assert url["authorizationType"] == "AWS_IAM", "a Function URL must never be public (NONE)"
    assert url["qualifier"] == "live"
    assert build().of_type("aws:lambda/functionUrl:FunctionUrl") == []


def test_children_are_parented_to_the_component():
    graph = build(function_url=True)
    component = next(r for r in graph.resources if r.type == "commodity-forecasts:function:ContainerFunction")
    names = sorted(r.name for r in graph.children(component))
    assert names == ["corn-async", "corn-dlq", "corn-function", "corn-live", "corn-logs", "corn-policy", "corn-role", "corn-url"]


@pytest.mark.parametrize("overrides, message", [
    ({"memory_mb": 64}, "commodity-forecasts-dev-corn: memory_mb must be between 128 and 10240, got 64"),
    ({"timeout_seconds": 901}, "timeout_seconds must be between 1 and 900, got 901"),
    ({"log_retention_days": 10}, "log_retention_days must be one of CloudWatch's values, got 10"),
    ({"reserved_concurrency": 1, "provisioned_concurrency": 2}, "provisioned_concurrency must be between 0 and 1, got 2"),
    ({"provisioned_concurrency": 1, "provisioned_concurrency_mode": "schedule_aligned"}, "needs schedule_expression"),
    ({"provisioned_concurrency": 1, "provisioned_concurrency_mode": "always"}, "provisioned_concurrency_mode must be one of fixed, schedule_aligned"),
    ({"environment": {"AWS_REGION": "x"}}, "environment variable 'AWS_REGION' is reserved by Lambda"),
    ({"function_name": "corn predictor"}, "function_name must be 1-64 letters"),
])
def test_refuses_bad_arguments(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(**overrides)


@pytest.mark.parametrize("action", ["*", "s3:*", "s3:Get*", "dynamodb:*Item"])
def test_wildcard_actions_are_refused(action):
    with pytest.raises(ValueError, match="wildcards are refused"):
        PolicyStatement("Broad", (action,), ("arn:aws:s3:::bucket",))


def test_outputs_name_alias_and_dlq():
    captured = {}

    def program():
        repo = EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor"))
        image = LambdaImage("predictor-arm64", LambdaImageArgs(image="predictor", architecture="arm64", repository=repo, context_dir="images"))
        function = ContainerFunction("corn", ContainerFunctionArgs(function_name="commodity-forecasts-dev-corn", image=image, description="corn"))
        pulumi.Output.all(function.function.name, function.alias.arn, function.dlq.url).apply(lambda v: captured.update(values=v))

    run_program(program)
    name, alias, dlq = captured["values"]
    assert (name, alias) == ("commodity-forecasts-dev-corn", f"{FN_ARN}:live")
    assert dlq == "https://sqs.us-east-1.amazonaws.com/123456789012/commodity-forecasts-dev-corn-dlq", "the DLQ is named after its function"
