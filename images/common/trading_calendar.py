"""The exchange calendar: which days CBOT grain futures settle. One module, used by the workloads (a
forecast's target date skips holidays) and by the demo's price generator (no rows on holidays).

US exchange holidays: New Year, Martin Luther King Jr., Presidents, Good Friday, Memorial, Juneteenth
(from 2022), Independence, Labor, Thanksgiving and Christmas, a weekend holiday observed on the
nearest weekday. Special closures (a national day of mourning) are not known in advance; a price file
simply has no row for them.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


@lru_cache(maxsize=64)
def us_exchange_holidays(year: int) -> frozenset[date]:
    """The year's holidays (see the module docstring)."""

    def nth_weekday(month: int, weekday: int, n: int) -> date:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    def last_weekday(month: int, weekday: int) -> date:
        last = date(year, month + 1, 1) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - weekday) % 7)

    def observed(day: date) -> date:
        return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))

    holidays = {
        observed(date(year, 1, 1)),
        nth_weekday(1, 0, 3),
        nth_weekday(2, 0, 3),
        _easter(year) - timedelta(days=2),
        last_weekday(5, 0),
        observed(date(year, 7, 4)),
        nth_weekday(9, 0, 1),
        nth_weekday(11, 3, 4),
        observed(date(year, 12, 25)),
    }
    if year >= 2022:
        holidays.add(observed(date(year, 6, 19)))
    return frozenset(holidays)


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in us_exchange_holidays(day.year)


def trading_days(start: date, end: date) -> list[date]:
    """Every trading day from `start` to `end`, inclusive."""
    days, day = [], start
    while day <= end:
        if is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def add_trading_days(day: date, count: int) -> date:
    """The `count`-th trading day after `day` (count >= 1); `day` itself need not be a trading day."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    while count:
        day += timedelta(days=1)
        count -= is_trading_day(day)
    return day





def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m + 114) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)
