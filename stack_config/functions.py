"""The `images`, `function_defaults` and `functions` sections: each function's ContainerFunctionArgs and
ScheduleArgs straight from config (each default is the Args' own), with the declared schedule; the plan
(stack_config/plan.py) then makes it the effective one."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from common.contract import ACCESS, COMMODITIES, PRICE_FEED, PRICE_FEED_HANDLER
from components import cron
from components.errors import ComponentError
from components.function import ContainerFunctionArgs, check_environment, check_schedule_aligned
from components.limits import (
    ARCHITECTURES,
    EPHEMERAL_STORAGE_MB,
    LOG_FORMATS,
    MAX_EVENT_AGE_SECONDS,
    MAX_FUNCTION_NAME,
    MAX_RETRY_ATTEMPTS,
    MEMORY_MB,
    PROVISIONED_CONCURRENCY,
    PROVISIONED_CONCURRENCY_LEAD_MINUTES,
    PROVISIONED_CONCURRENCY_MODES,
    RESERVED_CONCURRENCY,
    SCHEDULE_MAX_EVENT_AGE_SECONDS,
    SCHEDULE_RETRY_ATTEMPTS,
    TIMEOUT_SECONDS,
)
from components.schedule import ScheduleArgs
from stack_config.model import FunctionSettings, ImageSettings
from stack_config.reader import Doc, Reader, SettingsError, doc_of, show, unknown_key_message
from stack_config.tool_settings import expected_duration

ADDING_A_COMMODITY = (
    " (the list is COMMODITIES in images/common/contract.py, part of the images: README, \"Adding a commodity\")"
)
"""What a refusal of an unknown commodity adds: where the list lives and how to extend it."""

NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")
NAME_TEXT = "lowercase letters, digits and hyphens"
FUNCTION_DEFAULTS = "function_defaults"
NOT_INHERITABLE = ("name",)
"""Keys `function_defaults` may not set: every function must name itself."""


@dataclass(frozen=True)
class StackDefaults:
    """What a function inherits from the stack."""

    architecture: str
    name_prefix: str
    log_retention_days: int
    protect: bool


def images(top: Reader) -> tuple[ImageSettings, ...]:
    raw = top.object_map("images", doc=Doc(
        "The images to build, each a folder under `images/` with a `Dockerfile` and an access profile in "
        "`images/common/contract.py`.", allowed="`{<name>: {build_args: {KEY: value}}}`",
    ))
    if not raw:
        raise SettingsError("images must list at least one image, e.g. {predictor: {}}")
    found = []
    for name, body in raw.items():
        if not NAME.match(name):
            raise SettingsError(f"images: name must be lowercase letters, digits and hyphens, got {name!r}")
        reader = Reader(f"images[{name}]", body)
        found.append(ImageSettings(name=name, build_args=MappingProxyType(reader.string_map("build_args", doc=doc_of(ImageSettings, "build_args")))))
        reader.finish()
    return tuple(found)


def functions(top: Reader, image_settings: tuple[ImageSettings, ...], defaults: StackDefaults) -> tuple[FunctionSettings, ...]:
    """Every function in declared order. `function_defaults` is merged under each one key by key and
    shallowly: a function's own key (a whole `schedule`, `event` or `environment`) replaces the default's."""
    inherited = _function_defaults(top)
    raw = top.object_list("functions", doc=Doc("The functions, in order (staggering follows it).", allowed="see below"))
    image_names = [image.name for image in image_settings]
    seen: dict[str, int] = {}
    found = []
    for index, body in enumerate(raw):
        label = body.get("name") if isinstance(body, dict) and isinstance(body.get("name"), str) else index
        merged, origins = _merge(inherited, body)
        reader = Reader(f"functions[{label}]", merged, inherited=origins)
        name = reader.string("name", pattern=NAME, pattern_text=NAME_TEXT, doc=Doc(
            "Unique; the function is `commodity-forecasts-<environment>-<name>`, at most 64 characters.",
        ))
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
        found.append(function)
        _finish(reader, origins, inherited)
    return tuple(found)


PRICE_FEED_MEMORY_MB = 512
PRICE_FEED_TIMEOUT_SECONDS = 300
"""A day's closes merge in well under a second; a history file of years, in minutes (tools.prices' rates)."""


def price_feed_function(image_settings: tuple[ImageSettings, ...], declared: tuple[FunctionSettings, ...], defaults: StackDefaults) -> FunctionSettings:
    """The price feed's function: the predictor's image with the feed's handler, triggered by the data
    bucket (the program wires the notification), gated by its own dry run."""
    if "predictor" not in [image.name for image in image_settings]:
        raise SettingsError("price_feed runs the predictor image (predictor/ingest.py): add images.predictor, or set price_feed: false")
    if any(f.name == PRICE_FEED for f in declared):
        raise SettingsError(f"functions[{PRICE_FEED}]: the name is the price feed's (set price_feed: false to declare your own)")
    physical = f"{defaults.name_prefix}-{PRICE_FEED}"
    return FunctionSettings(
        name=PRICE_FEED, image="predictor", architecture=defaults.architecture, access=PRICE_FEED,
        args=ContainerFunctionArgs(
            function_name=physical, description=f"{PRICE_FEED}: merges the price files dropped under incoming/",
            memory_mb=PRICE_FEED_MEMORY_MB, timeout_seconds=PRICE_FEED_TIMEOUT_SECONDS,
            log_retention_days=defaults.log_retention_days, protect_logs=defaults.protect, retain_dead_letters=defaults.protect,
            image_command=(PRICE_FEED_HANDLER,), pre_traffic_event={"dry_run": True},
        ),
        expected_duration_seconds=2,
    )


def _function_defaults(top: Reader) -> dict[str, Any]:
    inherited = top.object(FUNCTION_DEFAULTS, doc=Doc(
        "Keys every function inherits unless it sets its own (any key of a function but `name`); merged key by key "
        "and shallowly, and an inherited key cannot be unset.", allowed="a function's keys",
    ))
    for key in NOT_INHERITABLE:
        if key in inherited:
            raise SettingsError(f"{FUNCTION_DEFAULTS}.{key} cannot be inherited: each function names itself")
    return inherited


def _merge(inherited: Mapping[str, Any], body: Any) -> tuple[Any, dict[str, str]]:
    """A function's own keys over the defaults (a null of its own does not unset an inherited key), and
    which keys came from the defaults."""
    if not isinstance(body, dict) or not inherited:
        return body, {}
    own = {key: value for key, value in body.items() if value is not None}
    origins = {key: FUNCTION_DEFAULTS for key in inherited if key not in own}
    return {**inherited, **own}, origins


def _finish(reader: Reader, origins: dict[str, str], inherited: Mapping[str, Any]) -> None:
    """Unknown keys, named where they were written: in the function, or in `function_defaults`."""
    for key in reader.leftover():
        if key in origins:
            raise SettingsError(unknown_key_message(key, reader.known(), f"key {key!r} in {FUNCTION_DEFAULTS}"))
    reader.finish()


def _function(reader: Reader, name: str, physical: str, image_names: list[str], defaults: StackDefaults) -> FunctionSettings:
    image = reader.string("image", choices=image_names, doc=Doc("Which image the function runs.", allowed="a key of `images`"))
    event = MappingProxyType(reader.object("event", doc=doc_of(FunctionSettings, "event")))
    schedule = _schedule(reader, event, defaults.protect)
    args = _function_args(reader, name, physical, image, schedule, defaults)
    pre_traffic_check = reader.boolean("pre_traffic_check", FunctionSettings.pre_traffic_check, doc=doc_of(FunctionSettings, "pre_traffic_check"))
    function = FunctionSettings(
        name=name,
        image=image,
        architecture=reader.string("architecture", defaults.architecture, choices=ARCHITECTURES, doc=Doc(
            "The function's instruction set; one image build per architecture in use.", default="the project's `architecture`",
        )),
        args=args,
        schedule=schedule,
        event=event,
        environment=MappingProxyType(_environment(reader)),
        pre_traffic_check=pre_traffic_check,
        expected_duration_seconds=expected_duration(reader, args.timeout_seconds),
    )
    # The pre-traffic gate invokes each new version with the scheduled event plus `dry_run`.
    return replace(function, args=replace(args, pre_traffic_event=function.dry_run_event if pre_traffic_check else None))


def _function_args(
    reader: Reader, name: str, physical: str, image: str, schedule: ScheduleArgs | None, defaults: StackDefaults
) -> ContainerFunctionArgs:
    """The component's Args straight from config; each default is the Args' own."""
    reserved = reader.optional_integer(
        RESERVED_CONCURRENCY.name, minimum=int(RESERVED_CONCURRENCY.minimum), maximum=int(RESERVED_CONCURRENCY.maximum),
        doc=Doc(RESERVED_CONCURRENCY.description, default="unreserved"),
    )
    if reserved is None:
        provisioned = reader.ranged(PROVISIONED_CONCURRENCY, doc=Doc(PROVISIONED_CONCURRENCY.description, allowed="0 – `reserved_concurrency` (when set)"))
    else:
        provisioned = reader.integer(
            PROVISIONED_CONCURRENCY.name, PROVISIONED_CONCURRENCY.default, minimum=int(PROVISIONED_CONCURRENCY.minimum), maximum=reserved,
            maximum_text=f"reserved_concurrency ({reserved})",
        )
    mode = reader.string(
        "provisioned_concurrency_mode", ContainerFunctionArgs.provisioned_concurrency_mode, choices=PROVISIONED_CONCURRENCY_MODES,
        doc=doc_of(ContainerFunctionArgs, "provisioned_concurrency_mode"),
    )
    lead = reader.ranged(PROVISIONED_CONCURRENCY_LEAD_MINUTES)
    if mode == "schedule_aligned" and provisioned > 0:
        if schedule is None:
            raise SettingsError(f"{reader.key('provisioned_concurrency_mode')} is schedule_aligned but the function has no schedule")
        _as_settings_error(check_schedule_aligned, schedule.expression, lead, where=f"{reader.path}.")
    return ContainerFunctionArgs(
        function_name=physical,
        description=reader.string("description", f"{name}: runs the {image} image", max_length=256, doc=Doc(
            "The function's description.", default="`<name>: runs the <image> image`",
        )),
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
        protect_logs=defaults.protect,
        retain_dead_letters=defaults.protect,
        max_retry_attempts=reader.ranged(MAX_RETRY_ATTEMPTS),
        max_event_age_seconds=reader.ranged(MAX_EVENT_AGE_SECONDS),
        function_url=reader.boolean("function_url", ContainerFunctionArgs.function_url, doc=doc_of(ContainerFunctionArgs, "function_url")),
        log_format=reader.string("log_format", ContainerFunctionArgs.log_format, choices=LOG_FORMATS, doc=doc_of(ContainerFunctionArgs, "log_format")),
        pinned_version=reader.optional_integer("live_version", minimum=1, maximum=10**9, doc=doc_of(
            ContainerFunctionArgs, "pinned_version", default="follow deployments",
        )),
    )


def _as_settings_error(check: Any, *args: Any, **kwargs: Any) -> None:
    """A component's own rule, its refusal reported as a settings error (same message)."""
    try:
        check(*args, **kwargs)
    except ComponentError as error:
        raise SettingsError(str(error)) from None


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
                f"functions[{function.name}].event.commodity must be one of {', '.join(COMMODITIES)}, got {show(commodity)}"
                f"{ADDING_A_COMMODITY if isinstance(commodity, str) else ''}"
            )


