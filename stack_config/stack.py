"""Loading one stack: the config the CLI would pass, validated section by section into `Settings`, then
planned (every effective schedule resolved once).

`load_settings()` reads the running program's Pulumi config; `settings_from_config()` does the work on a
plain mapping, so tests and tools validate a stack file without a Pulumi engine (`stack_config()` builds
that mapping from the files, as the CLI merges them). Every refusal names the key, what is allowed and
what was received, e.g. ``functions[corn].memory_mb must be between 128 and 10240, got 64``.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from common.contract import COMMODITIES, FORECAST_HORIZON_DAYS, MAX_PRICE_AGE_DAYS, MIN_IMPROVEMENT, SIGNIFICANCE_LEVEL
from common.environment import LEGACY_FILE_NAME
from components.limits import (
    ALARM_COLD_START_MS,
    ALARM_DURATION_TIMEOUT_PERCENT,
    ALARM_ERRORS,
    ALARM_MISSED_RUN_SLACK_MINUTES,
    ALARM_MODEL_AGE_DAYS,
    ALARM_THROTTLES,
    ARCHITECTURES,
    ECR_KEEP_RELEASE_IMAGES,
    ECR_UNTAGGED_EXPIRE_DAYS,
    LOG_RETENTION_DAYS,
    S3_BUCKET_NAME,
)
from components.monitoring import AlarmThresholds
from stack_config import plan, promotion, tool_settings
from stack_config.functions import ADDING_A_COMMODITY, NAME, NAME_TEXT, StackDefaults, functions, images, price_feed_function
from stack_config.identities import ROLE_ARN, ROLE_ARN_TEXT
from stack_config.model import PROJECT, EcrSettings, Settings, WorkloadSettings
from stack_config.reader import Doc, Reader, SettingsError, decode, doc_of, show

_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OTHER_NAMESPACES = ("aws", "pulumi", "docker-build")
"""Config namespaces read by someone else (the providers, the engine): left alone."""
REGION_DOC = Doc("The AWS provider's region: every resource of the stack is created there.", allowed="an AWS region")
"""`aws:region` is the provider's key, read here only to name resources."""
EXAMPLE_ACCOUNT_ID = "123456789012"
"""Any account id has 12 digits: derived names are checked at this length before the account is known."""


