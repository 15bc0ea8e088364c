"""The dated price table (tools/aws_prices.yaml): every price with its source; a region it does not
price is refused, never priced at zero."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components import cron
from tools.cli import CannotDecide

PRICES = Path(__file__).resolve().parent.parent / "aws_prices.yaml"


class PriceTableError(CannotDecide):
    """The price table cannot price this stack."""


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    hours_per_month: int
    regions: dict[str, dict[str, float]]
    unverified: dict[str, frozenset[str]]
    sources: dict[str, Any]

    @classmethod
    def load(cls, path: Path = PRICES) -> "PriceTable":
        data = yaml.safe_load(path.read_text())
        regions, unverified = {}, {}
        for region, prices in data["regions"].items():
            prices = dict(prices)
            unverified[region] = frozenset(prices.pop("unverified", ()))
            for key, value in prices.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise PriceTableError(f"{path.name}: {region}.{key} must be a price of 0 or more, got {value!r}")
            regions[region] = {key: float(value) for key, value in prices.items()}
        every_key = set().union(*regions.values())
        for region, prices in regions.items():
            missing = sorted(every_key - set(prices))
            if missing:
                raise PriceTableError(f"{path.name}: region {region} has no price for {', '.join(missing)}")
        if data["hours_per_month"] != cron.HOURS_PER_MONTH:
            raise PriceTableError(f"{path.name}: hours_per_month {data['hours_per_month']} is not the program's {cron.HOURS_PER_MONTH}")
        return cls(str(data["as_of"]), int(data["hours_per_month"]), regions, unverified, data.get("sources", {}))

    def region(self, region: str) -> dict[str, float]:
        if region not in self.regions:
            raise PriceTableError(
                f"region {region} is not in the price table (tools/aws_prices.yaml prices {', '.join(self.regions)}); "
                "add its prices from the AWS pricing pages named there"
            )
        return self.regions[region]
