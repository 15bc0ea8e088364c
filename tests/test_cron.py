"""EventBridge Scheduler expressions: what parses, what is refused, how shifting works."""

import pytest

from components import cron


@pytest.mark.parametrize("expression", [
    "cron(0 2 * * ? *)",
    "cron(0 1 ? * SUN *)",
    "cron(15,45 8-17 ? * MON-FRI *)",
    "cron(0/15 * * * ? *)",
    "cron(0 12 L * ? *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 0 1 JAN ? 2027)",
    "rate(1 day)",
    "rate(30 minutes)",
])
def test_accepts_valid_expressions(expression):
    assert str(cron.parse(expression)) == expression


@pytest.mark.parametrize("expression", [
    "cron(0 2 * * *)",
    "cron(0 24 * * ? *)",
    "cron(0 2 32 * ? *)",
    "cron(0 2 * 13 ? *)",
    "cron(0 2 ? * 8 *)",
    "cron(? 2 * * ? *)",
    "cron(0/0 2 * * ? *)",
    "rate(0 minutes)",
    "at(2026-11-23T02:00:00)",
])
def test_refuses_invalid_expressions(expression):
    with pytest.raises(cron.ScheduleExpressionError):
        cron.parse(expression)


def test_shift_moves_minutes_and_carries_hours():
    base = cron.parse("cron(50 1 * * ? *)")
    assert str(base.shifted(15)) == "cron(5 2 * * ? *)"
    assert base.shifted(15).fixed_time == (2, 5)


def test_shift_refuses_crossing_midnight():
    with pytest.raises(cron.ScheduleExpressionError, match="crosses midnight"):
        cron.parse("cron(50 23 * * ? *)").shifted(15)


def test_shift_refuses_expressions_without_a_single_time():
    with pytest.raises(cron.ScheduleExpressionError, match="no single time of day"):
        cron.parse("cron(0/15 * * * ? *)").shifted(15)


def test_rate_minutes():
    assert cron.parse("rate(2 hours)").minutes == 120
    assert cron.parse("rate(1 day)").minutes == 1440


@pytest.mark.parametrize("expression, per_month", [
    ("cron(0 2 * * ? *)", 730 / 24),                      # daily: the 730-hour month's days
    ("cron(0 1 ? * SUN *)", 730 / 24 / 7),                # weekly
    ("cron(0/15 * ? * MON-FRI *)", 730 / 24 * 5 / 7 * 96),  # every 15 minutes on weekdays
    ("cron(0 2 1 * ? *)", 1),                             # the first of every month
    ("cron(0 2 1,15 JAN-JUN ? *)", 2 * 6 / 12),           # twice a month, half the year
    ("cron(0 2 ? * MON#1 *)", 1),                         # the first Monday
    ("rate(1 hour)", 730),
    ("rate(30 minutes)", 1460),
])
def test_runs_per_month_counts_what_the_cost_estimate_prices(expression, per_month):
    assert cron.runs_per_month(expression) == pytest.approx(per_month)
