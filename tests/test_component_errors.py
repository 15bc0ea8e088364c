"""Each component module refuses with its own exception type, carrying a stable code; each is a
ValueError, so callers that caught ValueError keep working, and the messages are unchanged."""

from __future__ import annotations

import pytest

from components.data import DataPlane, DataPlaneArgs, DataPlaneError
from components.errors import ComponentError
from components.function import ContainerFunction, ContainerFunctionArgs, FunctionError, check_environment, check_schedule_aligned
from components.iam import PolicyError, PolicyStatement
from components.image import ImageError, LambdaImage, LambdaImageArgs
from components.monitoring import AlarmThresholds, MonitoringArgs, MonitoringError, Monitoring
from components.registry import EcrRepository, EcrRepositoryArgs, RegistryError
from components.schedule import Schedule, ScheduleArgs, ScheduleError
from tests.conftest import run_program


def refused(build) -> ComponentError:
    raised: list[ComponentError] = []

    def program():
        try:
            build()
        except ComponentError as error:
            raised.append(error)

    run_program(program)
    assert raised, "expected a refusal"
    return raised[0]


def repository():
    return EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor"))


def image():
    return LambdaImage("predictor-arm64", LambdaImageArgs(image="predictor", architecture="arm64", repository=repository(), context_dir="images"))


def function(**overrides):
    return ContainerFunction("corn", ContainerFunctionArgs(function_name="cf-dev-corn", image=image(), **overrides))


@pytest.mark.parametrize("build, error_type, code, message", [
    (lambda: EcrRepository("r", EcrRepositoryArgs(repository_name="UPPER")), RegistryError, "repository-name", "repository_name must be 2-256"),
    (lambda: EcrRepository("r", EcrRepositoryArgs(repository_name="ok/name", keep_release_images=1)), RegistryError, "out-of-range",
     "keep_release_images must be between 2 and 1000, got 1"),
    (lambda: LambdaImage("i", LambdaImageArgs(image="predictor", architecture="amd64", repository=repository(), context_dir="images")),
     ImageError, "architecture", "architecture must be one of arm64, x86_64, got 'amd64'"),
    (lambda: function(memory_mb=64), FunctionError, "out-of-range", "cf-dev-corn: memory_mb must be between 128 and 10240, got 64"),
    (lambda: function(environment={"AWS_REGION": "x"}), FunctionError, "reserved-environment", "environment variable 'AWS_REGION' is reserved"),
    (lambda: Schedule("s", ScheduleArgs("cron(0 2 * * ? *)", function=function(), retry_attempts=186)), ScheduleError, "out-of-range",
     "retry_attempts must be between 0 and 185, got 186"),
    (lambda: DataPlane("d", DataPlaneArgs(bucket_name="UPPER", table_name="t-t", legacy_bucket="legacy", legacy_prefix="p/", protect=False)),
     DataPlaneError, "bucket-name", "bucket_name must be a valid S3 bucket name"),
    (lambda: Monitoring("m", MonitoringArgs(name_prefix="cf", region="us-east-1", functions=(), thresholds=AlarmThresholds(cold_start_ms=50))),
     MonitoringError, "out-of-range", "cold_start_ms must be between 100 and 10000, got 50"),
])
def test_each_component_refuses_with_its_own_type_and_a_stable_code(build, error_type, code, message):
    error = refused(build)
    assert type(error) is error_type and isinstance(error, ValueError)
    assert error.code == code and message in str(error)


def test_policy_statements_refuse_wildcards_with_their_own_type():
    with pytest.raises(PolicyError) as raised:
        PolicyStatement("Broad", ("s3:*",), ("arn:aws:s3:::bucket",))
    assert raised.value.code == "wildcard-action"


def test_the_rules_the_settings_call_are_the_components_own():
    """stack_config reports these refusals under the config key; the rule and its words live here."""
    with pytest.raises(FunctionError) as raised:
        check_environment(["TZ"], where="functions[corn].environment key")
    assert str(raised.value) == "functions[corn].environment key 'TZ' is reserved by Lambda"
    with pytest.raises(FunctionError) as raised:
        check_schedule_aligned("cron(0 2,3 * * ? *)", 60, where="functions[corn].")
    assert raised.value.code == "lead-exceeds-gap" and "must be shorter than the 60 minutes between" in str(raised.value)
    check_schedule_aligned("cron(0 2 * * ? *)", 10, where="")
