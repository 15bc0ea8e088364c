"""Deterministic, realistic daily price history for corn, wheat and soybeans.

Each series is log-price = level + trend + seasonal cycle (lowest around harvest) + a mean-reverting
daily component + rare supply shocks that decay over weeks. Weekends and US exchange holidays have no
row (the workloads' own calendar, common.trading_calendar.py). The random draws are taken one trading day at a time from a fixed start with a per-commodity
seed, so the history up to any date is the same whatever end date is asked for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import numpy as np

from common.trading_calendar import trading_days
from common.schema import PriceRow

START = date(2019, 1, 2)
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Market:
    level: float
    """Typical price, US dollars per bushel."""
    trend_per_year: float
    seasonal_amplitude: float
    harvest_low_day: int
    """Day of year when the seasonal cycle bottoms out (harvest pressure)."""
    daily_volatility: float
    reversion_half_life_days: float
    shocks_per_year: float
    shock_size: float
    shock_half_life_days: float


MARKETS = {
    "corn": Market(4.60, 0.015, 0.07, 285, 0.013, 3.0, 1.0, 0.08, 45),
    "wheat": Market(6.20, 0.010, 0.06, 200, 0.015, 3.0, 1.0, 0.09, 35),
    "soybeans": Market(12.40, 0.012, 0.05, 275, 0.011, 3.5, 1.0, 0.07, 50),
}


def generate(commodity: str, end: date, start: date = START, *, seed: int | None = None) -> list[PriceRow]:
    """Daily closes for `commodity` on every trading day from `start` to `end` inclusive. `seed` draws
    another history of the same market (the skill tests' many seeds); by default each commodity has its own."""
    market = MARKETS[commodity]
    if seed is None:
        seed = int.from_bytes(hashlib.sha256(commodity.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    reversion = 0.5 ** (1 / market.reversion_half_life_days)
    shock_decay = 0.5 ** (1 / market.shock_half_life_days)
    deviation = shock = 0.0
    rows = []
    for day in trading_days(start, end):
        noise, shock_draw, shock_sign_draw, shock_size_draw = rng.random(4)
        deviation = reversion * deviation + market.daily_volatility * _normal(noise)
        shock *= shock_decay
        if shock_draw < market.shocks_per_year / 252:
            shock += (1 if shock_sign_draw < 0.6 else -1) * market.shock_size * (0.5 + shock_size_draw)
        years = (day - START).days / 365.25
        season = market.seasonal_amplitude * np.cos(2 * np.pi * (day.timetuple().tm_yday - market.harvest_low_day - 182.6) / 365.25)
        log_price = np.log(market.level) + market.trend_per_year * years + season + deviation + shock
        rows.append(PriceRow(day, commodity, round(float(np.exp(log_price)), 4)))
    return rows


def _normal(uniform: float) -> float:
    """Standard normal quantile of a uniform draw."""
    return _STANDARD_NORMAL.inv_cdf(min(max(uniform, 1e-12), 1 - 1e-12))
