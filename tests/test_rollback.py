"""tools.rollback against botocore's Stubber: the request shapes are Lambda's own (the stubber validates
every call against the service model), so a test passing here sends what the real API accepts."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tools import rollback

NAME = "commodity-forecasts-prod-corn"
GOAL = rollback.Target("prod", NAME, "us-east-1", {"commodity": "corn", "dry_run": True})
REVISION = "3b1c2a7e-0000-4000-8000-000000000001"


def client():
    return boto3.client("lambda", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def body(document) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def expect_lookup(stubber: Stubber, live: int, published=(1, 2, 3, 4)) -> None:
    stubber.add_response("get_alias", {"Name": "live", "FunctionVersion": str(live), "RevisionId": REVISION},
                         {"FunctionName": NAME, "Name": "live"})
    stubber.add_response("list_versions_by_function", {"Versions": [{"Version": "$LATEST"}, *({"Version": str(v)} for v in published)]},
                         {"FunctionName": NAME})


def expect_state(stubber: Stubber, version: int, state: str = "Active", **extra) -> None:
    stubber.add_response("get_function_configuration", {"FunctionName": NAME, "Version": str(version), "State": state, **extra},
                         {"FunctionName": NAME, "Qualifier": str(version)})


def expect_dry_run(stubber: Stubber, version: int, *, error: str | None = None) -> None:
    response = {"StatusCode": 200, "Payload": body({"errorMessage": error} if error else {"dry_run": True, "skipped": []})}
    if error:
        response["FunctionError"] = "Unhandled"
    stubber.add_response("invoke", response, {"FunctionName": NAME, "Qualifier": str(version), "Payload": json.dumps(GOAL.dry_run_event).encode()})


def test_goes_back_to_the_previous_version_after_its_dry_run_passes():
    lam = client()
    out = io.StringIO()
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=4)
        expect_state(stubber, 3)
        expect_dry_run(stubber, 3)
        stubber.add_response("update_alias", {"Name": "live", "FunctionVersion": "3"}, {
            "FunctionName": NAME, "Name": "live", "FunctionVersion": "3", "RevisionId": REVISION,
            "Description": "Rolled back from version 4 by tools.rollback",
        })
        assert rollback.rollback(lam, GOAL, out=out) == 3
        stubber.assert_no_pending_responses()
    said = out.getvalue()
    assert "live moved from version 4 to 3" in said
    assert "add `live_version: 3`" in said and "Pulumi.prod.yaml" in said, "it says how to keep the rollback"


def test_a_version_that_fails_its_dry_run_is_never_made_live():
    lam = client()
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=4)
        expect_state(stubber, 3)
        expect_dry_run(stubber, 3, error="ModelIncompatible: corn: model expects 13 features")
        with pytest.raises(rollback.RollbackRefused, match="version 3 failed its dry run, live stays on 4: .*ModelIncompatible"):
            rollback.rollback(lam, GOAL, out=io.StringIO())
        stubber.assert_no_pending_responses()  # and no update_alias was made: the stubber refuses unexpected calls


def test_an_explicit_version_and_the_limits():
    lam = client()
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=1, published=(1,))
        with pytest.raises(rollback.RollbackRefused, match="version 1, the oldest published; nothing to roll back to"):
            rollback.rollback(lam, GOAL, out=io.StringIO())
        expect_lookup(stubber, live=4)
        with pytest.raises(rollback.RollbackRefused, match="version 9 is not published"):
            rollback.rollback(lam, GOAL, to=9, out=io.StringIO())
        expect_lookup(stubber, live=4)
        out = io.StringIO()
        assert rollback.rollback(lam, GOAL, to=4, out=out) == 4
        assert "already points at version 4" in out.getvalue()


def expect_move(stubber: Stubber, frm: int, to: int) -> None:
    stubber.add_response("update_alias", {"Name": "live", "FunctionVersion": str(to)}, {
        "FunctionName": NAME, "Name": "live", "FunctionVersion": str(to), "RevisionId": REVISION,
        "Description": f"Rolled back from version {frm} by tools.rollback",
    })


def test_a_version_beyond_rollback_reach_is_refused_before_anything_runs():
    lam = client()
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=4, published=(1, 2, 3, 4))
        with pytest.raises(rollback.RollbackRefused, match=(
                r"version 1 is beyond rollback reach \(live 4, newest published 2, 3, 4\): its image is not kept")):
            rollback.rollback(lam, GOAL, to=1, out=io.StringIO())
        stubber.assert_no_pending_responses()  # no dry run, no alias move


def test_a_pinned_version_stays_within_reach():
    lam = client()
    pinned = rollback.Target("prod", NAME, "us-east-1", GOAL.dry_run_event, pinned=1, reach_versions=3)
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=4, published=(1, 2, 3, 4))
        expect_state(stubber, 1)
        expect_dry_run(stubber, 1)
        expect_move(stubber, 4, 1)
        assert rollback.rollback(lam, pinned, to=1, out=io.StringIO()) == 1
        stubber.assert_no_pending_responses()


def test_an_inactive_version_is_woken_and_waited_for_before_its_dry_run():
    """Lambda refuses the first invocation of an Inactive version (ResourceConflictException) and restores it:
    Pending, then Active (the function_active_v2 waiter, on GetFunction). Only then the dry run."""
    lam = client()
    out = io.StringIO()
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=4)
        expect_state(stubber, 3, "Inactive", StateReasonCode="Idle")
        stubber.add_client_error("invoke", service_error_code="ResourceConflictException", http_status_code=409,
                                 service_message="The operation cannot be performed at this time. The function is currently in the following state: Inactive",
                                 expected_params={"FunctionName": NAME, "Qualifier": "3", "Payload": json.dumps(GOAL.dry_run_event).encode()})
        for state in ("Pending", "Pending", "Active"):
            stubber.add_response("get_function", {"Configuration": {"FunctionName": NAME, "Version": "3", "State": state}},
                                 {"FunctionName": NAME, "Qualifier": "3"})
        expect_dry_run(stubber, 3)
        expect_move(stubber, 4, 3)
        assert rollback.rollback(lam, GOAL, out=out, active_wait={"Delay": 0, "MaxAttempts": 5}) == 3
        stubber.assert_no_pending_responses()
    said = out.getvalue()
    assert "version 3 is Inactive (idle); waking it" in said and "version 3 is Active" in said


def test_a_version_that_never_becomes_active_cannot_be_decided():
    lam = client()
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=4)
        expect_state(stubber, 3, "Pending")
        for _ in range(2):
            stubber.add_response("get_function", {"Configuration": {"FunctionName": NAME, "Version": "3", "State": "Pending"}},
                                 {"FunctionName": NAME, "Qualifier": "3"})
        with pytest.raises(rollback.CannotDecide, match=r"version 3 did not become Active within 0 s \(last state: Pending\)"):
            rollback.rollback(lam, GOAL, out=io.StringIO(), active_wait={"Delay": 0, "MaxAttempts": 2})


def test_a_failed_version_is_refused():
    lam = client()
    with Stubber(lam) as stubber:
        expect_lookup(stubber, live=4)
        expect_state(stubber, 3, "Failed", StateReasonCode="ImageDeleted", StateReason="The image was deleted")
        with pytest.raises(rollback.RollbackRefused, match=r"version 3 is Failed \(ImageDeleted: The image was deleted\)"):
            rollback.rollback(lam, GOAL, out=io.StringIO())


def test_reads_the_function_from_the_stack_file():
    goal = rollback.target("prod", "trainer")
    assert (goal.function_name, goal.dry_run_event) == ("commodity-forecasts-prod-trainer", {"dry_run": True})
    assert (goal.pinned, goal.reach_versions) == (None, 3), "the stack file's live_version and rollback_versions"
    assert rollback.target("dev", "corn").dry_run_event == {"commodity": "corn", "dry_run": True}


@pytest.mark.parametrize("argv, message", [
    (["staging", "corn"], "unknown stack 'staging'"),
    (["dev", "oats"], "stack 'dev' has no function 'oats' (it has: corn, wheat, soybeans, trainer, price-feed)"),
])
def test_what_it_cannot_decide_exits_2(argv, message, capsys):
    assert rollback.main(argv) == 2
    assert message in capsys.readouterr().err


def test_no_credentials_exits_2(monkeypatch, capsys, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # boto3's default session caches the credentials it first resolved (other tests' emulator): start afresh.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    assert rollback.main(["dev", "corn"]) == 2
    assert "no AWS credentials" in capsys.readouterr().err
