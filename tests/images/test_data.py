"""Price history: the generator is deterministic and realistic; the schema refuses bad rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from common.errors import InsufficientData, InvalidPrices, StaleData
from common.schema import PriceRow, parse_csv, to_csv, validate_history
from common.trading_calendar import trading_days, us_exchange_holidays
from demo.prices import MARKETS, generate

END = date(2026, 11, 20)


@pytest.mark.parametrize("commodity", sorted(MARKETS))
def test_history_is_deterministic_prefix_stable_and_long_enough(commodity):
    rows = generate(commodity, END)
    assert rows == generate(commodity, END), "same end date must give the same history"
    shorter = generate(commodity, date(2025, 3, 14))
    assert rows[: len(shorter)] == shorter, "history up to a date must not depend on the end date asked for"
    assert (rows[-1].date - rows[0].date).days >= 5 * 365
    assert all(row.commodity == commodity for row in rows)


def test_weekends_and_exchange_holidays_are_missing():
    days = {row.date for row in generate("corn", END)}
    assert not any(day.weekday() >= 5 for day in days)
    assert date(2025, 12, 25) not in days and date(2025, 11, 27) not in days, "Christmas and Thanksgiving"
    assert date(2024, 3, 29) not in days, "Good Friday 2024"
    assert date(2023, 6, 19) not in days and date(2021, 6, 18) in days, "Juneteenth observed from 2022 only"
    assert date(2022, 12, 26) in us_exchange_holidays(2022), "Christmas on a Sunday is observed on Monday"


@pytest.mark.parametrize("commodity, low, high", [("corn", 2.5, 9), ("wheat", 3.5, 12), ("soybeans", 7, 22)])
def test_prices_stay_in_a_realistic_range_and_dip_around_harvest(commodity, low, high):
    rows = generate(commodity, END)
    closes = np.array([row.close for row in rows])
    assert low < closes.min() and closes.max() < high
    daily = np.diff(np.log(closes))
    assert 0.005 < daily.std() < 0.04, "daily volatility of a grain future"
    harvest = MARKETS[commodity].harvest_low_day
    by_distance = {True: [], False: []}
    for row in rows:
        distance = min(abs(row.date.timetuple().tm_yday - harvest), 365 - abs(row.date.timetuple().tm_yday - harvest))
        by_distance[distance < 45].append(np.log(row.close) - 0.015 * (row.date - rows[0].date).days / 365.25)
    assert np.mean(by_distance[True]) < np.mean(by_distance[False]), "prices should be lowest around harvest"


def test_csv_round_trip():
    rows = generate("wheat", date(2019, 2, 28))
    assert parse_csv(to_csv(rows), source="wheat.csv") == rows


@pytest.mark.parametrize("text, message", [
    ("day,commodity,close\n", "wheat.csv: header must be date,commodity,close, got day,commodity,close"),
    ("date,commodity,close\n2024-01-02,wheat\n", "wheat.csv:2: expected 3 fields, got 2"),
    ("date,commodity,close\n01/02/2024,wheat,6.1\n", "wheat.csv:2: date '01/02/2024' is not YYYY-MM-DD"),
    ("date,commodity,close\n2024-01-02,wheat,six\n", "wheat.csv:2: close 'six' is not a number"),
])
def test_malformed_files_are_refused_with_file_and_line(text, message):
    with pytest.raises(InvalidPrices) as raised:
        parse_csv(text, source="wheat.csv")
    assert str(raised.value) == message


def _rows(*closes, start=date(2024, 1, 1)):
    return [PriceRow(day, "corn", close) for day, close in zip(trading_days(start, date(2024, 12, 31)), closes)]


@pytest.mark.parametrize("rows, error, message", [
    (_rows(4.1, float("nan"), 4.2), InvalidPrices, "corn: close on 2024-01-03 is nan, not a finite number"),
    (_rows(4.1, 0.0), InvalidPrices, "corn: close on 2024-01-03 is 0.0, prices must be positive"),
    (_rows(4.1, 4.2)[::-1], InvalidPrices, "corn: dates must strictly increase, got 2024-01-03 then 2024-01-02"),
    ([PriceRow(date(2024, 1, 2), "wheat", 6.0)], InvalidPrices, "corn: row for 2024-01-02 belongs to 'wheat'"),
    (_rows(4.1, 4.2), InsufficientData, "corn: 2 price rows up to 2024-01-10, need at least 3"),
    (_rows(4.1, 4.2, 4.3), StaleData, "corn: newest price is from 2024-01-04, 6 days before 2024-01-10; the limit is 4 days"),
])
def test_history_validation(rows, error, message):
    with pytest.raises(error) as raised:
        validate_history(rows, commodity="corn", as_of=date(2024, 1, 10), max_age_days=4, min_rows=3)
    assert str(raised.value) == message