def load_settings() -> Settings:
    """Read and validate the current stack's configuration (call once, from `__main__.py`)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    values: dict[str, Any] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return settings_from_config(values, project=pulumi.get_project(), stack=pulumi.get_stack())


def stack_config(project_dir: str | Path, stack: str) -> dict[str, str]:
    """The config `pulumi up -s <stack>` would pass: `Pulumi.yaml` defaults under `Pulumi.<stack>.yaml`,
    values as strings (JSON for structures). For tools and tests that run without the Pulumi CLI."""
    import yaml

    root = Path(project_dir)
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    declared = project.get("config") or {}
    values: dict[str, Any] = {}
    for key, declaration in declared.items():
        if isinstance(declaration, dict) and "default" in declaration:
            values[key if ":" in key else f"{project['name']}:{key}"] = declaration["default"]
    values.update(yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"])
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def settings_from_config(values: Mapping[str, Any], *, project: str = PROJECT, stack: str, project_dir: str | Path = ".") -> Settings:
    """Validate namespaced config values (`<project>:<key>`, `aws:region`) into planned `Settings`. `project_dir`
    holds the other stack files: a promoting stack's source, and the stacks that promote from this one."""
    _refuse_foreign_namespaces(values, project)
    own = {key.split(":", 1)[1]: value for key, value in values.items() if key.startswith(f"{project}:")}
    region = values.get("aws:region")
    if region in (None, ""):
        raise SettingsError("aws:region is required (set it with `pulumi config set aws:region us-east-1`)")
    _check_region(str(region))
    account_id = _account(values.get("aws:allowedAccountIds"))
    top = Reader("", own, unknown_hint=f"config key '{project}:{{key}}'")
    environment = top.string("environment", pattern=NAME, pattern_text=NAME_TEXT, max_length=12, doc=doc_of(Settings, "environment"))
    protect = top.boolean("protect", Settings.protect, doc=doc_of(Settings, "protect"))
    architecture = top.string("architecture", Settings.architecture, choices=ARCHITECTURES, doc=doc_of(Settings, "architecture"))
    log_retention_days = top.integer(
        "log_retention_days", Settings.log_retention_days, allowed=LOG_RETENTION_DAYS, doc=doc_of(Settings, "log_retention_days"),
    )
    alarm_emails = tuple(top.string_list(
        "alarm_emails", list(Settings.alarm_emails), pattern=_EMAIL, pattern_text="an email address", doc=doc_of(Settings, "alarm_emails"),
    ))
    stagger_minutes = top.integer("stagger_minutes", Settings.stagger_minutes, minimum=1, maximum=720, doc=doc_of(Settings, "stagger_minutes"))
    legacy_bucket = top.optional_string(
        "legacy_bucket", pattern=S3_BUCKET_NAME, pattern_text="an S3 bucket name", doc=doc_of(Settings, "legacy_bucket", default="unset (no legacy feed)"),
    )
    legacy_prefix = top.string(
        "legacy_prefix", Settings.legacy_prefix, pattern=_PREFIX, pattern_text="a key prefix ending in '/'", doc=doc_of(Settings, "legacy_prefix"),
    )
    workload = _workload(top)
    ecr, alarms = _ecr(top), _alarms(top)
    runbook_url = top.string("runbook_url", Settings.runbook_url, max_length=1024, doc=doc_of(Settings, "runbook_url"))
    scan_gate = tool_settings.scan_gate(top)
    cost = tool_settings.cost(top)
    delivery = tool_settings.delivery(top)
    rollback = tool_settings.rollback(top)
    deploy_role_arn, registry_owner = _registry(top)
    promote_from, promotion_mode = promotion.read(top)
    found_images = images(top)
    defaults = StackDefaults(architecture, f"{project}-{environment}", log_retention_days, protect)
    found_functions = functions(top, found_images, defaults)
    feed = price_feed_function(found_images, found_functions, defaults) if top.boolean(
        "price_feed", True, doc=doc_of(Settings, "price_feed", default="`true`", allowed="true, false")) else None
    top.finish()
    _check_derived_bucket_name(project, environment, str(region))
    settings = Settings(
        project=project,
        stack=stack,
        environment=environment,
        region=str(region),
        account_id=account_id,
        protect=protect,
        architecture=architecture,
        images=found_images,
        functions=plan.resolve(found_functions, stagger_minutes),
        ecr=ecr,
        log_retention_days=log_retention_days,
        alarm_emails=alarm_emails,
        stagger_minutes=stagger_minutes,
        legacy_bucket=legacy_bucket,
        legacy_prefix=legacy_prefix,
        alarms=alarms,
        runbook_url=runbook_url,
        scan_gate=scan_gate,
        workload=workload,
        cost=cost,
        delivery=delivery,
        price_feed=feed,
        rollback=rollback,
        deploy_role_arn=deploy_role_arn,
        registry_owner=registry_owner,
        consumers=promotion.consumers(project_dir, stack, project),
    )
    if promote_from is None:
        return settings
    return replace(settings, promotion=_promotion(settings, promote_from, promotion_mode, Path(project_dir)))


def _promotion(settings: Settings, source_name: str, mode: str, project_dir: Path) -> promotion.Promotion:
    """The source as its own file configures it, checked against this stack (stack_config/promotion.py)."""
    path = project_dir / f"Pulumi.{source_name}.yaml"
    if source_name != settings.stack and not path.is_file():
        raise SettingsError(f"{promotion.PROMOTE_FROM}: {source_name!r} has no stack file ({path.name} does not exist)")
    values = stack_config(project_dir, source_name) if source_name != settings.stack else {}
    chained = f"{settings.project}:{promotion.PROMOTE_FROM}" in values
    source = settings if chained or source_name == settings.stack else settings_from_config(
        values, project=settings.project, stack=source_name, project_dir=project_dir)
    promotion.check(
        _side(settings), replace(_side(source), stack=source_name), mode, source_promotes=chained,
        build_args={image.name: image.build_args for image in settings.images},
    )
    assert source.account_id is not None  # promotion.check refuses a source without one
    return promotion.Promotion(
        promotion.Source(source.stack, source.environment, source.region, source.account_id, source.image_builds()), mode,
    )


def _side(settings: Settings) -> promotion.Stack:
    return promotion.Stack(settings.stack, settings.region, settings.account_id, settings.registry_owner, settings.image_builds())


def lambda_regions() -> set[str]:
    """Every region where Lambda runs, in every partition, from botocore's endpoints data (kept current by
    each botocore release, which `make upgrade` moves with the rest)."""
    import botocore.session

    session = botocore.session.get_session()
    return {r for p in session.get_available_partitions() for r in session.get_available_regions("lambda", partition_name=p)}


