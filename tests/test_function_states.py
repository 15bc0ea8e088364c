"""tools/function_states.py: every function and the version `live` runs must be Active. Lambda emits no
metric or event for a version going Inactive, so this check is what the deploy (and a schedule) run.
Against moto's Lambda for the healthy case; Stubber (Lambda's own model) for the states moto never gives."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stack_config import settings_from_config, stack_config
from tests.conftest import ROOT
from tools import function_states
from tools.function_states import NotActive, check

SETTINGS = settings_from_config(stack_config(ROOT, "dev"), stack="dev")
NAMES = [SETTINGS.function_name(spec) for spec in SETTINGS.all_functions]


def test_deployed_functions_on_the_emulator_are_active():
    with mock_aws():
        role = boto3.client("iam", region_name="us-east-1").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name="us-east-1")
        for name in NAMES:
            lam.create_function(FunctionName=name, Role=role, PackageType="Image", Publish=True,
                                Code={"ImageUri": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/r@sha256:{'a' * 64}"})
            lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        out = io.StringIO()
        states = check(lam, SETTINGS, out=out)
    assert len(states) == 2 * len(NAMES) and all(s.state == "Active" for s in states)
    assert "commodity-forecasts-dev-corn live (version 1): Active" in out.getvalue()


def stubbed(states: dict[str, tuple[dict, dict]]):
    """function short name → (its $LATEST configuration, its live version's), answered in the tool's order."""
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for spec in SETTINGS.all_functions:
        name = SETTINGS.function_name(spec)
        latest, live = states.get(spec.name, ({"State": "Active", "LastUpdateStatus": "Successful"}, {"State": "Active"}))
        stubber.add_response("get_alias", {"Name": "live", "FunctionVersion": "7"}, {"FunctionName": name, "Name": "live"})
        stubber.add_response("get_function_configuration", {"FunctionName": name, **latest}, {"FunctionName": name, "Qualifier": "$LATEST"})
        stubber.add_response("get_function_configuration", {"FunctionName": name, "Version": "7", **live}, {"FunctionName": name, "Qualifier": "7"})
    stubber.activate()
    return client


def test_an_inactive_live_version_is_named_with_lambdas_reason():
    client = stubbed({"wheat": ({"State": "Active", "LastUpdateStatus": "Successful"},
                                {"State": "Inactive", "StateReasonCode": "Idle", "StateReason": "The function is idle"})})
    with pytest.raises(NotActive, match=r"commodity-forecasts-dev-wheat:7 is Inactive: Idle: The function is idle\. An Inactive live version wakes"):
        check(client, SETTINGS, out=io.StringIO())


def test_a_failed_update_is_named():
    client = stubbed({"trainer": ({"State": "Active", "LastUpdateStatus": "Failed", "LastUpdateStatusReasonCode": "ImageDeleted",
                                   "LastUpdateStatusReason": "The image was deleted"}, {"State": "Active"})})
    with pytest.raises(NotActive, match=r"commodity-forecasts-dev-trainer:\$LATEST is Active \(last update Failed\): ImageDeleted: The image was deleted"):
        check(client, SETTINGS, out=io.StringIO())


def test_all_active_passes():
    assert len(check(stubbed({}), SETTINGS, out=io.StringIO())) == 2 * len(NAMES)


def test_command_line_exit_codes(capsys):
    assert function_states.main(["staging"]) == 2
    assert "unknown stack 'staging'" in capsys.readouterr().err
