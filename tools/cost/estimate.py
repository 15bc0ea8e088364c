"""Every line item of one stack, priced from its planned settings (the effective schedules the program
deploys) and from the resources its program really declares (run under mocks)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components import cron
from components.function import provisioned_windows
from stack_config import FunctionSettings, Settings
from tools.cli import ROOT, CannotDecide, stack_settings
from tools.cost.prices import PriceTable

GB_PER_MB = 1 / 1024
GB_PER_KB = 1 / (1024 * 1024)
BILLING_STEP_MINUTES = 5
"""Provisioned concurrency is billed from enable to disable, rounded up to five minutes (Lambda pricing page)."""
FREE_EPHEMERAL_MB = 512
"""Ephemeral storage up to 512 MB is included in the duration price."""
PREDICTION_ITEM_KB = 1
"""A prediction item in DynamoDB is under 1 KB: one write request unit per write."""


@dataclass(frozen=True)
class RunRequests:
    """Storage requests one run makes, by price class."""

    s3_get: int
    """S3 tier 2: GET, HEAD."""
    s3_put: int
    """S3 tier 1: PUT, COPY, POST, LIST."""
    dynamodb_write: int = 0
    dynamodb_read: int = 0


REQUESTS_PER_RUN = {
    # A scheduled run in a cold container, measured on the emulator (tests/images/test_request_profiles.py):
    # pointer, metadata, model and prices read; the dated full JSON and the app's document written; one
    # conditional item write.
    "predictor": RunRequests(s3_get=4, s3_put=2, dynamodb_write=1),
    # A weekly run over the three commodities, measured the same way on the demo's history (8 yearly price
    # files each; every further year adds one GET per commodity): listings, price files, what serves;
    # model, metadata, backtest and pointer written.
    "trainer": RunRequests(s3_get=27, s3_put=18),
}
"""An image not listed (another program's) makes no storage requests in the estimate; the table says so."""


@dataclass(frozen=True)
class LineItem:
    service: str
    item: str
    quantity: float
    unit: str
    price_key: str
    unit_price: float

    @property
    def usd(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class ConcurrencyOption:
    """Provisioned concurrency of one function in the mode it has and in the other one."""

    function: str
    mode: str
    usd: float
    other_mode: str
    other_usd: float | None
    """None when the other mode is not possible (e.g. schedule-aligned without a cron schedule)."""


@dataclass
class Estimate:
    stack: str
    region: str
    as_of: str
    items: list[LineItem] = field(default_factory=list)
    concurrency: list[ConcurrencyOption] = field(default_factory=list)
    unverified: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    schedules: dict[str, str] = field(default_factory=dict)
    """Function → the expression its runs were priced at: the plan's, which the program deploys."""

    @property
    def total(self) -> float:
        return sum(item.usd for item in self.items)

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for item in self.items:
            totals[item.service] = totals.get(item.service, 0.0) + item.usd
        return totals

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack, "region": self.region, "prices_as_of": self.as_of, "currency": "USD",
            "total_usd": round(self.total, 2),
            "services": {service: round(usd, 2) for service, usd in self.by_service().items()},
            "items": [
                {"service": i.service, "item": i.item, "quantity": i.quantity, "unit": i.unit,
                 "price": i.price_key, "unit_price": i.unit_price, "usd": round(i.usd, 4)}
                for i in self.items
            ],
            "provisioned_concurrency": [
                {"function": c.function, "mode": c.mode, "usd": round(c.usd, 2), "other_mode": c.other_mode,
                 "other_usd": None if c.other_usd is None else round(c.other_usd, 2)}
                for c in self.concurrency
            ],
            "unverified_prices": sorted(self.unverified),
            "notes": self.notes,
        }


class _Pricer:
    """Adds line items at one region's prices, remembering which unconfirmed prices were used."""

    def __init__(self, table: PriceTable, estimate: Estimate):
        self.prices = table.region(estimate.region)
        self.unconfirmed = table.unverified[estimate.region]
        self.estimate = estimate

    def add(self, service: str, item: str, quantity: float, unit: str, price_key: str) -> None:
        self.estimate.items.append(LineItem(service, item, quantity, unit, price_key, self.prices[price_key]))
        if price_key in self.unconfirmed:
            self.estimate.unverified.add(price_key)

    def price(self, key: str) -> float:
        if key in self.unconfirmed:
            self.estimate.unverified.add(key)
        return self.prices[key]


def estimate(settings: Settings, graph: Any, table: PriceTable, measured: dict[str, dict[str, float]] | None = None) -> Estimate:
    """Every line item of one stack. `graph` is the program's resource graph under mocks; `measured`,
    image sizes from `make images` (none: the settings and size budgets)."""
    result = Estimate(settings.stack, settings.region, table.as_of)
    pricer = _Pricer(table, result)
    result.schedules = {spec.name: spec.schedule.expression for spec in settings.all_functions if spec.schedule is not None}
    for spec in settings.all_functions:
        _function_items(pricer, settings, spec)
    _scheduler_items(pricer, result.schedules)
    _storage_items(pricer, settings, result.schedules)
    _registry_items(pricer, settings, measured or {})
    _inspector_items(pricer, settings)
    _monitoring_items(pricer, graph)
    _queue_and_key_items(pricer, graph)
    return result


def runs_per_month(expression: str | None) -> float:
    """Scheduled runs a month (0 without a schedule: on-demand use is not estimated)."""
    return cron.runs_per_month(expression) if expression else 0.0


def _function_items(pricer: _Pricer, settings: Settings, spec: FunctionSettings) -> None:
    args = spec.args
    expression = args.schedule_expression
    name, arch, memory_gb = spec.name, spec.architecture, args.memory_mb * GB_PER_MB
    runs = runs_per_month(expression)
    if expression is None:
        pricer.estimate.notes.append(f"{name}: no schedule; on-demand invocations are not estimated")
    pricer.add("Lambda", f"{name} requests", runs, "requests", "lambda_request")
    warm = args.provisioned_concurrency > 0
    duration_key = f"lambda_provisioned_duration_gb_second_{arch}" if warm else f"lambda_gb_second_{arch}"
    pricer.add("Lambda", f"{name} duration ({arch}, {args.memory_mb} MB × {spec.expected_duration_seconds} s"
               f"{', on provisioned concurrency' if warm else ''})",
               runs * spec.expected_duration_seconds * memory_gb, "GB-s", duration_key)
    extra_gb = max(0, args.ephemeral_storage_mb - FREE_EPHEMERAL_MB) * GB_PER_MB
    if extra_gb:
        pricer.add("Lambda", f"{name} ephemeral storage above {FREE_EPHEMERAL_MB} MB",
                   runs * spec.expected_duration_seconds * extra_gb, "GB-s", "lambda_ephemeral_gb_second")
    if warm:
        _provisioned_items(pricer, name, args, arch, memory_gb)
    retention = args.log_retention_days
    ingested_gb = runs * settings.cost.log_kb_per_run * GB_PER_KB
    pricer.add("CloudWatch Logs", f"{name} ingestion ({settings.cost.log_kb_per_run} KB a run)", ingested_gb, "GB", "logs_ingestion_gb")
    pricer.add("CloudWatch Logs", f"{name} storage ({retention} days kept)",
               ingested_gb * retention / cron.DAYS_PER_MONTH, "GB-month", "logs_storage_gb_month")
    pricer.add("X-Ray", f"{name} traces (tracing Active: one a run)", runs, "traces", "xray_trace")


def provisioned_seconds(args, mode: str) -> float:
    """Seconds a month one unit of provisioned concurrency is billed in `mode`: always, or over the
    windows the program creates (components.function.provisioned_windows), each rounded up to five minutes."""
    if mode == "fixed":
        return cron.HOURS_PER_MONTH * 3600.0
    windows = provisioned_windows(args.schedule_expression, args.timeout_seconds, args.provisioned_concurrency_lead_minutes)
    parsed = cron.parse(args.schedule_expression)
    days = cron.runs_per_month(args.schedule_expression) / len(parsed.minutes_of_day())
    seconds = 0.0
    for warm, cool in windows:
        start, end = (cron.parse(expression).minutes_of_day()[0] for expression in (warm, cool))
        minutes = (end - start) % (24 * 60)
        seconds += math.ceil(minutes / BILLING_STEP_MINUTES) * BILLING_STEP_MINUTES * 60 * days
    return seconds


def _provisioned_items(pricer: _Pricer, name: str, args, arch: str, memory_gb: float) -> None:
    mode = args.provisioned_concurrency_mode
    rate = pricer.price(f"lambda_provisioned_gb_second_{arch}")
    per_unit_gb = args.provisioned_concurrency * memory_gb
    seconds = provisioned_seconds(args, mode)
    what = "always on" if mode == "fixed" else f"schedule-aligned: {len(cron.parse(args.schedule_expression).minutes_of_day())} window(s) a day"
    pricer.add("Lambda", f"{name} provisioned concurrency ×{args.provisioned_concurrency} ({what})",
               seconds * per_unit_gb, "GB-s", f"lambda_provisioned_gb_second_{arch}")
    other = "schedule_aligned" if mode == "fixed" else "fixed"
    other_usd = None
    if other == "fixed" or _alignable(args):
        other_usd = provisioned_seconds(args, other) * per_unit_gb * rate
    pricer.estimate.concurrency.append(ConcurrencyOption(name, mode, seconds * per_unit_gb * rate, other, other_usd))


def _alignable(args) -> bool:
    try:
        provisioned_windows(args.schedule_expression or "", args.timeout_seconds, args.provisioned_concurrency_lead_minutes)
    except (ValueError, cron.ScheduleExpressionError):
        return False
    return bool(args.schedule_expression)


def _scheduler_items(pricer: _Pricer, schedules: dict[str, str]) -> None:
    invocations = sum(runs_per_month(expression) for expression in schedules.values())
    pricer.add("EventBridge Scheduler", f"invocations ({len(schedules)} schedules)", invocations, "invocations", "scheduler_invocation")


def _storage_items(pricer: _Pricer, settings: Settings, schedules: dict[str, str]) -> None:
    totals = RunRequests(0, 0)
    for spec in settings.functions:
        runs = runs_per_month(schedules.get(spec.name))
        per_run = REQUESTS_PER_RUN.get(spec.image)
        if per_run is None:
            pricer.estimate.notes.append(f"{spec.name}: image {spec.image!r} has no request profile; its S3 and DynamoDB requests are not estimated")
            continue
        totals = RunRequests(
            totals.s3_get + round(per_run.s3_get * runs), totals.s3_put + round(per_run.s3_put * runs),
            totals.dynamodb_write + round(per_run.dynamodb_write * runs), totals.dynamodb_read + round(per_run.dynamodb_read * runs),
        )
    pricer.add("S3", f"data bucket storage ({settings.cost.data_gb} GB)", settings.cost.data_gb, "GB-month", "s3_storage_gb_month")
    pricer.add("S3", "GET requests", totals.s3_get, "requests", "s3_get_request")
    pricer.add("S3", "PUT requests", totals.s3_put, "requests", "s3_put_request")
    pricer.add("DynamoDB", "on-demand writes", totals.dynamodb_write, "write request units", "dynamodb_write_request_unit")
    pricer.add("DynamoDB", "on-demand reads", totals.dynamodb_read, "read request units", "dynamodb_read_request_unit")
    stored_gb = totals.dynamodb_write * 12 * PREDICTION_ITEM_KB * GB_PER_KB
    pricer.add("DynamoDB", "storage (a year of predictions)", stored_gb, "GB-month", "dynamodb_storage_gb_month")


def measured_sizes(path: Path | None = None) -> dict[str, dict[str, float]]:
    """What `make images` last measured (tools/images.py writes it), or nothing."""
    from tools.images import SIZES

    path = path or SIZES
    return json.loads(path.read_text()) if path.exists() else {}


def image_size_mb(image: str, architecture: str, settings: Settings, measured: dict[str, dict[str, float]], root: Path = ROOT) -> tuple[float, str]:
    """MB stored per build and where the figure comes from: the setting, else `make images`' measurement,
    else the Dockerfile's size budget (an upper bound of what the project adds to the base image)."""
    if image in settings.cost.image_mb:
        return settings.cost.image_mb[image], "cost_image_mb"
    if architecture in measured.get(image, {}):
        return float(measured[image][architecture]), "measured by make images"
    dockerfile = root / "images" / image / "Dockerfile"
    match = re.search(r'org\.commodity-forecasts\.size-budget-mb="(\d+)"', dockerfile.read_text()) if dockerfile.is_file() else None
    if match is None:
        raise CannotDecide(f"image {image!r}: set cost_image_mb.{image} (its Dockerfile at {dockerfile} has no size-budget label)")
    return int(match.group(1)), "the Dockerfile's size budget"


def _registry_items(pricer: _Pricer, settings: Settings, measured: dict[str, dict[str, float]]) -> None:
    kept = settings.ecr.keep_release_images
    for image, architecture in settings.image_builds():
        size, origin = image_size_mb(image, architecture, settings, measured)
        stored = size + (kept - 1) * settings.cost.changed_mb_per_release
        pricer.add("ECR", f"{image} {architecture} ({size:g} MB, {origin}; + {kept - 1} older releases × {settings.cost.changed_mb_per_release} MB)",
                   stored * GB_PER_MB, "GB-month", "ecr_storage_gb_month")


def _inspector_items(pricer: _Pricer, settings: Settings) -> None:
    """Enhanced scanning bills each image Inspector scans: once when pushed, then once per rescan. Every stack's
    repositories are under the account's continuous scanning (whichever stack owns its configuration)."""
    builds = len(settings.image_builds())
    pushed = builds * settings.cost.pushes_per_month
    pricer.add("Inspector", f"image scans on push ({builds} builds × {settings.cost.pushes_per_month} pushes)", pushed, "images",
               "inspector_ecr_initial_scan")
    kept = builds * settings.ecr.keep_release_images
    pricer.add("Inspector", f"continuous rescans ({kept} kept images × {settings.cost.rescans_per_image_month}; at most: images past "
               "Inspector's re-scan duration are not rescanned)", kept * settings.cost.rescans_per_image_month, "rescans",
               "inspector_ecr_rescan")


def _monitoring_items(pricer: _Pricer, graph: Any) -> None:
    alarms = graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    high = [a for a in alarms if int(a.inputs.get("period", 60)) < 60]
    standard = [a for a in alarms if a not in high]
    percentile = sum(1 for a in standard if a.inputs.get("extendedStatistic"))
    pricer.add("CloudWatch", f"standard-resolution alarms ({percentile} on a percentile, same price)", len(standard), "alarms", "cloudwatch_alarm_standard")
    pricer.add("CloudWatch", "high-resolution alarms", len(high), "alarms", "cloudwatch_alarm_high_resolution")
    custom = {
        (a.inputs.get("namespace"), a.inputs.get("metricName"), json.dumps(a.inputs.get("dimensions") or {}, sort_keys=True))
        for a in alarms if not str(a.inputs.get("namespace", "AWS/")).startswith("AWS/")
    }
    pricer.add("CloudWatch", "custom metrics the alarms watch", len(custom), "metrics", "cloudwatch_custom_metric")
    pricer.add("CloudWatch", "dashboards", len(graph.of_type("aws:cloudwatch/dashboard:Dashboard")), "dashboards", "cloudwatch_dashboard")


def _queue_and_key_items(pricer: _Pricer, graph: Any) -> None:
    keys = graph.of_type("aws:kms/key:Key")
    rotating = sum(1 for key in keys if key.inputs.get("enableKeyRotation"))
    # A topic encrypted with a key the program does not declare (an alias: the bootstrap's per-environment
    # alarm key, which rotates yearly) is this stack's key all the same.
    outside = {t.inputs.get("kmsMasterKeyId") for t in graph.of_type("aws:sns/topic:Topic")} - {k.state.get("arn") for k in keys} - {None}
    pricer.add("KMS", f"customer managed keys (the alarm topic's, {len(outside)} made by the bootstrap; {rotating + len(outside)} rotating "
               "yearly, each rotated version adds $1 a month from the second year)", len(keys) + len(outside), "keys", "kms_key_month")
    queues = graph.of_type("aws:sqs/queue:Queue")
    pricer.add("SQS", f"dead-letter queues ({len(queues)}): no requests while runs succeed", 0, "requests", "sqs_request")


def program_graph(stack: str) -> Any:
    from tools.program_graph import run_stack

    return run_stack(stack)


def estimate_stack(stack: str, table: PriceTable | None = None, measured: dict[str, dict[str, float]] | None = None) -> Estimate:
    settings = stack_settings(stack)
    table = table or PriceTable.load()
    table.region(settings.region)  # refuse an unpriced region before running the program
    return estimate(settings, program_graph(stack), table, measured)
