"""Settings: each refusal names the key, the allowed values and what was received."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from stack_config import SettingsError, settings_from_config, stack_config
from tests.conftest import ROOT

P = "commodity-forecasts"


def base_config() -> dict:
    return {
        "aws:region": "us-east-1",
        f"{P}:environment": "dev",
        f"{P}:legacy_bucket": "commodity-mobile-legacy-dev",
        f"{P}:images": {"predictor": {}, "trainer": {}},
        f"{P}:functions": [
            {"name": "corn", "image": "predictor", "schedule": {"expression": "cron(0 2 * * ? *)"}, "event": {"commodity": "corn"}},
            {"name": "trainer", "image": "trainer", "memory_mb": 3008, "timeout_seconds": 900},
        ],
    }


def corn(config: dict) -> dict:
    return config[f"{P}:functions"][0]


def refuse(config: dict, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from_config(config, stack="dev")
    assert str(raised.value) == message


def test_valid_config_gives_frozen_typed_settings_with_defaults():
    settings = settings_from_config(base_config(), stack="dev")
    assert settings.environment == "dev"
    assert settings.region == "us-east-1"
    assert settings.protect is True, "protect must default to on (secure by default)"
    assert settings.architecture == "arm64"
    assert settings.log_retention_days == 30
    assert [f.name for f in settings.functions] == ["corn", "trainer"]
    corn_settings = settings.functions[0]
    assert (corn_settings.args.memory_mb, corn_settings.args.timeout_seconds, corn_settings.architecture) == (1024, 300, "arm64")
    assert corn_settings.schedule.expression == "cron(0 2 * * ? *)"
    assert corn_settings.schedule.timezone == "UTC"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.environment = "prod"
    with pytest.raises(TypeError):
        corn_settings.event["commodity"] = "wheat"


def test_values_as_pulumi_passes_them_are_decoded():
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in base_config().items()}
    config[f"{P}:protect"] = "false"
    config[f"{P}:log_retention_days"] = "14"
    settings = settings_from_config(config, stack="dev")
    assert settings.protect is False
    assert settings.log_retention_days == 14
    assert settings.functions[1].args.memory_mb == 3008


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_stack_files_validate(stack):
    settings = settings_from_config(stack_config(ROOT, stack), stack=stack)
    assert {image.name for image in settings.images} == {"predictor", "trainer"}
    commodities = [f.event.get("commodity") for f in settings.functions if f.image == "predictor"]
    assert commodities == ["corn", "wheat", "soybeans"]


def test_image_builds_one_per_image_and_architecture():
    config = base_config()
    config[f"{P}:functions"].append({"name": "wheat", "image": "predictor", "architecture": "x86_64", "event": {"commodity": "wheat"}})
    config[f"{P}:images"]["spare"] = {}
    settings = settings_from_config(config, stack="dev")
    assert settings.image_builds() == (
        ("predictor", "arm64"),
        ("predictor", "x86_64"),
        ("trainer", "arm64"),
        ("spare", "arm64"),
    )


@pytest.mark.parametrize("memory, message", [
    (64, "functions[corn].memory_mb must be between 128 and 10240, got 64"),
    (10241, "functions[corn].memory_mb must be between 128 and 10240, got 10241"),
])
def test_refuses_memory_out_of_range(memory, message):
    config = base_config()
    corn(config)["memory_mb"] = memory
    refuse(config, message)


@pytest.mark.parametrize("timeout", [0, 901])
def test_refuses_timeout_out_of_range(timeout):
    config = base_config()
    corn(config)["timeout_seconds"] = timeout
    refuse(config, f"functions[corn].timeout_seconds must be between 1 and 900, got {timeout}")


def test_refuses_unknown_architecture():
    config = base_config()
    config[f"{P}:architecture"] = "amd64"
    refuse(config, "architecture must be one of arm64, x86_64, got 'amd64'")


def test_refuses_unknown_function_architecture():
    config = base_config()
    corn(config)["architecture"] = "aarch64"
    refuse(config, "functions[corn].architecture must be one of arm64, x86_64, got 'aarch64'")


@pytest.mark.parametrize("expression, reason", [
    ("cron(0 2 * * *)", "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5"),
    ("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week must be '?' (got day-of-month '*', day-of-week '*')"),
    ("cron(61 2 * * ? *)", "minutes value 61 is outside 0-59"),
    ("cron(0 2 * * ? 1969)", "year value 1969 is outside 1970-2199"),
    ("cron(0 2 ? * FUNDAY *)", "day-of-week value 'FUNDAY' is not valid"),
    ("rate(1 hours)", "rate unit must be singular for 1 and plural otherwise, got 1 hours"),
    ("rate(5 weeks)", "rate must look like rate(5 minutes), rate(1 hour) or rate(2 days)"),
    ("0 2 * * ? *", "must start with cron( or rate( and end with )"),
])
def test_refuses_invalid_schedule_expression(expression, reason):
    config = base_config()
    corn(config)["schedule"]["expression"] = expression
    refuse(
        config,
        "functions[corn].schedule.expression must be a valid EventBridge cron(...) or rate(...) expression, "
        f"got {expression!r}: {reason}",
    )


def test_refuses_unknown_timezone():
    config = base_config()
    corn(config)["schedule"]["timezone"] = "Corn Belt Time"
    refuse(
        config,
        "functions[corn].schedule.timezone must be an IANA time zone such as UTC or America/Chicago, "
        "got 'Corn Belt Time'",
    )


def test_refuses_duplicate_function_names():
    config = base_config()
    config[f"{P}:functions"].append({"name": "corn", "image": "predictor"})
    refuse(config, "functions[2].name 'corn' is already used by functions[0]; names must be unique")


def test_refuses_negative_provisioned_concurrency():
    config = base_config()
    corn(config)["provisioned_concurrency"] = -1
    refuse(config, "functions[corn].provisioned_concurrency must be between 0 and 10000, got -1")


def test_refuses_provisioned_concurrency_above_reserved():
    config = base_config()
    corn(config).update(reserved_concurrency=2, provisioned_concurrency=3)
    refuse(config, "functions[corn].provisioned_concurrency must be between 0 and reserved_concurrency (2), got 3")


def test_refuses_schedule_aligned_concurrency_without_schedule():
    config = base_config()
    config[f"{P}:functions"][1].update(provisioned_concurrency=1, provisioned_concurrency_mode="schedule_aligned")
    refuse(config, "functions[trainer].provisioned_concurrency_mode is schedule_aligned but the function has no schedule")


def test_refuses_log_retention_cloudwatch_does_not_accept():
    config = base_config()
    config[f"{P}:log_retention_days"] = 10
    refuse(
        config,
        "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, "
        "1096, 1827, 2192, 2557, 2922, 3288, 3653, got 10",
    )


def test_refuses_untagged_expiry_below_one():
    config = base_config()
    config[f"{P}:ecr_untagged_expire_days"] = 0
    refuse(config, "ecr_untagged_expire_days must be between 1 and 3650, got 0")


@pytest.mark.parametrize("keep", [0, 1])
def test_refuses_keeping_fewer_than_two_release_images(keep):
    config = base_config()
    config[f"{P}:ecr_keep_release_images"] = keep
    refuse(config, f"ecr_keep_release_images must be between 2 and 1000, got {keep}")


def test_refuses_unknown_top_level_key_and_suggests_the_right_one():
    config = base_config()
    config[f"{P}:log_retention"] = 14
    with pytest.raises(SettingsError) as raised:
        settings_from_config(config, stack="dev")
    message = str(raised.value)
    assert message.startswith(
        "unknown config key 'commodity-forecasts:log_retention'; did you mean 'log_retention_days'?; known keys: "
    )


def test_refuses_unknown_function_key():
    config = base_config()
    corn(config)["memroy_mb"] = 2048
    with pytest.raises(SettingsError) as raised:
        settings_from_config(config, stack="dev")
    assert str(raised.value).startswith("unknown key 'memroy_mb' in functions[corn]; did you mean 'memory_mb'?")


def test_refuses_unknown_schedule_key():
    config = base_config()
    corn(config)["schedule"]["tz"] = "UTC"
    with pytest.raises(SettingsError) as raised:
        settings_from_config(config, stack="dev")
    assert str(raised.value).startswith("unknown key 'tz' in functions[corn].schedule")


def test_refuses_missing_environment():
    config = base_config()
    del config[f"{P}:environment"]
    refuse(config, "environment is required")


def test_refuses_missing_region():
    config = base_config()
    del config["aws:region"]
    refuse(config, "aws:region is required (set it with `pulumi config set aws:region us-east-1`)")


def test_refuses_function_without_image():
    config = base_config()
    del corn(config)["image"]
    refuse(config, "functions[corn].image is required")


def test_refuses_function_without_name():
    config = base_config()
    del corn(config)["name"]
    refuse(config, "functions[0].name is required")


def test_refuses_function_naming_an_image_that_does_not_exist():
    config = base_config()
    corn(config)["image"] = "predicter"
    refuse(config, "functions[corn].image must be one of predictor, trainer, got 'predicter'")


def test_refuses_function_name_too_long_for_lambda():
    config = base_config()
    corn(config)["name"] = "x" * 41
    refuse(
        config,
        f"functions[{'x' * 41}].name makes the function name 'commodity-forecasts-dev-{'x' * 41}' "
        "(65 characters); Lambda allows at most 64",
    )


def test_refuses_wrongly_typed_value():
    config = base_config()
    corn(config)["memory_mb"] = "lots"
    refuse(config, "functions[corn].memory_mb must be a whole number, got 'lots'")


def test_refuses_reserved_environment_variable():
    config = base_config()
    corn(config)["environment"] = {"AWS_REGION": "eu-west-1"}
    refuse(config, "functions[corn].environment key 'AWS_REGION' is reserved by Lambda")


def test_refuses_bad_alarm_email():
    config = base_config()
    config[f"{P}:alarm_emails"] = ["oncall"]
    refuse(config, "alarm_emails entries must each be an email address, got 'oncall'")


def test_refuses_empty_images():
    config = copy.deepcopy(base_config())
    config[f"{P}:images"] = {}
    refuse(config, "images must list at least one image, e.g. {predictor: {}}")


def test_refuses_bad_legacy_bucket_name():
    config = base_config()
    config[f"{P}:legacy_bucket"] = "Mobile_Legacy"
    refuse(config, "legacy_bucket must be an S3 bucket name, got 'Mobile_Legacy'")


def test_refuses_legacy_prefix_without_trailing_slash():
    config = base_config()
    config[f"{P}:legacy_prefix"] = "predictions/latest"
    refuse(config, "legacy_prefix must be a key prefix ending in '/', got 'predictions/latest'")


def test_refuses_lead_time_longer_than_the_interval_between_runs():
    config = base_config()
    corn(config).update(
        provisioned_concurrency=1,
        provisioned_concurrency_mode="schedule_aligned",
        provisioned_concurrency_lead_minutes=90,
        schedule={"expression": "cron(0 0/1 * * ? *)"},
    )
    refuse(
        config,
        "functions[corn].provisioned_concurrency_lead_minutes (90) must be shorter than the 60 minutes between "
        "the function's runs; use provisioned_concurrency_mode fixed",
    )


def test_refuses_schedule_aligned_concurrency_on_a_rate_schedule():
    config = base_config()
    corn(config).update(
        provisioned_concurrency=1, provisioned_concurrency_mode="schedule_aligned", schedule={"expression": "rate(1 hour)"}
    )
    refuse(
        config,
        "functions[corn].provisioned_concurrency_mode is schedule_aligned, which needs a cron(...) schedule with fixed "
        "times, got 'rate(1 hour)'; use provisioned_concurrency_mode fixed",
    )


def test_scan_gate_settings_default_to_critical_with_no_exceptions():
    gate = settings_from_config(base_config(), stack="dev").scan_gate
    assert gate.severity_threshold == "CRITICAL" and gate.allow_list == ()


def test_scan_allow_list_entries_are_typed():
    config = base_config()
    config[f"{P}:scan_allow_list"] = [{"id": "CVE-2026-0001", "expires": "2027-01-31", "reason": "not reachable from our code"}]
    [entry] = settings_from_config(config, stack="dev").scan_gate.allow_list
    assert (entry.id, entry.expires.isoformat()) == ("CVE-2026-0001", "2027-01-31")


@pytest.mark.parametrize("entry, message", [
    ({"id": "CVE-1", "expires": "soon", "reason": "r"}, "scan_allow_list[0].expires must be a YYYY-MM-DD date, got 'soon'"),
    ({"id": "CVE-2026-0001", "expires": "2027-01-31"}, "scan_allow_list[0].reason is required"),
    ({"id": "CVE-2026-0001", "expires": "2027-01-31", "reason": " "}, "scan_allow_list[0].reason must say why the finding is accepted"),
])
def test_refuses_bad_allow_list_entries(entry, message):
    config = base_config()
    config[f"{P}:scan_allow_list"] = [entry]
    refuse(config, message)


def test_refuses_unknown_severity_threshold():
    config = base_config()
    config[f"{P}:scan_severity_threshold"] = "SEVERE"
    refuse(config, "scan_severity_threshold must be one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL, got 'SEVERE'")


def test_a_predictor_must_name_a_commodity_the_workload_forecasts():
    config = base_config()
    del corn(config)["event"]
    refuse(config, "functions[corn].event.commodity must be one of corn, wheat, soybeans, got null")
    corn(config)["event"] = {"commodity": "oats"}
    refuse(config, "functions[corn].event.commodity must be one of corn, wheat, soybeans, got 'oats' (the list is COMMODITIES in "
                   "images/common/contract.py, part of the images: README, \"Adding a commodity\")")


def test_an_image_without_an_access_profile_is_refused():
    config = base_config()
    config[f"{P}:images"]["scorer"] = {}
    config[f"{P}:functions"].append({"name": "score", "image": "scorer"})
    refuse(config, "functions[score].image 'scorer' has no access profile in common/contract.py (known: predictor, trainer)")


def test_workload_knobs_default_from_the_contract():
    settings = settings_from_config(base_config(), stack="dev")
    assert (settings.workload.forecast_horizon_days, settings.workload.max_price_age_days) == (1, 4)
    assert settings.workload.min_improvement == 0.0
    assert settings.workload.significance_level == 0.05


@pytest.mark.parametrize("key, value, message", [
    ("forecast_horizon_days", 21, "forecast_horizon_days must be between 1 and 20, got 21"),
    ("min_improvement", "1.5", "min_improvement must be between 0 and 1, got 1.5"),
    ("max_price_age_days", 0, "max_price_age_days must be between 1 and 30, got 0"),
    ("min_improvement", "a lot", "min_improvement must be a number, got 'a lot'"),
    ("significance_level", "0.9", "significance_level must be between 0.001 and 0.5, got 0.9"),
])
def test_workload_knobs_are_range_checked_by_the_contract(key, value, message):
    config = base_config()
    config[f"{P}:{key}"] = value
    refuse(config, message)


def test_legacy_file_names_name_supported_commodities_and_safe_file_names():
    config = base_config()
    config[f"{P}:legacy_file_names"] = {"soybeans": "soybean"}
    assert dict(settings_from_config(config, stack="dev").workload.legacy_file_names) == {"soybeans": "soybean"}
    config[f"{P}:legacy_file_names"] = {"oats": "oats"}
    refuse(config, "legacy_file_names: 'oats' is not a supported commodity (corn, wheat, soybeans) (the list is COMMODITIES in "
                   "images/common/contract.py, part of the images: README, \"Adding a commodity\")")
    config[f"{P}:legacy_file_names"] = {"corn": "../corn"}
    refuse(config, "legacy_file_names.corn must be 1-64 letters, digits, '-' or '_', got '../corn'")


def test_a_key_under_a_misspelled_project_namespace_is_refused():
    config = base_config()
    config["commodity-forcasts:log_retention_days"] = 14
    refuse(config, "config key 'commodity-forcasts:log_retention_days' is in namespace 'commodity-forcasts', which nothing "
                   "reads; did you mean 'commodity-forecasts:log_retention_days'? (known: commodity-forecasts, aws, pulumi, docker-build)")


def test_a_data_bucket_name_too_long_for_any_account_is_refused():
    config = base_config()
    config["aws:region"] = "ap-southeast-3"
    config[f"{P}:environment"] = "integration"
    refuse(config, "environment 'integration' in region ap-southeast-3 makes the access-log bucket name 69 characters "
                   "(e.g. commodity-forecasts-integration-data-123456789012-ap-southeast-3-logs); S3 allows 3-63: use a shorter environment name")


def test_the_pre_traffic_check_is_on_by_default_and_can_be_turned_off_or_pinned():
    settings = settings_from_config(base_config(), stack="dev")
    [corn_settings, trainer] = settings.functions
    assert corn_settings.pre_traffic_check is True and corn_settings.args.pinned_version is None
    assert corn_settings.dry_run_event == {"commodity": "corn", "dry_run": True} and trainer.dry_run_event == {"dry_run": True}
    config = base_config()
    corn(config).update(pre_traffic_check=False, live_version=7)
    [corn_settings, _] = settings_from_config(config, stack="dev").functions
    assert (corn_settings.pre_traffic_check, corn_settings.args.pinned_version) == (False, 7)
    corn(config)["live_version"] = 0
    refuse(config, "functions[corn].live_version must be between 1 and 1000000000, got 0")


def test_cost_assumptions_have_documented_defaults_and_are_range_checked():
    settings = settings_from_config(base_config(), stack="dev")
    assert settings.functions[0].expected_duration_seconds == 30
    assert (settings.cost.log_kb_per_run, settings.cost.data_gb, settings.cost.changed_mb_per_release) == (20, 1, 10)
    assert dict(settings.cost.image_mb) == {}
    config = base_config()
    config[f"{P}:cost_image_mb"] = {"predictor": 180}
    corn(config).update(expected_duration_seconds=12)
    settings = settings_from_config(config, stack="dev")
    assert (settings.functions[0].expected_duration_seconds, settings.cost.image_mb["predictor"]) == (12, 180)
    corn(config).update(expected_duration_seconds=301)
    refuse(config, "functions[corn].expected_duration_seconds (301) must not exceed timeout_seconds (300)")
    corn(config).pop("expected_duration_seconds")
    config[f"{P}:cost_image_mb"] = {"predictor": 0}
    refuse(config, "cost_image_mb.predictor must be between 1 and 10240, got 0")
    config[f"{P}:cost_image_mb"] = {}
    config[f"{P}:cost_log_kb_per_run"] = -1
    refuse(config, "cost_log_kb_per_run must be between 0 and 1000000, got -1")


def test_refuses_a_region_lambda_does_not_run_in_and_suggests_the_closest():
    config = base_config()
    config["aws:region"] = "us-east1"
    refuse(config, "aws:region 'us-east1' is not a region where Lambda runs (botocore's endpoints data); did you mean 'us-east-1'?")


def test_delivery_settings_default_to_the_bootstrap_role_no_registry_and_three_versions():
    from stack_config.identities import deploy_role_arn

    settings = settings_from_config(base_config(), stack="dev")
    assert (settings.deploy_role_arn, settings.registry_owner, settings.rollback.versions) == (None, False, 3)
    assert settings.deploy_role("123456789012") == deploy_role_arn("us-east-1", "123456789012", P, "dev") == (
        "arn:aws:iam::123456789012:role/commodity-forecasts-bootstrap/commodity-forecasts-dev-deploy"
    )
    named = "arn:aws:iam::123456789012:role/ci/sandbox-deployer"
    config = {**base_config(), f"{P}:deploy_role_arn": named, f"{P}:registry_owner": "true", f"{P}:rollback_versions": "5"}
    settings = settings_from_config(config, stack="dev")
    assert (settings.deploy_role("123456789012"), settings.registry_owner, settings.rollback.versions) == (named, True, 5)


def test_refuses_a_deploy_role_that_is_not_a_role_arn():
    refuse({**base_config(), f"{P}:deploy_role_arn": "arn:aws:iam::123456789012:user/ci"},
           "deploy_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<path/><name>), got 'arn:aws:iam::123456789012:user/ci'")


@pytest.mark.parametrize("versions", [1, 101])
def test_refuses_rollback_reach_outside_its_range(versions):
    refuse({**base_config(), f"{P}:rollback_versions": versions}, f"rollback_versions must be between 2 and 100, got {versions}")


def test_refuses_a_registry_owner_that_is_not_a_boolean():
    refuse({**base_config(), f"{P}:registry_owner": "yes"}, "registry_owner must be true or false, got 'yes'")