def _schedule(reader: Reader, event: Mapping[str, Any], protect: bool) -> ScheduleArgs | None:
    body = reader.optional_object("schedule", doc=Doc("When the function runs; none: on demand only.", default="no schedule"))
    if body is None:
        return None
    sub = Reader(reader.key("schedule"), body)
    expression = sub.string("expression", doc=Doc(
        "The declared schedule; functions sharing one run `stagger_minutes` apart.",
        allowed="EventBridge Scheduler `cron(min hour dom month dow year)` or `rate(n unit)`",
    ))
    try:
        cron.parse(expression)
    except cron.ScheduleExpressionError as error:
        raise SettingsError(
            f"{sub.key('expression')} must be a valid EventBridge cron(...) or rate(...) expression, "
            f"got {expression!r}: {error}"
        ) from None
    timezone = sub.string("timezone", ScheduleArgs.timezone, doc=Doc("The time zone the expression is read in.", allowed="an IANA time zone"))
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
        retain_dead_letters=protect,
    )
    sub.finish()
    return settings


def _environment(reader: Reader) -> dict[str, str]:
    variables = reader.string_map("environment", doc=Doc(
        "Extra environment variables (the workload contract's are added by the program).", allowed="not `AWS_*`, `LAMBDA_*` or other reserved names",
    ))
    _as_settings_error(check_environment, variables, where=f"{reader.key('environment')} key")
    return variables
