"""Stack settings: the one place configuration is read, validated once into frozen typed objects.

`load_settings()` reads the stack's Pulumi config; `settings_from_config()` does the work on a plain
mapping so tests (and tools) can validate a stack file without a Pulumi engine. Every refusal names
the key, what is allowed and what was received, e.g.
``functions[corn].memory_mb must be between 128 and 10240, got 64``.

Pulumi passes config values as strings (objects as JSON); values straight from YAML are accepted too.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.contract import ACCESS, COMMODITIES, FORECAST_HORIZON_DAYS, LEGACY_PREFIX, MAX_PRICE_AGE_DAYS, MIN_IMPROVEMENT, SIGNIFICANCE_LEVEL, Knob
from common.environment import LEGACY_FILE_NAME, WorkloadEnvironment
from components import cron
from components.function import ContainerFunctionArgs
from components.limits import (
    ARCHITECTURES,
    COST_CHANGED_MB_PER_RELEASE,
    COST_DATA_GB,
    COST_LOG_KB_PER_RUN,
    ECR_KEEP_RELEASE_IMAGES,
    ECR_UNTAGGED_EXPIRE_DAYS,
    EPHEMERAL_STORAGE_MB,
    EXPECTED_DURATION_SECONDS,
    LOG_FORMATS,
    LOG_RETENTION_DAYS,
    LOG_RETENTION_DAYS_DEFAULT,
    MAX_EVENT_AGE_SECONDS,
    MAX_FUNCTION_NAME,
    MAX_IMAGE_MB,
    MAX_RETRY_ATTEMPTS,
    MEMORY_MB,
    PROVISIONED_CONCURRENCY,
    PROVISIONED_CONCURRENCY_LEAD_MINUTES,
    PROVISIONED_CONCURRENCY_MODES,
    RESERVED_CONCURRENCY,
    RESERVED_ENVIRONMENT,
    SCHEDULE_MAX_EVENT_AGE_SECONDS,
    SCHEDULE_RETRY_ATTEMPTS,
    TIMEOUT_SECONDS,
    Range,
)
from components.schedule import ScheduleArgs

PROJECT = "commodity-forecasts"
_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")
_ENV_VAR = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REQUIRED = object()


class SettingsError(ValueError):
    """A configuration value is missing, unknown or out of range."""


@dataclass(frozen=True)
class ImageSettings:
    """One container image, built from `images/<name>/Dockerfile` with `images/` as context."""

    name: str
    build_args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Extra `--build-arg` values."""


@dataclass(frozen=True)
class FunctionSettings:
    """One container-image Lambda function: the component's own Args and ScheduleArgs, built from config
    (no mirror type: their fields and defaults are the only ones), plus what only the program uses."""

    name: str
    image: str
    architecture: str
    args: ContainerFunctionArgs = None  # type: ignore[assignment]
    """Everything the function is built with except what the program fills in (image build, resource
    names, access statements, staggered schedule). None: the Args' defaults, under `name`."""
    schedule: ScheduleArgs | None = None
    """When it runs, with the declared (not yet staggered) expression; functions sharing a base time
    are staggered by `stagger_minutes`."""
    event: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The payload a scheduled run receives, e.g. {"commodity": "corn"}."""
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The stack's own extra variables (the workload contract's are added by the program)."""
    pre_traffic_check: bool = True
    """Invoke each new version with `dry_run_event` before `live` moves to it (README: Deploying safely)."""
    expected_duration_seconds: int = int(EXPECTED_DURATION_SECONDS.default)
    """What one run is expected to take: only the cost estimate (`tools.cost`) reads it."""

    def __post_init__(self) -> None:
        if self.args is None:
            object.__setattr__(self, "args", ContainerFunctionArgs(function_name=self.name))

    @property
    def dry_run_event(self) -> dict[str, Any]:
        """The scheduled event with `dry_run: true`: the gate's and `tools.rollback`'s check."""
        return {**self.event, "dry_run": True}


@dataclass(frozen=True)
class EcrSettings:
    """Lifecycle of every ECR repository (ranges and defaults: components/limits.py)."""

    untagged_expire_days: int = int(ECR_UNTAGGED_EXPIRE_DAYS.default)
    keep_release_images: int = int(ECR_KEEP_RELEASE_IMAGES.default)