def _check_region(region: str) -> None:
    regions = lambda_regions()
    if region not in regions:
        close = difflib.get_close_matches(region, sorted(regions), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingsError(f"aws:region {region!r} is not a region where Lambda runs (botocore's endpoints data){hint}")


def _account(value: Any) -> str | None:
    """The account the stack deploys to: the AWS provider's `aws:allowedAccountIds` (it refuses any other),
    which the delivery tools read to name the stack's roles and state; one account per stack."""
    if value in (None, ""):
        return None
    accounts = decode("aws:allowedAccountIds", value, list)
    if len(accounts) != 1 or not isinstance(accounts[0], str) or not re.fullmatch(r"\d{12}", accounts[0]):
        raise SettingsError(f"aws:allowedAccountIds must list exactly one 12-digit account id (as a string), got {show(accounts)}")
    return accounts[0]


def _refuse_foreign_namespaces(values: Mapping[str, Any], project: str) -> None:
    """A key under a misspelled project namespace would otherwise be ignored without a word."""
    for key in values:
        namespace = key.split(":", 1)[0] if ":" in key else ""
        if namespace and namespace != project and namespace not in OTHER_NAMESPACES:
            hint = difflib.get_close_matches(namespace, [project, *OTHER_NAMESPACES], n=1)
            suggestion = f"; did you mean '{hint[0]}:{key.split(':', 1)[1]}'?" if hint else ""
            raise SettingsError(
                f"config key {key!r} is in namespace {namespace!r}, which nothing reads{suggestion} "
                f"(known: {', '.join((project, *OTHER_NAMESPACES))})"
            )


def _check_derived_bucket_name(project: str, environment: str, region: str) -> None:
    """The longest derived name: the data bucket's access-log bucket (components/data.py)."""
    name = f"{project}-{environment}-data-{EXAMPLE_ACCOUNT_ID}-{region}-logs"
    if not S3_BUCKET_NAME.match(name):
        raise SettingsError(
            f"environment {environment!r} in region {region} makes the access-log bucket name {len(name)} characters "
            f"(e.g. {name}); S3 allows 3-63: use a shorter environment name"
        )


def _ecr(top: Reader) -> EcrSettings:
    return EcrSettings(
        untagged_expire_days=top.ranged(ECR_UNTAGGED_EXPIRE_DAYS, key="ecr_untagged_expire_days"),
        keep_release_images=top.ranged(ECR_KEEP_RELEASE_IMAGES, key="ecr_keep_release_images"),
    )


def _registry(top: Reader) -> tuple[str | None, bool]:
    """Who may push to the stack's repositories, and whether it owns the account's registry configuration."""
    deploy_role_arn = top.optional_string("deploy_role_arn", pattern=ROLE_ARN, pattern_text=ROLE_ARN_TEXT, doc=doc_of(
        Settings, "deploy_role_arn", default="the bootstrap's deploy role (`…:role/commodity-forecasts-bootstrap/commodity-forecasts-<environment>-deploy`)",
    ))
    registry_owner = top.boolean("registry_owner", Settings.registry_owner, doc=doc_of(Settings, "registry_owner"))
    return deploy_role_arn, registry_owner


def _alarms(top: Reader) -> AlarmThresholds:
    return AlarmThresholds(
        errors=top.ranged(ALARM_ERRORS, key="alarm_errors_threshold"),
        throttles=top.ranged(ALARM_THROTTLES, key="alarm_throttles_threshold"),
        duration_timeout_percent=top.ranged(ALARM_DURATION_TIMEOUT_PERCENT, key="alarm_duration_timeout_percent"),
        cold_start_ms=top.ranged(ALARM_COLD_START_MS, key="alarm_cold_start_ms"),
        model_age_days=top.ranged(ALARM_MODEL_AGE_DAYS, key="alarm_model_age_days"),
        missed_run_slack_minutes=top.ranged(ALARM_MISSED_RUN_SLACK_MINUTES, key="alarm_missed_run_slack_minutes"),
    )


def _workload(top: Reader) -> WorkloadSettings:
    names = top.string_map("legacy_file_names", doc=doc_of(WorkloadSettings, "legacy_file_names", allowed="`{<commodity>: <file name>}`"))
    for commodity, name in names.items():
        if commodity not in COMMODITIES:
            raise SettingsError(
                f"legacy_file_names: {commodity!r} is not a supported commodity ({', '.join(COMMODITIES)}){ADDING_A_COMMODITY}"
            )
        if not LEGACY_FILE_NAME.match(name):
            raise SettingsError(f"legacy_file_names.{commodity} must be 1-64 letters, digits, '-' or '_', got {name!r}")
    return WorkloadSettings(
        forecast_horizon_days=top.knob(FORECAST_HORIZON_DAYS, whole=True),
        max_price_age_days=top.knob(MAX_PRICE_AGE_DAYS, whole=True),
        min_improvement=top.knob(MIN_IMPROVEMENT, whole=False),
        significance_level=top.knob(SIGNIFICANCE_LEVEL, whole=False),
        legacy_file_names=MappingProxyType(names),
    )
