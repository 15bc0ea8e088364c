"""What tools/deploy.sh runs besides the CLI: the concurrency preflight (against Lambda's real service
model through botocore's Stubber, since the emulator has no GetAccountSettings), the registry login (on
the emulator, with a stand-in `docker`), the delivery coordinates, and the script's usage."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber

from demo.emulator import Emulator
from tests.conftest import ROOT
from tools import delivery, preflight

FAKE = ROOT / "tests" / "fake_pulumi"
PROD_FUNCTIONS = {"commodity-forecasts-prod-corn": 2, "commodity-forecasts-prod-wheat": 2,
                  "commodity-forecasts-prod-soybeans": 2, "commodity-forecasts-prod-trainer": 1}


def stubbed(unreserved: int, reserved_now: dict[str, int]):
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_response("get_account_settings", {"AccountLimit": {"UnreservedConcurrentExecutions": unreserved}})
    for name in PROD_FUNCTIONS:
        if name in reserved_now:
            stub.add_response("get_function_concurrency", {"ReservedConcurrentExecutions": reserved_now[name]}, {"FunctionName": name})
        else:
            stub.add_client_error("get_function_concurrency", "ResourceNotFoundException", http_status_code=404,
                                  expected_params={"FunctionName": name})
    stub.activate()
    return client


def test_a_first_deployment_that_fits_passes():
    assert "leaves 993" in preflight.check("prod", stubbed(1000, {}))


def test_a_new_accounts_small_quota_is_refused_naming_the_settings_to_lower():
    with pytest.raises(preflight.NoRoom) as refused:
        preflight.check("prod", stubbed(10, {}))
    message = str(refused.value)
    assert "reserves 7 concurrent executions; the account would keep 3 unreserved" in message
    assert "functions[corn].reserved_concurrency (2)" in message and "functions[trainer].reserved_concurrency (1)" in message


def test_what_the_stack_already_reserves_counts_as_room():
    """An update that keeps the same reservations needs no new room."""
    assert "leaves 100" in preflight.check("prod", stubbed(100, PROD_FUNCTIONS))


def test_the_login_hands_the_token_to_docker_on_stdin(tmp_path):
    log = tmp_path / "calls.jsonl"
    with Emulator() as emulator:
        env = {**os.environ, **emulator.environment, "FAKE_PULUMI_LOG": str(log)}
        done = subprocess.run([sys.executable, "-c", f"from tools import ecr_login; print(ecr_login.login('dev', {str(FAKE / 'docker')!r}))"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [call] = [json.loads(line) for line in log.read_text().splitlines()]
    assert call[:5] == ["docker", "login", "--username", "AWS", "--password-stdin"]
    assert call[5].startswith("https://") and ".dkr.ecr.us-east-1.amazonaws.com" in call[5]
    assert not call[-1].startswith("<stdin: 0 "), "the password arrives on stdin, never in the arguments"


def test_coordinates_name_the_bootstraps_roles_and_state():
    found = delivery.coordinates("prod")
    assert found["deploy_role"] == "arn:aws:iam::123456789012:role/commodity-forecasts-bootstrap/commodity-forecasts-prod-deploy"
    assert found["preview_role"].endswith(":role/commodity-forecasts-bootstrap/commodity-forecasts-preview")
    assert found["backend"] == "s3://commodity-forecasts-state-123456789012-us-east-1?region=us-east-1"
    assert found["secrets_provider"] == "awskms://alias/commodity-forecasts-prod-state?region=us-east-1"


@pytest.mark.parametrize("args, code, stream", [(["--help"], 0, "stdout"), ([], 2, "stderr"), (["-x"], 2, "stderr")])
def test_deploy_sh_answers_help_and_a_missing_stack_with_usage(args, code, stream):
    done = subprocess.run(["bash", str(ROOT / "tools" / "deploy.sh"), *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == code and getattr(done, stream).startswith("usage: tools/deploy.sh STACK")


@pytest.mark.parametrize("tool", ["tools.delivery", "tools.preflight", "tools.ecr_login", "tools.bootstrap", "tools.deployer_policy"])
def test_each_delivery_tool_answers_help_and_refuses_a_missing_argument(tool):
    helped = subprocess.run([sys.executable, "-m", tool, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: python -m ")
    missing = subprocess.run([sys.executable, "-m", tool], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "usage: python -m " in missing.stderr and "Traceback" not in missing.stderr
