"""The deploying role's policy (tools/deployer_policy.py) covers every resource type the program
declares in both stacks, names every action, and scopes what has a known name to the stack's names."""

from __future__ import annotations

import json
import re

import pytest

from stack_config import settings_from_config, stack_config
from tests.conftest import ROOT
from tools import deployer_policy


@pytest.fixture(params=["dev", "prod"])
def stack(request):
    return request.param, request.getfixturevalue(f"{request.param}_graph")


def test_every_declared_resource_type_is_covered(stack):
    _, graph = stack
    aws_types = {r.type for r in graph.resources if not r.type.startswith("commodity-forecasts:")}
    missing = aws_types - set(deployer_policy.ACTIONS)
    assert not missing, f"add these resource types to tools/deployer_policy.py ACTIONS: {sorted(missing)}"


def test_every_action_is_named_and_the_stacks_names_scope_it(stack):
    name, graph = stack
    settings = settings_from_config(stack_config(ROOT, name), stack=name)
    document = deployer_policy.policy(settings, {r.type for r in graph.resources})
    for statement in document["Statement"]:
        for action in statement["Action"]:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{action!r}: wildcard or malformed action"
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["ManageFunction"]["Resource"] == [f"arn:aws:lambda:us-east-1:*:function:commodity-forecasts-{name}-*"]
    assert "lambda:InvokeFunction" in by_sid["ManageFunction"]["Action"], "the pre-traffic gate invokes each new version"
    assert by_sid["PassFunctionAndScheduleRoles"]["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "lambda.amazonaws.com", "scheduler.amazonaws.com"]
    assert len(json.dumps(document, separators=(",", ":"))) <= 10240, "IAM's limit of a role's inline policies"


def test_the_command_prints_a_policy(capsys):
    assert deployer_policy.main(["prod"]) == 0
    assert json.loads(capsys.readouterr().out)["Version"] == "2012-10-17"
    assert deployer_policy.main([]) == 2
