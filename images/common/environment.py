"""The names a workload receives from its stack, as environment variables. Nothing is typed by hand:
the stack injects bucket, table and prefixes from resource outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass

from common.errors import MissingConfiguration

DEFAULT_MAX_PRICE_AGE_DAYS = 4
"""A weekend plus a holiday."""


@dataclass(frozen=True)
class WorkloadEnvironment:
    data_bucket: str
    """Prices, models and full predictions."""
    predictions_table: str
    """One item per (commodity, effective date)."""
    legacy_bucket: str
    """The mobile app's bucket; only `legacy_prefix` is writable."""
    legacy_prefix: str
    prices_prefix: str
    models_prefix: str
    predictions_prefix: str
    max_price_age_days: int = DEFAULT_MAX_PRICE_AGE_DAYS
    """Newest price may be at most this many days older than the run date."""
    min_improvement: float = 0.0
    """Fraction by which a new model's MAE must beat the naive forecast's to be promoted."""

    def variables(self) -> dict[str, str]:
        """The environment variables `from_env` reads, for launching a handler elsewhere."""
        return {
            "DATA_BUCKET": self.data_bucket,
            "PREDICTIONS_TABLE": self.predictions_table,
            "LEGACY_BUCKET": self.legacy_bucket,
            "LEGACY_PREFIX": self.legacy_prefix,
            "PRICES_PREFIX": self.prices_prefix,
            "MODELS_PREFIX": self.models_prefix,
            "PREDICTIONS_PREFIX": self.predictions_prefix,
            "MAX_PRICE_AGE_DAYS": str(self.max_price_age_days),
            "MIN_IMPROVEMENT": str(self.min_improvement),
        }

    @classmethod
    def from_env(cls) -> "WorkloadEnvironment":
        def required(name: str) -> str:
            value = os.environ.get(name, "")
            if not value:
                raise MissingConfiguration(f"environment variable {name} is not set; the stack sets it")
            return value

        def prefix(name: str) -> str:
            value = required(name)
            if not value.endswith("/") or value.startswith("/"):
                raise MissingConfiguration(f"environment variable {name} must end with '/' and not start with one, got {value!r}")
            return value

        try:
            max_age = int(os.environ.get("MAX_PRICE_AGE_DAYS", str(DEFAULT_MAX_PRICE_AGE_DAYS)))
            min_improvement = float(os.environ.get("MIN_IMPROVEMENT", "0"))
        except ValueError as error:
            raise MissingConfiguration(f"MAX_PRICE_AGE_DAYS / MIN_IMPROVEMENT must be numbers: {error}") from None
        return cls(
            data_bucket=required("DATA_BUCKET"),
            predictions_table=required("PREDICTIONS_TABLE"),
            legacy_bucket=required("LEGACY_BUCKET"),
            legacy_prefix=prefix("LEGACY_PREFIX"),
            prices_prefix=prefix("PRICES_PREFIX"),
            models_prefix=prefix("MODELS_PREFIX"),
            predictions_prefix=prefix("PREDICTIONS_PREFIX"),
            max_price_age_days=max_age,
            min_improvement=min_improvement,
        )
