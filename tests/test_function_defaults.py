"""function_defaults: every function inherits its keys unless it sets its own, key by key and shallowly;
refusals name where the value was written."""

from __future__ import annotations

import pytest

from stack_config import SettingsError, settings_from_config, stack_config
from tests.conftest import ROOT
from tests.test_settings import P, base_config, refuse


def with_defaults(defaults: dict, *functions: dict) -> dict:
    config = base_config()
    config[f"{P}:function_defaults"] = defaults
    if functions:
        config[f"{P}:functions"] = list(functions)
    return config


def by_name(config: dict):
    return {f.name: f for f in settings_from_config(config, stack="dev").functions}


def test_functions_inherit_what_they_do_not_set():
    functions = by_name(with_defaults(
        {"image": "predictor", "memory_mb": 2048, "schedule": {"expression": "cron(0 3 * * ? *)"}},
        {"name": "corn", "event": {"commodity": "corn"}},
        {"name": "wheat", "memory_mb": 512, "event": {"commodity": "wheat"}},
    ))
    assert (functions["corn"].image, functions["corn"].args.memory_mb) == ("predictor", 2048)
    assert functions["wheat"].args.memory_mb == 512, "a function's own key wins"
    assert functions["corn"].schedule.expression == "cron(0 3 * * ? *)"
    assert functions["wheat"].schedule.expression == "cron(15 3 * * ? *)", "inherited schedules share a base time and are staggered"


def test_the_merge_is_shallow_a_functions_own_object_replaces_the_default_whole():
    functions = by_name(with_defaults(
        {"image": "predictor", "schedule": {"expression": "cron(0 3 * * ? *)", "timezone": "America/Chicago"},
         "environment": {"A": "1", "B": "2"}},
        {"name": "corn", "event": {"commodity": "corn"}, "schedule": {"expression": "cron(0 5 * * ? *)"}, "environment": {"C": "3"}},
    ))
    corn = functions["corn"]
    assert (corn.schedule.expression, corn.schedule.timezone) == ("cron(0 5 * * ? *)", "UTC"), "the default's timezone is not merged in"
    assert dict(corn.environment) == {"C": "3"}


def test_an_inherited_key_cannot_be_unset_by_null():
    functions = by_name(with_defaults(
        {"image": "predictor", "reserved_concurrency": 3},
        {"name": "corn", "reserved_concurrency": None, "event": {"commodity": "corn"}},
    ))
    assert functions["corn"].args.reserved_concurrency == 3


def test_an_unknown_key_in_the_defaults_is_refused_where_it_was_written():
    refuse(with_defaults({"memroy_mb": 1024}), (
        "unknown key 'memroy_mb' in function_defaults; did you mean 'memory_mb'?; known keys: " + _known_keys()
    ))


def test_a_bad_inherited_value_names_function_defaults():
    refuse(with_defaults({"memory_mb": 64}), "function_defaults.memory_mb must be between 128 and 10240, got 64")


def test_a_function_cannot_inherit_a_name():
    refuse(with_defaults({"name": "corn"}), "function_defaults.name cannot be inherited: each function names itself")


def test_function_defaults_must_be_an_object():
    refuse(with_defaults(["memory_mb"]), 'function_defaults must be an object, got ["memory_mb"]')


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stacks_predictors_differ_only_in_name_and_commodity(stack):
    import json

    declared = json.loads(stack_config(ROOT, stack)[f"{P}:functions"])
    predictors = [body for body in declared if body["name"] != "trainer"]
    assert len(predictors) == 3
    for body in predictors:
        assert body == {"name": body["name"], "event": {"commodity": body["name"]}}, f"{stack}: {body['name']} repeats a default"


def _known_keys() -> str:
    """What a function's reader asks for (the message lists them all)."""
    config = base_config()
    corn = config[f"{P}:functions"][0]
    corn["typo"] = 1
    with pytest.raises(SettingsError) as raised:
        settings_from_config(config, stack="dev")
    return str(raised.value).split("known keys: ", 1)[1]
