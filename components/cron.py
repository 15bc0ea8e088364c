"""EventBridge Scheduler schedule expressions: parse, validate and shift by minutes.

EventBridge cron has six fields — minutes hours day-of-month month day-of-week year — and one of
day-of-month / day-of-week must be `?`. It is not Unix cron (five fields, no `?`), the most common
mistake, so the errors say which field is wrong and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_DAYS = "SUN MON TUE WED THU FRI SAT".split()
_FIELD_NAMES = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
_RANGES = {
    "minutes": (0, 59),
    "hours": (0, 23),
    "day-of-month": (1, 31),
    "month": (1, 12),
    "day-of-week": (1, 7),
    "year": (1970, 2199),
}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


class ScheduleExpressionError(ValueError):
    """A schedule expression is not valid for EventBridge Scheduler."""


@dataclass(frozen=True)
class CronExpression:
    """A parsed `cron(...)` expression; fields are kept as written."""

    minutes: str
    hours: str
    day_of_month: str
    month: str
    day_of_week: str
    year: str

    def __str__(self) -> str:
        return (
            f"cron({self.minutes} {self.hours} {self.day_of_month} "
            f"{self.month} {self.day_of_week} {self.year})"
        )

    @property
    def fixed_time(self) -> tuple[int, int] | None:
        """(hour, minute) when the expression fires at one time of day, else None."""
        if self.minutes.isdigit() and self.hours.isdigit():
            return int(self.hours), int(self.minutes)
        return None

    @property
    def fires_every_day(self) -> bool:
        return self.day_of_month in ("*", "?") and self.month == "*" and self.day_of_week in ("*", "?") and self.year == "*"

    def minutes_of_day(self) -> list[int]:
        """Every minute of the day (0-1439) at which the expression fires, on the days it fires."""
        hours = _expand("hours", self.hours)
        minutes = _expand("minutes", self.minutes)
        return sorted(h * 60 + m for h in hours for m in minutes)

    def at_minute_of_day(self, minute_of_day: int) -> "CronExpression":
        """The same days, firing once at `minute_of_day`. A time before midnight or after it is
        only representable for schedules that fire every day; others are refused."""
        if not 0 <= minute_of_day < 24 * 60:
            if not self.fires_every_day:
                raise ScheduleExpressionError(
                    f"{self}: a time {abs(minute_of_day) if minute_of_day < 0 else minute_of_day - 1440} minutes "
                    f"{'before' if minute_of_day < 0 else 'after'} midnight falls on another day, "
                    "which only daily schedules can express"
                )
            minute_of_day %= 24 * 60
        hours, minutes = divmod(minute_of_day, 60)
        return CronExpression(str(minutes), str(hours), self.day_of_month, self.month, self.day_of_week, self.year)

    @property
    def days_key(self) -> tuple[str, str, str, str]:
        """The day-selecting fields; two expressions with equal keys fire on the same days."""
        return (self.day_of_month, self.month, self.day_of_week, self.year)

    def shifted(self, minutes: int) -> "CronExpression":
        """The same schedule `minutes` later; refuses shifts that would cross midnight."""
        time = self.fixed_time
        if time is None:
            raise ScheduleExpressionError(
                f"{self} has no single time of day to shift (minutes and hours must be plain numbers)"
            )
        total = time[0] * 60 + time[1] + minutes
        if not 0 <= total < 24 * 60:
            raise ScheduleExpressionError(
                f"shifting {self} by {minutes} minutes crosses midnight, which would move it to another day"
            )
        return CronExpression(
            str(total % 60), str(total // 60), self.day_of_month, self.month, self.day_of_week, self.year
        )


@dataclass(frozen=True)
class RateExpression:
    """A parsed `rate(value unit)` expression."""

    value: int
    unit: str

    def __str__(self) -> str:
        return f"rate({self.value} {self.unit})"

    @property
    def minutes(self) -> int:
        per = {"minute": 1, "hour": 60, "day": 1440}[self.unit.rstrip("s")]
        return self.value * per


def parse(expression: str) -> CronExpression | RateExpression:
    """Parse an EventBridge Scheduler `cron(...)` or `rate(...)` expression or raise with the reason."""
    if not isinstance(expression, str):
        raise ScheduleExpressionError(f"expected a string, got {type(expression).__name__}")
    text = expression.strip()
    if text.startswith("rate("):
        return _parse_rate(text)
    match = _CRON.match(text)
    if not match:
        raise ScheduleExpressionError("must start with cron( or rate( and end with )")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ScheduleExpressionError(
            f"cron needs 6 fields ({' '.join(_FIELD_NAMES)}), got {len(fields)}"
        )
    for name, value in zip(_FIELD_NAMES, fields):
        _check_field(name, value)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleExpressionError(
            "exactly one of day-of-month and day-of-week must be '?' "
            f"(got day-of-month {day_of_month!r}, day-of-week {day_of_week!r})"
        )
    return CronExpression(*fields)


def _parse_rate(text: str) -> RateExpression:
    match = _RATE.match(text)
    if not match:
        raise ScheduleExpressionError("rate must look like rate(5 minutes), rate(1 hour) or rate(2 days)")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1:
        raise ScheduleExpressionError("rate value must be a positive whole number")
    if (value == 1) != (not unit.endswith("s")):
        raise ScheduleExpressionError(
            f"rate unit must be singular for 1 and plural otherwise, got {value} {unit}"
        )
    return RateExpression(value, unit)


def _check_field(name: str, value: str) -> None:
    if value == "*":
        return
    if value == "?":
        if name in ("day-of-month", "day-of-week"):
            return
        raise ScheduleExpressionError(f"'?' is only allowed in day-of-month or day-of-week, not {name}")
    for part in value.split(","):
        _check_part(name, part)


def _check_part(name: str, part: str) -> None:
    low, high = _RANGES[name]
    base, _, step = part.partition("/")
    if step and not (step.isdigit() and int(step) >= 1):
        raise ScheduleExpressionError(f"{name} step {step!r} must be a positive number")
    if name == "day-of-month" and (base in ("L", "LW") or re.fullmatch(r"\d{1,2}W", base)):
        return
    if name == "day-of-week" and re.fullmatch(r"([1-7]|[A-Z]{3})(#[1-5]|L)?", base) and not step:
        if base[:3].isalpha() and base[:3] not in _DAYS:
            raise ScheduleExpressionError(f"day-of-week {base[:3]!r} is not one of {', '.join(_DAYS)}")
        if "#" in base or base.endswith("L"):
            return
    bounds = base.split("-") if base != "*" else [str(low), str(high)]
    if len(bounds) > 2:
        raise ScheduleExpressionError(f"{name} value {part!r} is not a number, range or list")
    numbers = [_number(name, bound) for bound in bounds]
    for number in numbers:
        if not low <= number <= high:
            raise ScheduleExpressionError(f"{name} value {number} is outside {low}-{high}")


def days_of_week(value: str) -> list[int]:
    """Weekdays (0 = Sunday) a day-of-week field selects; `#` and `L` forms are monthly, not weekly."""
    if value in ("*", "?"):
        return list(range(7))
    days: set[int] = set()
    for part in value.split(","):
        if "#" in part or part.endswith("L"):
            raise ScheduleExpressionError(f"day-of-week {part!r} selects days of a month, not of every week")
        base, _, step = part.partition("/")
        bounds = [_number("day-of-week", token) for token in base.split("-")]
        start, end = bounds[0], bounds[-1] if len(bounds) > 1 else (7 if step else bounds[0])
        days.update(day - 1 for day in range(start, end + 1, int(step) if step else 1))
    return sorted(days)


def _expand(name: str, value: str) -> list[int]:
    """Expand a minutes or hours field (numbers, lists, ranges, steps, *) into its values."""
    low, high = _RANGES[name]
    values: set[int] = set()
    for part in value.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-"))
        else:
            start = int(base)
            end = high if step else start
        values.update(range(start, end + 1, int(step) if step else 1))
    return sorted(values)


def _number(name: str, token: str) -> int:
    if token.isdigit():
        return int(token)
    if name == "month" and token in _MONTHS:
        return _MONTHS.index(token) + 1
    if name == "day-of-week" and token in _DAYS:
        return _DAYS.index(token) + 1
    raise ScheduleExpressionError(f"{name} value {token!r} is not valid")


WEEK_MINUTES = 7 * 24 * 60


def daily_gaps_minutes(expression: CronExpression) -> list[int]:
    """Minutes between consecutive runs of one day that it fires, the last to the next day's first
    included (a once-a-day schedule: 1440)."""
    runs = expression.minutes_of_day()
    return [later - earlier for earlier, later in zip(runs, runs[1:])] + [runs[0] + 1440 - runs[-1]]


def longest_gap_minutes(expression: str) -> int | None:
    """The longest time between two consecutive runs, or None when it cannot be known in a week
    (schedules on particular days of the month or year)."""
    parsed = parse(expression)
    if isinstance(parsed, RateExpression):
        return parsed.minutes
    if parsed.month != "*" or parsed.year != "*" or parsed.day_of_month not in ("*", "?"):
        return None
    try:
        days = days_of_week(parsed.day_of_week)
    except ScheduleExpressionError:
        return None
    runs = sorted(day * 1440 + minute for day in days for minute in parsed.minutes_of_day())
    if not runs:
        return None
    gaps = [later - earlier for earlier, later in zip(runs, runs[1:])] + [runs[0] + WEEK_MINUTES - runs[-1]]
    return max(gaps)


HOURS_PER_MONTH = 730
"""AWS's monthly convention (its pricing calculator's): 8,760 hours a year over 12 months."""
DAYS_PER_MONTH = HOURS_PER_MONTH / 24


def runs_per_month(expression: str) -> float:
    """How often `expression` fires in an average month: runs per day on the days it fires, times those
    days. The year field is taken as every year; day-of-month lists, `L` and `W` count once per month."""
    parsed = parse(expression)
    if isinstance(parsed, RateExpression):
        return DAYS_PER_MONTH * 24 * 60 / parsed.minutes
    months = 12 if parsed.month == "*" else len(_months(parsed.month))
    if parsed.day_of_month not in ("*", "?"):
        days = len(parsed.day_of_month.split(",")) * months / 12
    elif parsed.day_of_week not in ("*", "?") and ("#" in parsed.day_of_week or parsed.day_of_week.endswith("L")):
        days = len(parsed.day_of_week.split(",")) * months / 12
    else:
        days = DAYS_PER_MONTH * len(days_of_week(parsed.day_of_week)) / 7 * months / 12
    return days * len(parsed.minutes_of_day())


def _months(value: str) -> list[int]:
    months: set[int] = set()
    for part in value.split(","):
        base, _, step = part.partition("/")
        bounds = [_number("month", token) for token in base.split("-")] if base != "*" else [1, 12]
        start, end = bounds[0], bounds[-1] if len(bounds) > 1 else (12 if step else bounds[0])
        months.update(range(start, end + 1, int(step) if step else 1))
    return sorted(months)
