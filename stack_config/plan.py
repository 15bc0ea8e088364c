"""The plan step: every function's effective schedule, resolved once.

Functions whose schedules share a base time (same expression and time zone) run `stagger_minutes`
apart in declared order — corn 02:00, wheat 02:15, soybeans 02:30 — so they do not contend for
concurrency or for the same upstream data at the same second. Afterwards no two schedules may fire at
the same minute on the same days; such a clash is refused. What `resolve` returns is what the program
deploys, what the cost estimate prices and what the tests read: there is no second copy to drift.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from components import cron
from stack_config.model import FunctionSettings
from stack_config.reader import SettingsError


class StaggerError(SettingsError):
    """Schedules that cannot be staggered or that would fire at the same minute."""


def staggered_expressions(functions: Sequence[FunctionSettings], stagger_minutes: int) -> dict[str, str]:
    """Effective schedule expression per scheduled function (declared expressions in, staggered out)."""
    groups: dict[tuple[str, str], list[FunctionSettings]] = {}
    for function in functions:
        if function.schedule is not None:
            key = (" ".join(function.schedule.expression.split()), function.schedule.timezone)
            groups.setdefault(key, []).append(function)
    effective: dict[str, str] = {}
    for (expression, _), members in groups.items():
        if len(members) == 1:
            effective[members[0].name] = expression
            continue
        parsed = cron.parse(expression)
        names = ", ".join(m.name for m in members)
        if not isinstance(parsed, cron.CronExpression) or parsed.fixed_time is None:
            raise StaggerError(
                f"functions {names} share the schedule {expression}, which fires more than once a day and cannot be "
                "staggered; give each function its own schedule"
            )
        for position, member in enumerate(members):
            try:
                effective[member.name] = str(parsed.shifted(position * stagger_minutes))
            except cron.ScheduleExpressionError as error:
                raise StaggerError(f"staggering function {member.name}: {error}") from None
    _refuse_collisions(functions, effective)
    return effective


def _refuse_collisions(functions: Sequence[FunctionSettings], effective: dict[str, str]) -> None:
    seen: dict[tuple, str] = {}
    for function in functions:
        if function.name not in effective:
            continue
        parsed = cron.parse(effective[function.name])
        if isinstance(parsed, cron.RateExpression):
            continue
        for minute in parsed.minutes_of_day():
            key = (function.schedule.timezone, parsed.days_key, minute)
            if key in seen:
                hours, minutes = divmod(minute, 60)
                raise StaggerError(
                    f"functions {seen[key]} and {function.name} would both run at {hours:02d}:{minutes:02d} "
                    f"{function.schedule.timezone}; change one schedule or stagger_minutes"
                )
            seen[key] = function.name


def resolve(functions: Sequence[FunctionSettings], stagger_minutes: int) -> tuple[FunctionSettings, ...]:
    """The functions with their effective schedules written into both their Args: the function's (from
    which schedule-aligned concurrency and the missed-run alarm are derived) and the schedule's."""
    effective = staggered_expressions(functions, stagger_minutes)
    resolved = []
    for function in functions:
        if function.schedule is None:
            resolved.append(function)
            continue
        expression = effective[function.name]
        schedule = replace(
            function.schedule, expression=expression,
            description=f"{function.args.function_name} at {expression} {function.schedule.timezone}",
        )
        resolved.append(replace(function, schedule=schedule, args=replace(function.args, schedule_expression=expression)))
    return tuple(resolved)
