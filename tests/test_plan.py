"""The plan step (stack_config/plan.py): staggering and collision refusal, moved from the Schedule
component's tests with the same cases and expectations; and every expression both stacks' plans hand to
the components is the staggered one."""

from __future__ import annotations

import pytest

from components.schedule import ScheduleArgs
from stack_config import FunctionSettings, StaggerError, settings_from_config, stack_config, staggered_expressions
from tests.conftest import ROOT


def fn(name, expression, timezone="UTC"):
    return FunctionSettings(name=name, image="predictor", architecture="arm64", schedule=ScheduleArgs(expression, timezone=timezone))


def test_functions_sharing_a_base_time_are_staggered_in_declared_order():
    functions = [fn("corn", "cron(0 2 * * ? *)"), fn("wheat", "cron(0 2 * * ? *)"), fn("soybeans", "cron(0 2 * * ? *)"), fn("trainer", "cron(0 1 ? * SUN *)")]
    assert staggered_expressions(functions, 15) == {
        "corn": "cron(0 2 * * ? *)",
        "wheat": "cron(15 2 * * ? *)",
        "soybeans": "cron(30 2 * * ? *)",
        "trainer": "cron(0 1 ? * SUN *)",
    }
    assert staggered_expressions(functions, 20)["soybeans"] == "cron(40 2 * * ? *)"


def test_stagger_carries_into_the_next_hour():
    functions = [fn(f"f{i}", "cron(50 3 * * ? *)") for i in range(3)]
    assert staggered_expressions(functions, 15)["f2"] == "cron(20 4 * * ? *)"


def test_unscheduled_functions_are_left_out():
    assert staggered_expressions([FunctionSettings(name="adhoc", image="predictor", architecture="arm64")], 15) == {}


def test_same_time_in_different_time_zones_is_not_staggered():
    functions = [fn("corn", "cron(0 2 * * ? *)", "UTC"), fn("wheat", "cron(0 2 * * ? *)", "America/Chicago")]
    assert staggered_expressions(functions, 15) == {"corn": "cron(0 2 * * ? *)", "wheat": "cron(0 2 * * ? *)"}


def test_a_staggered_schedule_landing_on_another_is_refused():
    functions = [fn("corn", "cron(0 2 * * ? *)"), fn("wheat", "cron(0 2 * * ? *)"), fn("soybeans", "cron(15 2 * * ? *)")]
    with pytest.raises(StaggerError, match=r"functions wheat and soybeans would both run at 02:15 UTC; change one schedule or stagger_minutes"):
        staggered_expressions(functions, 15)


def test_shared_schedules_that_fire_many_times_a_day_are_refused():
    functions = [fn("corn", "cron(0/30 * * * ? *)"), fn("wheat", "cron(0/30 * * * ? *)")]
    with pytest.raises(StaggerError, match="share the schedule cron\\(0/30 \\* \\* \\* \\? \\*\\), which fires more than once a day"):
        staggered_expressions(functions, 15)


def test_staggering_past_midnight_is_refused():
    functions = [fn("a", "cron(50 23 * * ? *)"), fn("b", "cron(50 23 * * ? *)")]
    with pytest.raises(StaggerError, match="staggering function b: .* crosses midnight"):
        staggered_expressions(functions, 15)


def _declared(stack: str) -> dict[str, str]:
    """What the stack file declares (before staggering), read from the file itself."""
    import json

    config = stack_config(ROOT, stack)
    defaults = json.loads(config.get("commodity-forecasts:function_defaults", "{}"))
    declared = {}
    for body in json.loads(config["commodity-forecasts:functions"]):
        schedule = {**defaults, **body}.get("schedule")
        if schedule:
            declared[body["name"]] = schedule["expression"]
    return declared


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_expression_the_components_receive_is_the_staggered_one(request, stack):
    settings = settings_from_config(stack_config(ROOT, stack), stack=stack)
    declared = [
        FunctionSettings(name=f.name, image=f.image, architecture=f.architecture, schedule=ScheduleArgs(_declared(stack)[f.name], timezone=f.schedule.timezone))
        for f in settings.functions if f.schedule is not None
    ]
    staggered = staggered_expressions(declared, settings.stagger_minutes)
    assert len(set(_declared(stack).values())) < len(staggered), "the stack shares a base time, so something is staggered"
    for function in settings.functions:
        if function.schedule is None:
            assert function.args.schedule_expression is None
            continue
        assert function.schedule.expression == staggered[function.name], f"{stack}/{function.name}: ScheduleArgs"
        assert function.args.schedule_expression == staggered[function.name], f"{stack}/{function.name}: ContainerFunctionArgs"
    graph = request.getfixturevalue(f"{stack}_graph")
    deployed = {r.parent.split("::")[-1].removesuffix("-schedule"): r.inputs["scheduleExpression"] for r in graph.of_type("aws:scheduler/schedule:Schedule")}
    assert deployed == staggered, "the program deploys the plan's expressions, and only those"
