"""The one schema for price rows, shared by data producers, the trainer and the predictor.

Prices are stored as CSV, one file per commodity and calendar year:
``prices/<commodity>/<YYYY>.csv`` with the header ``date,commodity,close``; ``date`` is an ISO
trading date, ``close`` the settlement price in US dollars per bushel. Weekends and exchange holidays
have no row.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date

from common.errors import InsufficientData, InvalidPrices, PricesGap, StaleData
from common.trading_calendar import trading_days
CSV_HEADER = ("date", "commodity", "close")


@dataclass(frozen=True)
class PriceRow:
    """One daily settlement price."""

    date: date
    commodity: str
    close: float


def parse_csv(text: str, *, source: str) -> list[PriceRow]:
    """Parse one price file; every malformed line is refused with its file and line number."""
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    if header != CSV_HEADER:
        raise InvalidPrices(f"{source}: header must be {','.join(CSV_HEADER)}, got {','.join(header) or 'nothing'}")
    rows = []
    for line_number, fields in enumerate(reader, start=2):
        if not fields:
            continue
        if len(fields) != len(CSV_HEADER):
            raise InvalidPrices(f"{source}:{line_number}: expected {len(CSV_HEADER)} fields, got {len(fields)}")
        raw_date, commodity, raw_close = fields
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise InvalidPrices(f"{source}:{line_number}: date {raw_date!r} is not YYYY-MM-DD") from None
        try:
            close = float(raw_close)
        except ValueError:
            raise InvalidPrices(f"{source}:{line_number}: close {raw_close!r} is not a number") from None
        rows.append(PriceRow(day, commodity, close))
    return rows


def to_csv(rows: list[PriceRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow((row.date.isoformat(), row.commodity, f"{row.close:.4f}"))
    return buffer.getvalue()


def validate_history(
    rows: list[PriceRow], *, commodity: str, as_of: date, max_age_days: int | None, min_rows: int
) -> None:
    """Refuse history a forecast must not be built on: wrong commodity, NaN or non-positive prices,
    duplicate or unordered dates, too few rows, or a newest row older than `max_age_days`."""
    for row in rows:
        if row.commodity != commodity:
            raise InvalidPrices(f"{commodity}: row for {row.date} belongs to {row.commodity!r}")
        if math.isnan(row.close) or math.isinf(row.close):
            raise InvalidPrices(f"{commodity}: close on {row.date} is {row.close}, not a finite number")
        if row.close <= 0:
            raise InvalidPrices(f"{commodity}: close on {row.date} is {row.close}, prices must be positive")
    for earlier, later in zip(rows, rows[1:]):
        if later.date <= earlier.date:
            raise InvalidPrices(
                f"{commodity}: dates must strictly increase, got {earlier.date} then {later.date}"
            )
    if len(rows) < min_rows:
        raise InsufficientData(f"{commodity}: {len(rows)} price rows up to {as_of}, need at least {min_rows}")
    if max_age_days is not None:
        age = (as_of - rows[-1].date).days
        if age > max_age_days:
            raise StaleData(
                f"{commodity}: newest price is from {rows[-1].date}, {age} days before {as_of}; "
                f"the limit is {max_age_days} days"
            )


MAX_MISSING_TRADING_DAYS = 3
"""Consecutive trading days a look-back window may miss (an unscheduled closure); more is a hole."""


def check_window(rows: list[PriceRow], *, commodity: str) -> None:
    """The rows a forecast's features are computed from: no hole of more than MAX_MISSING_TRADING_DAYS
    trading days (`PricesGap`), and not one price repeated throughout (a stuck feed: `InvalidPrices`)."""
    for earlier, later in zip(rows, rows[1:]):
        missing = len(trading_days(earlier.date, later.date)) - 2
        if missing > MAX_MISSING_TRADING_DAYS:
            raise PricesGap(
                f"{commodity}: {missing} trading days missing between {earlier.date} and {later.date}, inside the "
                f"features' look-back window (at most {MAX_MISSING_TRADING_DAYS})"
            )
    if len(rows) > 1 and len({row.close for row in rows}) == 1:
        raise InvalidPrices(f"{commodity}: the close is {rows[0].close} on all {len(rows)} days from {rows[0].date} to {rows[-1].date}: a stuck feed")
