"""The deploying role's policy (tools/deployer_policy.py over tools/identities/) covers every resource
type the program declares in both stacks, names every action, and scopes what it can to the stack's
names. What each call is allowed on, call by call, is tests/test_identities.py."""

from __future__ import annotations

import json
import re

import pytest

from tools import deployer_policy
from tools.identities import deployer
from tools.identities.policy import MANAGED_POLICY_CHARACTERS, size
from tools.program_graph import ACCOUNT


@pytest.fixture(params=["dev", "prod"])
def stack(request):
    return request.param, request.getfixturevalue(f"{request.param}_graph")


def test_every_declared_resource_type_is_covered(stack):
    _, graph = stack
    declared = {r.type for r in graph.resources if r.custom} | graph.invokes
    granted = deployer.granted_actions(declared)
    assert declared <= set(granted), "every declared type has its listed calls"
    assert all(granted[t] for t in declared if t != "aws:index/getCallerIdentity:getCallerIdentity")


def test_every_action_is_named_and_the_stacks_names_scope_it(stack):
    name, _ = stack
    documents = deployer_policy.documents(name, ACCOUNT)
    statements = [s for d in documents for s in d["Statement"]]
    for statement in statements:
        for action in statement["Action"]:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{action!r}: wildcard or malformed action"
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["Functions"]["Resource"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:commodity-forecasts-{name}-*"
    assert "lambda:InvokeFunction" in by_sid["Functions"]["Action"], "the pre-traffic gate invokes each new version"
    assert by_sid["PassStackRolesToLambdaAndScheduler"]["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "lambda.amazonaws.com", "scheduler.amazonaws.com"]
    assert all(size(d) <= MANAGED_POLICY_CHARACTERS for d in documents), "IAM's managed-policy size limit"


def test_the_command_prints_the_policies(capsys):
    assert deployer_policy.main(["prod", "--account", ACCOUNT]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert isinstance(printed, list) and all(d["Version"] == "2012-10-17" for d in printed)
    with pytest.raises(SystemExit) as missing:
        deployer_policy.main([])
    assert missing.value.code == 2
