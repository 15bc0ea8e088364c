"""The names and settings a workload receives from its stack, as environment variables (named in
common/contract.py). Nothing is typed by hand: the stack injects bucket, table and prefixes from resource
outputs and the knobs from its validated settings; each is checked again here."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from common.contract import (
    FORECAST_HORIZON_DAYS,
    LEGACY_PREFIX,
    MAX_PRICE_AGE_DAYS,
    MIN_IMPROVEMENT,
    SIGNIFICANCE_LEVEL,
    MODELS_PREFIX,
    PREDICTIONS_PREFIX,
    PRICES_PREFIX,
    Env,
    Knob,
    MetricNames,
)
from common.errors import MissingConfiguration

LEGACY_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""A file name (without `.json`) the mobile app reads."""


@dataclass(frozen=True)
class WorkloadEnvironment:
    data_bucket: str
    """Prices, models and full predictions."""
    predictions_table: str
    """One item per (commodity, effective date)."""
    legacy_bucket: str | None = None
    """The mobile app's bucket; only `legacy_prefix` is writable. None: the stack has no legacy feed, and the
    predictor writes no app document and no dry-run marker."""
    legacy_prefix: str = LEGACY_PREFIX
    prices_prefix: str = PRICES_PREFIX
    models_prefix: str = MODELS_PREFIX
    predictions_prefix: str = PREDICTIONS_PREFIX
    max_price_age_days: int = int(MAX_PRICE_AGE_DAYS.default)
    min_improvement: float = MIN_IMPROVEMENT.default
    significance_level: float = SIGNIFICANCE_LEVEL.default
    forecast_horizon_days: int = int(FORECAST_HORIZON_DAYS.default)
    legacy_file_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Commodity → the file name (without `.json`) the mobile app reads; a commodity not listed uses its own name."""

    def legacy_key(self, commodity: str) -> str:
        """`<legacy_prefix><name>.json`, the object the mobile app reads for `commodity`."""
        return f"{self.legacy_prefix}{self.legacy_file_names.get(commodity, commodity)}.json"

    def variables(self, *, service: str | None = None) -> dict[str, str]:
        """The environment variables `from_env` reads: what the stack gives each function (with `service`,
        Powertools' service name and the metrics namespace too), and what the demo and tests launch with."""
        powertools = {Env.SERVICE: service, Env.METRICS_NAMESPACE: MetricNames.NAMESPACE} if service else {}
        legacy = {Env.LEGACY_BUCKET: self.legacy_bucket, Env.LEGACY_PREFIX: self.legacy_prefix} if self.legacy_bucket else {}
        return powertools | legacy | {
            Env.DATA_BUCKET: self.data_bucket,
            Env.PREDICTIONS_TABLE: self.predictions_table,
            Env.PRICES_PREFIX: self.prices_prefix,
            Env.MODELS_PREFIX: self.models_prefix,
            Env.PREDICTIONS_PREFIX: self.predictions_prefix,
            Env.MAX_PRICE_AGE_DAYS: str(self.max_price_age_days),
            Env.MIN_IMPROVEMENT: str(self.min_improvement),
            Env.SIGNIFICANCE_LEVEL: str(self.significance_level),
            Env.FORECAST_HORIZON_DAYS: str(self.forecast_horizon_days),
            Env.LEGACY_FILE_NAMES: json.dumps(dict(self.legacy_file_names), sort_keys=True),
        }

    @classmethod
    def from_env(cls) -> "WorkloadEnvironment":
        legacy_bucket = os.environ.get(Env.LEGACY_BUCKET) or None
        return cls(
            data_bucket=_required(Env.DATA_BUCKET),
            predictions_table=_required(Env.PREDICTIONS_TABLE),
            legacy_bucket=legacy_bucket,
            legacy_prefix=_prefix(Env.LEGACY_PREFIX) if legacy_bucket else LEGACY_PREFIX,
            prices_prefix=_prefix(Env.PRICES_PREFIX),
            models_prefix=_prefix(Env.MODELS_PREFIX),
            predictions_prefix=_prefix(Env.PREDICTIONS_PREFIX),
            max_price_age_days=int(_knob(Env.MAX_PRICE_AGE_DAYS, MAX_PRICE_AGE_DAYS, whole=True)),
            min_improvement=_knob(Env.MIN_IMPROVEMENT, MIN_IMPROVEMENT, whole=False),
            significance_level=_knob(Env.SIGNIFICANCE_LEVEL, SIGNIFICANCE_LEVEL, whole=False),
            forecast_horizon_days=int(_knob(Env.FORECAST_HORIZON_DAYS, FORECAST_HORIZON_DAYS, whole=True)),
            legacy_file_names=MappingProxyType(_file_names(os.environ.get(Env.LEGACY_FILE_NAMES, "{}"))),
        )


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise MissingConfiguration(f"environment variable {name} is not set; the stack sets it")
    return value


def _prefix(name: str) -> str:
    value = _required(name)
    if not value.endswith("/") or value.startswith("/"):
        raise MissingConfiguration(f"environment variable {name} must end with '/' and not start with one, got {value!r}")
    return value


def _knob(name: str, knob: Knob, *, whole: bool) -> float:
    """A range-checked number; absent means the knob's default."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return knob.default
    try:
        value = int(raw) if whole else float(raw)
        return knob.check(value, where=f"environment variable {name}")
    except ValueError as error:
        kind = "a whole number" if whole else "a number"
        detail = str(error) if "between" in str(error) else f"must be {kind}, got {raw[:40]!r}"
        raise MissingConfiguration(detail if detail.startswith("environment") else f"environment variable {name} {detail}") from None


def _file_names(raw: str) -> dict[str, str]:
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, dict) or not all(isinstance(v, str) and LEGACY_FILE_NAME.match(v) for v in names.values()):
        raise MissingConfiguration(
            f"{Env.LEGACY_FILE_NAMES} must be a JSON object of commodity to file name (letters, digits, '-', '_'), got {raw[:80]!r}"
        )
    return names