@dataclass(frozen=True)
class AlarmSettings:
    """Alarm thresholds, the same for every function (durations follow each function's timeout)."""

    errors: int = 1
    """Errors in 5 minutes that page (≥)."""
    throttles: int = 1
    duration_timeout_percent: int = 80
    """p99 duration above this share of the timeout pages before runs start timing out."""
    cold_start_ms: int = 2000
    model_age_days: int = 10
    """A weekly trainer plus three days of slack."""
    missed_run_slack_minutes: int = 60
    """Added to a schedule's longest gap before a run counts as missed."""


SEVERITIES = ("INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""ECR finding severities, least to most severe."""


@dataclass(frozen=True)
class AllowedFinding:
    """A reviewed finding the image gate lets through until `expires`."""

    id: str
    expires: date
    reason: str


@dataclass(frozen=True)
class ScanGateSettings:
    """What the image vulnerability gate blocks: findings at or above the threshold not allow-listed."""

    severity_threshold: str = "CRITICAL"
    allow_list: tuple[AllowedFinding, ...] = ()


@dataclass(frozen=True)
class CostSettings:
    """Usage the cost estimate (`tools.cost`) assumes where the program cannot know it; nothing deployed
    depends on these."""

    log_kb_per_run: int = int(COST_LOG_KB_PER_RUN.default)
    data_gb: int = int(COST_DATA_GB.default)
    changed_mb_per_release: int = int(COST_CHANGED_MB_PER_RELEASE.default)
    image_mb: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Image → MB stored in ECR; an image not listed is estimated at its Dockerfile's size budget."""


@dataclass(frozen=True)
class WorkloadSettings:
    """What the workloads are told (common/contract.py names the variables): ranges live with each Knob."""

    forecast_horizon_days: int = int(FORECAST_HORIZON_DAYS.default)
    max_price_age_days: int = int(MAX_PRICE_AGE_DAYS.default)
    min_improvement: float = MIN_IMPROVEMENT.default
    significance_level: float = SIGNIFICANCE_LEVEL.default
    legacy_file_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Commodity → file name the mobile app reads (without `.json`); unlisted commodities use their own name."""


@dataclass(frozen=True)
class Settings:
    """Everything one stack is configured with. The defaults here (and in the nested settings, in
    components/limits.py and in common/contract.py's knobs) are the only ones: `Pulumi.yaml` declares
    just the two required keys, because the CLI treats a declared key without a default as required."""

    project: str
    stack: str
    environment: str
    region: str
    images: tuple[ImageSettings, ...]
    functions: tuple[FunctionSettings, ...]
    legacy_bucket: str
    """The mobile app's existing bucket; the stack may write only under `legacy_prefix`."""
    protect: bool = True
    """Production guard: protect stateful resources and never force-delete repositories."""
    architecture: str = "arm64"
    ecr: EcrSettings = EcrSettings()
    log_retention_days: int = LOG_RETENTION_DAYS_DEFAULT
    alarm_emails: tuple[str, ...] = ()
    stagger_minutes: int = 15
    legacy_prefix: str = LEGACY_PREFIX
    alarms: AlarmSettings = AlarmSettings()
    runbook_url: str = "README.md#runbook"
    scan_gate: ScanGateSettings = ScanGateSettings()
    workload: WorkloadSettings = WorkloadSettings()
    cost: CostSettings = CostSettings()

    @property
    def name_prefix(self) -> str:
        """Prefix of physical names, unique per project and environment."""
        return f"{self.project}-{self.environment}"

    def data_bucket_name(self, account_id: str) -> str:
        """S3 names are global: account and region make ours unique without a random suffix."""
        return f"{self.name_prefix}-data-{account_id}-{self.region}"

    @property
    def predictions_table_name(self) -> str:
        return f"{self.name_prefix}-predictions"

    def workload_environment(self, *, data_bucket: Any, predictions_table: Any, legacy_bucket: Any) -> WorkloadEnvironment:
        """What this stack tells its functions (names may be resource outputs): the one source for the
        program, the demo and `make serve`."""
        return WorkloadEnvironment(
            data_bucket=data_bucket,
            predictions_table=predictions_table,
            legacy_bucket=legacy_bucket,
            legacy_prefix=self.legacy_prefix,
            max_price_age_days=self.workload.max_price_age_days,
            min_improvement=self.workload.min_improvement,
            significance_level=self.workload.significance_level,
            forecast_horizon_days=self.workload.forecast_horizon_days,
            legacy_file_names=self.workload.legacy_file_names,
        )

    def function_name(self, function: FunctionSettings) -> str:
        return function.args.function_name

    def image(self, name: str) -> ImageSettings:
        return next(image for image in self.images if image.name == name)

    def image_builds(self) -> tuple[tuple[str, str], ...]:
        """(image, architecture) pairs to build: one per architecture its functions use, else the default."""
        builds: list[tuple[str, str]] = []
        for image in self.images:
            architectures = sorted({f.architecture for f in self.functions if f.image == image.name})
            for architecture in architectures or [self.architecture]:
                builds.append((image.name, architecture))
        return tuple(builds)


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


def settings_from_config(values: Mapping[str, Any], *, project: str = PROJECT, stack: str) -> Settings:
    """Validate namespaced config values (`<project>:<key>`, `aws:region`) into `Settings`."""
    _refuse_foreign_namespaces(values, project)
    own = {key.split(":", 1)[1]: value for key, value in values.items() if key.startswith(f"{project}:")}
    region = values.get("aws:region")
    if region in (None, ""):
        raise SettingsError("aws:region is required (set it with `pulumi config set aws:region us-east-1`)")
    top = _Reader("", own, unknown_hint=f"config key '{project}:{{key}}'")
    environment = top.string(
        "environment", pattern=_NAME, pattern_text="lowercase letters, digits and hyphens", max_length=12
    )
    protect = top.boolean("protect", Settings.protect)
    architecture = top.string("architecture", Settings.architecture, choices=ARCHITECTURES)
    log_retention_days = top.integer("log_retention_days", Settings.log_retention_days, allowed=LOG_RETENTION_DAYS)
    alarm_emails = tuple(top.string_list("alarm_emails", list(Settings.alarm_emails), pattern=_EMAIL, pattern_text="an email address"))
    stagger_minutes = top.integer("stagger_minutes", Settings.stagger_minutes, minimum=1, maximum=720)
    legacy_bucket = top.string("legacy_bucket", pattern=_BUCKET, pattern_text="an S3 bucket name")
    legacy_prefix = top.string(
        "legacy_prefix", Settings.legacy_prefix, pattern=_PREFIX, pattern_text="a key prefix ending in '/'"
    )
    workload = _workload(top)
    ecr, alarms = _ecr(top), _alarms(top)
    runbook_url = top.string("runbook_url", Settings.runbook_url, max_length=1024)
    scan_gate = _scan_gate(top)
    cost = _cost(top)
    images = _images(top)
    functions = _functions(top, images, _FunctionDefaults(architecture, f"{project}-{environment}", log_retention_days))
    top.finish()
    _check_derived_bucket_name(project, environment, str(region))
    return Settings(
        project=project,
        stack=stack,
        environment=environment,
        region=str(region),
        protect=protect,
        architecture=architecture,
        images=images,
        functions=functions,
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
    )


OTHER_NAMESPACES = ("aws", "pulumi", "docker-build")
"""Config namespaces read by someone else (the providers, the engine): left alone."""
EXAMPLE_ACCOUNT_ID = "123456789012"
"""Any account id has 12 digits: derived names are checked at this length before the account is known."""


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
    if not _BUCKET.match(name):
        raise SettingsError(
            f"environment {environment!r} in region {region} makes the access-log bucket name {len(name)} characters "
            f"(e.g. {name}); S3 allows 3-63: use a shorter environment name"
        )


def _ecr(top: "_Reader") -> EcrSettings:
    return EcrSettings(
        untagged_expire_days=top.ranged(ECR_UNTAGGED_EXPIRE_DAYS, key="ecr_untagged_expire_days"),
        keep_release_images=top.ranged(ECR_KEEP_RELEASE_IMAGES, key="ecr_keep_release_images"),
    )


def _alarms(top: "_Reader") -> AlarmSettings:
    return AlarmSettings(
        errors=top.integer("alarm_errors_threshold", AlarmSettings.errors, minimum=1, maximum=1000),
        throttles=top.integer("alarm_throttles_threshold", AlarmSettings.throttles, minimum=1, maximum=1000),
        duration_timeout_percent=top.integer(
            "alarm_duration_timeout_percent", AlarmSettings.duration_timeout_percent, minimum=10, maximum=100
        ),
        cold_start_ms=top.integer("alarm_cold_start_ms", AlarmSettings.cold_start_ms, minimum=100, maximum=10000),
        model_age_days=top.integer("alarm_model_age_days", AlarmSettings.model_age_days, minimum=1, maximum=365),
        missed_run_slack_minutes=top.integer(
            "alarm_missed_run_slack_minutes", AlarmSettings.missed_run_slack_minutes, minimum=5, maximum=1440
        ),
    )


def _scan_gate(top: "_Reader") -> ScanGateSettings:
    return ScanGateSettings(
        severity_threshold=top.string("scan_severity_threshold", ScanGateSettings.severity_threshold, choices=SEVERITIES),
        allow_list=_allow_list(top),
    )


def _cost(top: "_Reader") -> CostSettings:
    image_mb = {}
    for image, value in top.object("cost_image_mb").items():
        image_mb[image] = _decode(f"cost_image_mb.{image}", value, int)
        if not 1 <= image_mb[image] <= MAX_IMAGE_MB:
            raise SettingsError(f"cost_image_mb.{image} must be between 1 and {MAX_IMAGE_MB}, got {image_mb[image]}")
    return CostSettings(
        log_kb_per_run=top.ranged(COST_LOG_KB_PER_RUN),
        data_gb=top.ranged(COST_DATA_GB),
        changed_mb_per_release=top.ranged(COST_CHANGED_MB_PER_RELEASE),
        image_mb=MappingProxyType(image_mb),
    )


def _workload(top: "_Reader") -> WorkloadSettings:
    names = top.string_map("legacy_file_names")
    for commodity, name in names.items():
        if commodity not in COMMODITIES:
            raise SettingsError(
                f"legacy_file_names: {commodity!r} is not a supported commodity ({', '.join(COMMODITIES)})"
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


def _images(top: "_Reader") -> tuple[ImageSettings, ...]:
    raw = top.object_map("images")
    if not raw:
        raise SettingsError("images must list at least one image, e.g. {predictor: {}}")
    images = []
    for name, body in raw.items():
        if not _NAME.match(name):
            raise SettingsError(f"images: name must be lowercase letters, digits and hyphens, got {name!r}")
        reader = _Reader(f"images[{name}]", body)
        images.append(ImageSettings(name=name, build_args=MappingProxyType(reader.string_map("build_args"))))
        reader.finish()
    return tuple(images)


@dataclass(frozen=True)
class _FunctionDefaults:
    """What a function inherits from the stack."""

    architecture: str
    name_prefix: str
    log_retention_days: int


def _functions(top: "_Reader", images: tuple[ImageSettings, ...], defaults: _FunctionDefaults) -> tuple[FunctionSettings, ...]:
    raw = top.object_list("functions")
    image_names = [image.name for image in images]
    seen: dict[str, int] = {}
    functions = []
    for index, body in enumerate(raw):
        label = body.get("name") if isinstance(body, dict) and isinstance(body.get("name"), str) else index
        reader = _Reader(f"functions[{label}]", body)
        name = reader.string("name", pattern=_NAME, pattern_text="lowercase letters, digits and hyphens")
        if name in seen:
            raise SettingsError(
                f"functions[{index}].name {name!r} is already used by functions[{seen[name]}]; names must be unique"
            )
        seen[name] = index
        physical = f"{defaults.name_prefix}-{name}"
        if len(physical) > MAX_FUNCTION_NAME:
            raise SettingsError(
                f"functions[{name}].name makes the function name {physical!r} ({len(physical)} characters); "
                f"Lambda allows at most {MAX_FUNCTION_NAME}"
            )
        function = _function(reader, name, physical, image_names, defaults)
        _check_workload_event(function)
        functions.append(function)
        reader.finish()
    return tuple(functions)


def _function(reader: "_Reader", name: str, physical: str, image_names: list[str], defaults: _FunctionDefaults) -> FunctionSettings:
    image = reader.string("image", choices=image_names)
    event = MappingProxyType(reader.object("event"))
    schedule = _schedule(reader, event)
    args = _function_args(reader, name, physical, image, schedule, defaults)
    return FunctionSettings(
        name=name,
        image=image,
        architecture=reader.string("architecture", defaults.architecture, choices=ARCHITECTURES),
        args=args,
        schedule=schedule,
        event=event,
        environment=MappingProxyType(_environment(reader)),
        pre_traffic_check=reader.boolean("pre_traffic_check", FunctionSettings.pre_traffic_check),
        expected_duration_seconds=_expected_duration(reader, args.timeout_seconds),
    )


def _expected_duration(reader: "_Reader", timeout_seconds: int) -> int:
    seconds = reader.ranged(EXPECTED_DURATION_SECONDS)
    if seconds > timeout_seconds:
        raise SettingsError(
            f"{reader.key('expected_duration_seconds')} ({seconds}) must not exceed timeout_seconds ({timeout_seconds})"
        )
    return seconds


def _function_args(
    reader: "_Reader", name: str, physical: str, image: str, schedule: ScheduleArgs | None, defaults: _FunctionDefaults
) -> ContainerFunctionArgs:
    """The component's Args straight from config; each default is the Args' own."""
    reserved = reader.optional_integer(RESERVED_CONCURRENCY.name, minimum=RESERVED_CONCURRENCY.minimum, maximum=RESERVED_CONCURRENCY.maximum)
    if reserved is None:
        provisioned = reader.ranged(PROVISIONED_CONCURRENCY)
    else:
        provisioned = reader.integer(
            PROVISIONED_CONCURRENCY.name, PROVISIONED_CONCURRENCY.default, minimum=PROVISIONED_CONCURRENCY.minimum, maximum=reserved,
            maximum_text=f"reserved_concurrency ({reserved})",
        )
    mode = reader.string("provisioned_concurrency_mode", ContainerFunctionArgs.provisioned_concurrency_mode, choices=PROVISIONED_CONCURRENCY_MODES)
    lead = reader.ranged(PROVISIONED_CONCURRENCY_LEAD_MINUTES)
    if mode == "schedule_aligned" and provisioned > 0:
        _check_schedule_aligned(reader, schedule, lead)
    return ContainerFunctionArgs(
        function_name=physical,
        description=reader.string("description", f"{name}: runs the {image} image", max_length=256),
        memory_mb=reader.ranged(MEMORY_MB),
        timeout_seconds=reader.ranged(TIMEOUT_SECONDS),
        ephemeral_storage_mb=reader.ranged(EPHEMERAL_STORAGE_MB),
        reserved_concurrency=reserved,
        provisioned_concurrency=provisioned,
        provisioned_concurrency_mode=mode,
        provisioned_concurrency_lead_minutes=lead,
        schedule_expression=schedule.expression if schedule else None,
        schedule_timezone=schedule.timezone if schedule else ContainerFunctionArgs.schedule_timezone,
        log_retention_days=defaults.log_retention_days,
        max_retry_attempts=reader.ranged(MAX_RETRY_ATTEMPTS),
        max_event_age_seconds=reader.ranged(MAX_EVENT_AGE_SECONDS),
        function_url=reader.boolean("function_url", ContainerFunctionArgs.function_url),
        log_format=reader.string("log_format", ContainerFunctionArgs.log_format, choices=LOG_FORMATS),
        pinned_version=reader.optional_integer("live_version", minimum=1, maximum=10**9),
    )


def _check_workload_event(function: FunctionSettings) -> None:
    """What would otherwise fail every night: an image with no access profile, or a predictor whose
    scheduled event names no commodity, or one the workload does not forecast."""
    profile = ACCESS.get(function.image)
    if profile is None:
        raise SettingsError(
            f"functions[{function.name}].image {function.image!r} has no access profile in common/contract.py "
            f"(known: {', '.join(ACCESS)})"
        )
    if profile.emits_business_metrics:
        commodity = function.event.get("commodity")
        if commodity not in COMMODITIES:
            raise SettingsError(
                f"functions[{function.name}].event.commodity must be one of {', '.join(COMMODITIES)}, got {_show(commodity)}"
            )


def _allow_list(top: "_Reader") -> tuple[AllowedFinding, ...]:
    entries = []
    for index, body in enumerate(top.object_list("scan_allow_list")):
        reader = _Reader(f"scan_allow_list[{index}]", body)
        finding_id = reader.string("id", pattern=re.compile(r"^\S{3,128}$"), pattern_text="a finding id such as CVE-2024-12345")
        raw_expiry = reader.string("expires")
        try:
            expires = date.fromisoformat(raw_expiry)
        except ValueError:
            raise SettingsError(f"{reader.key('expires')} must be a YYYY-MM-DD date, got {raw_expiry!r}") from None
        reason = reader.string("reason", max_length=500)
        if not reason.strip():
            raise SettingsError(f"{reader.key('reason')} must say why the finding is accepted")
        reader.finish()
        entries.append(AllowedFinding(finding_id, expires, reason))
    return tuple(entries)


def _check_schedule_aligned(reader: "_Reader", schedule: ScheduleArgs | None, lead: int) -> None:
    """Schedule-aligned concurrency needs known run times, spaced further apart than the lead time."""
    mode_key = reader.key("provisioned_concurrency_mode")
    if schedule is None:
        raise SettingsError(f"{mode_key} is schedule_aligned but the function has no schedule")
    expression = cron.parse(schedule.expression)
    if not isinstance(expression, cron.CronExpression):
        raise SettingsError(
            f"{mode_key} is schedule_aligned, which needs a cron(...) schedule with fixed times, "
            f"got {schedule.expression!r}; use provisioned_concurrency_mode fixed"
        )
    runs = expression.minutes_of_day()
    gaps = [later - earlier for earlier, later in zip(runs, runs[1:])] + [runs[0] + 1440 - runs[-1]]
    if lead >= min(gaps):
        raise SettingsError(
            f"{reader.key('provisioned_concurrency_lead_minutes')} ({lead}) must be shorter than the "
            f"{min(gaps)} minutes between the function's runs; use provisioned_concurrency_mode fixed"
        )


def _schedule(reader: "_Reader", event: Mapping[str, Any]) -> ScheduleArgs | None:
    body = reader.optional_object("schedule")
    if body is None:
        return None
    sub = _Reader(reader.key("schedule"), body)
    expression = sub.string("expression")
    try:
        cron.parse(expression)
    except cron.ScheduleExpressionError as error:
        raise SettingsError(
            f"{sub.key('expression')} must be a valid EventBridge cron(...) or rate(...) expression, "
            f"got {expression!r}: {error}"
        ) from None
    timezone = sub.string("timezone", ScheduleArgs.timezone)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{sub.key('timezone')} must be an IANA time zone such as UTC or America/Chicago, got {timezone!r}"
        ) from None
    settings = ScheduleArgs(
        expression=expression.strip(),
        timezone=timezone,
        payload=event,
        retry_attempts=sub.ranged(SCHEDULE_RETRY_ATTEMPTS),
        max_event_age_seconds=sub.ranged(SCHEDULE_MAX_EVENT_AGE_SECONDS),
    )
    sub.finish()
    return settings


def _environment(reader: "_Reader") -> dict[str, str]:
    variables = reader.string_map("environment")
    for key in variables:
        if not _ENV_VAR.match(key):
            raise SettingsError(f"{reader.key('environment')} key {key!r} is not a valid environment variable name")
        if RESERVED_ENVIRONMENT.match(key):
            raise SettingsError(f"{reader.key('environment')} key {key!r} is reserved by Lambda")
    return variables


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


class _Reader:
    """Takes typed fields out of one config object; whatever is left at `finish()` is a typo."""

    def __init__(self, path: str, data: Any, unknown_hint: str | None = None):
        data = _decode(path or "config", data, dict)
        self._path = path
        self._data = dict(data)
        self._known: list[str] = []
        self._unknown_hint = unknown_hint

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _take(self, name: str, default: Any) -> Any:
        self._known.append(name)
        if name in self._data and self._data[name] is not None:
            return self._data.pop(name)
        self._data.pop(name, None)
        if default is _REQUIRED:
            raise SettingsError(f"{self.key(name)} is required")
        return default

    def string(
        self,
        name: str,
        default: Any = _REQUIRED,
        *,
        choices: tuple[str, ...] | list[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        pattern_text: str = "",
        max_length: int | None = None,
    ) -> str:
        value = self._take(name, default)
        if not isinstance(value, str):
            raise SettingsError(f"{self.key(name)} must be a string, got {_show(value)}")
        if choices is not None and value not in choices:
            raise SettingsError(f"{self.key(name)} must be one of {', '.join(choices)}, got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise SettingsError(f"{self.key(name)} must be {pattern_text}, got {value!r}")
        if max_length is not None and len(value) > max_length:
            raise SettingsError(f"{self.key(name)} must be at most {max_length} characters, got {len(value)}")
        return value

    def integer(
        self,
        name: str,
        default: Any = _REQUIRED,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        maximum_text: str | None = None,
        allowed: tuple[int, ...] | None = None,
    ) -> int:
        value = _decode(self.key(name), self._take(name, default), int)
        if allowed is not None and value not in allowed:
            raise SettingsError(
                f"{self.key(name)} must be one of {', '.join(map(str, allowed))}, got {value}"
            )
        too_low = minimum is not None and value < minimum
        too_high = maximum is not None and value > maximum
        if too_low or too_high:
            if minimum is not None and maximum is not None:
                raise SettingsError(
                    f"{self.key(name)} must be between {minimum} and {maximum_text or maximum}, got {value}"
                )
            if minimum is not None:
                raise SettingsError(f"{self.key(name)} must be at least {minimum}, got {value}")
            raise SettingsError(f"{self.key(name)} must be at most {maximum_text or maximum}, got {value}")
        return value

    def ranged(self, limit: Range, *, key: str | None = None) -> int:
        """A whole number within one of components/limits.py's ranges, defaulting to its default; `key`
        when the config key differs from the range's name (e.g. `ecr_` prefixed)."""
        return self.integer(key or limit.name, int(limit.default), minimum=int(limit.minimum), maximum=int(limit.maximum))

    def optional_integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        if self._data.get(name) is None:
            self._take(name, None)
            return None
        return self.integer(name, minimum=minimum, maximum=maximum)

    def knob(self, knob: Knob, *, whole: bool) -> float:
        """A workload knob, range-checked by the Knob itself (one definition of each range)."""
        raw = self._take(knob.name, knob.default)
        value = _decode(self.key(knob.name), raw, int) if whole else _number(self.key(knob.name), raw)
        try:
            return knob.check(value, where=self.key(knob.name))
        except ValueError as error:
            raise SettingsError(str(error)) from None

    def boolean(self, name: str, default: Any = _REQUIRED) -> bool:
        return _decode(self.key(name), self._take(name, default), bool)

    def string_list(self, name: str, default: list[str], *, pattern: re.Pattern[str], pattern_text: str) -> list[str]:
        values = _decode(self.key(name), self._take(name, default), list)
        for value in values:
            if not isinstance(value, str) or not pattern.match(value):
                raise SettingsError(f"{self.key(name)} entries must each be {pattern_text}, got {_show(value)}")
        return list(values)

    def string_map(self, name: str) -> dict[str, str]:
        values = _decode(self.key(name), self._take(name, {}), dict)
        for key, value in values.items():
            if not isinstance(value, str):
                raise SettingsError(f"{self.key(name)}.{key} must be a string, got {_show(value)}")
        return dict(values)

    def object(self, name: str) -> dict[str, Any]:
        return dict(_decode(self.key(name), self._take(name, {}), dict))

    def optional_object(self, name: str) -> dict[str, Any] | None:
        value = self._take(name, None)
        return None if value is None else _decode(self.key(name), value, dict)

    def object_map(self, name: str) -> dict[str, Any]:
        values = _decode(self.key(name), self._take(name, _REQUIRED), dict)
        return {key: ({} if body is None else body) for key, body in values.items()}

    def object_list(self, name: str) -> list[Any]:
        return list(_decode(self.key(name), self._take(name, []), list))

    def finish(self) -> None:
        """Refuse keys nobody asked for: a typo must not pass silently."""
        for name in self._data:
            what = self._unknown_hint.format(key=name) if self._unknown_hint else f"key {name!r} in {self._path}"
            parts = [f"unknown {what}"]
            suggestion = difflib.get_close_matches(name, self._known, n=1)
            if suggestion:
                parts.append(f"did you mean {suggestion[0]!r}?")
            parts.append(f"known keys: {', '.join(sorted(self._known))}")
            raise SettingsError("; ".join(parts))


def _number(key: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{key} must be a number, got {_show(value)}")
    return float(value)


def _decode(key: str, value: Any, kind: type) -> Any:
    """Accept a value as YAML gives it or as Pulumi passes it (a string, JSON for objects)."""
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool and text in ("true", "false"):
                value = text == "true"
            elif kind is int and re.fullmatch(r"-?\d+", text):
                value = int(text)
            elif kind in (dict, list):
                value = json.loads(text)
        except json.JSONDecodeError:
            pass
    names = {int: "a whole number", bool: "true or false", dict: "an object", list: "a list"}
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SettingsError(f"{key} must be {names[int]}, got {_show(value)}")
    if kind is not int and not isinstance(value, kind):
        raise SettingsError(f"{key} must be {names[kind]}, got {_show(value)}")
    return value
