"""The delivery identities, measured on exactly what the tools print: every call the providers make for
what each stack declares is allowed on the ARN it acts on, nothing can escalate, `*` is allowed only
where AWS allows nothing narrower, every IAM write carries the boundary, and the field's scanners
(cloudsplaining, parliament, cfn-lint) find nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.conftest import ROOT
from tests.identity_requests import requests
from tools.identities import deployer
from tools.identities.deployer import BOUNDED_ROLE_WRITES, DATA_DESTROYING
from tools.identities.evaluate import Request, decide
from tools.identities.policy import ANY_RESOURCE_ALLOWED, MANAGED_POLICY_CHARACTERS, citation, size
from tools.identities.scopes import Target
from tools.program_graph import ACCOUNT
from tools.cli import stack_settings

STACKS = ("dev", "prod")
REPOSITORY = "acme/commodity-forecasts"


def printed(*args: str) -> object:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module", params=STACKS)
def stack(request):
    return request.param


@pytest.fixture(scope="module")
def deploy_policies(stack):
    return printed("tools.deployer_policy", stack, "--account", ACCOUNT)


@pytest.fixture(scope="module")
def template():
    return printed("tools.bootstrap", "template", "--repository", REPOSITORY)


def template_policies(template) -> list[dict]:
    resources = template["Resources"].values()
    return [r["Properties"]["PolicyDocument"] for r in resources if r["Type"] == "AWS::IAM::ManagedPolicy"]


def test_every_call_of_every_declared_type_is_allowed_on_the_arn_it_acts_on(stack, deploy_policies, request):
    graph = request.getfixturevalue(f"{stack}_graph")
    target = Target(stack_settings(stack), ACCOUNT)
    checked, refused = 0, []
    for resource, type_, call in requests(target, graph):
        allowed, why = decide(deploy_policies, call)
        withheld = target.settings.protect and call.action in DATA_DESTROYING
        if allowed == withheld:
            refused.append(f"{type_} {resource.name if resource else ''}: {call.action} on {call.resource} {call.context or ''} -> {why}")
        checked += 1
    assert checked > 400 and not refused, "\n".join(refused[:40])


def test_a_type_without_listed_calls_and_a_call_without_a_grant_both_fail(dev_graph, deploy_policies, stack):
    with pytest.raises(KeyError, match="no provider calls listed for aws:ec2/instance:Instance"):
        deployer.granted_actions({"aws:ec2/instance:Instance"})
    target = Target(stack_settings(stack), ACCOUNT)
    without_logs = [{**d, "Statement": [s for s in d["Statement"] if s["Sid"] != "LogGroups"]} for d in deploy_policies]
    missing = [call for _, _, call in requests(target, dev_graph) if call.action == "logs:CreateLogGroup" and not decide(without_logs, call)[0]]
    assert missing, "the check notices a grant that is not there"


def test_each_policy_fits_iam_and_the_printed_ones_are_the_templates(stack, deploy_policies, template):
    assert all(size(policy) <= MANAGED_POLICY_CHARACTERS for policy in deploy_policies), [size(p) for p in deploy_policies]
    attached = json.dumps(template_policies(template))
    for statement in deploy_policies[0]["Statement"]:
        assert statement["Sid"] in attached


def _allow_statements(policies):
    for policy in policies:
        for statement in policy["Statement"]:
            if statement["Effect"] == "Allow":
                yield statement


_PRINTED: dict[tuple[str, ...], object] = {}


def _once(*args: str) -> object:
    """What a command printed, run once per module (each runs the program under mocks)."""
    if args not in _PRINTED:
        _PRINTED[args] = printed(*args)
    return _PRINTED[args]


def _all_printed(stack, deploy_policies):
    return [
        *deploy_policies,
        _once("tools.deployer_policy", stack, "--account", ACCOUNT, "--boundary"),
        _once("tools.deployer_policy", stack, "--account", ACCOUNT, "--preview"),
    ]


def test_resource_star_is_allowed_only_for_reviewed_actions_aws_scopes_to_nothing(stack, deploy_policies, template):
    for statement in _allow_statements(_all_printed(stack, deploy_policies) + template_policies(template)):
        if statement["Resource"] in ("*", ["*"]):
            for action in statement["Action"]:
                assert action in ANY_RESOURCE_ALLOWED or action.startswith("xray:"), f"{statement['Sid']}: {action} on '*'"
                assert "service-authorization" in citation(action)


def test_every_iam_write_is_on_the_stacks_path_with_its_boundary(stack, deploy_policies):
    target = Target(stack_settings(stack), ACCOUNT)
    for statement in _allow_statements(deploy_policies):
        writes = [a for a in statement["Action"] if a in BOUNDED_ROLE_WRITES]
        if writes:
            assert statement["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/commodity-forecasts/{target.environment}/*"
            assert statement["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": target.boundary_arn}}
        other = [a for a in statement["Action"] if a.startswith("iam:") and not a.startswith(("iam:Get", "iam:List")) and a not in BOUNDED_ROLE_WRITES]
        assert set(other) <= {"iam:PassRole", "iam:CreateServiceLinkedRole", "iam:TagRole", "iam:UntagRole"}, other


ATTACKS = [
    ("iam:PutRolePolicy", "arn:aws:iam::123456789012:role/admin", {"iam:PermissionsBoundary": "{boundary}"}),
    ("iam:CreateRole", "arn:aws:iam::123456789012:role/commodity-forecasts/{env}/x", {}),
    ("iam:CreateRole", "arn:aws:iam::123456789012:role/commodity-forecasts/{env}/x", {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ("iam:DeleteRolePermissionsBoundary", "arn:aws:iam::123456789012:role/commodity-forecasts/{env}/x", {"iam:PermissionsBoundary": "{boundary}"}),
    ("iam:CreatePolicyVersion", "{boundary}", {}),
    ("iam:UpdateAssumeRolePolicy", "arn:aws:iam::123456789012:role/commodity-forecasts-bootstrap/commodity-forecasts-{env}-deploy", {}),
    ("iam:AttachRolePolicy", "arn:aws:iam::123456789012:role/commodity-forecasts/{env}/x", {"iam:PermissionsBoundary": "{boundary}"}),
    ("iam:PassRole", "arn:aws:iam::123456789012:role/admin", {"iam:PassedToService": "lambda.amazonaws.com"}),
    ("iam:PassRole", "arn:aws:iam::123456789012:role/commodity-forecasts/{env}/x", {"iam:PassedToService": "ec2.amazonaws.com"}),
    ("kms:PutKeyPolicy", "arn:aws:kms:us-east-1:123456789012:key/any", {}),
    ("sns:SetTopicAttributes", "arn:aws:sns:us-east-1:123456789012:someone-elses-topic", {}),
    ("sqs:SetQueueAttributes", "arn:aws:sqs:us-east-1:123456789012:someone-elses-queue", {}),
    ("s3:PutBucketPolicy", "arn:aws:s3:::someone-elses-bucket", {}),
    ("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:123456789012:function:someone-elses", {}),
    ("ecr:PutImage", "arn:aws:ecr:us-east-1:123456789012:repository/someone/else", {}),
    ("iam:CreateUser", "arn:aws:iam::123456789012:user/x", {}),
    ("lambda:AddPermission", "arn:aws:lambda:us-east-1:123456789012:function:commodity-forecasts-{env}-corn", {"lambda:Principal": "*"}),
]


@pytest.mark.parametrize("action, resource, context", ATTACKS)
def test_the_deploy_role_cannot_escalate_or_reach_outside_its_stack(stack, deploy_policies, action, resource, context):
    target = Target(stack_settings(stack), ACCOUNT)
    fill = {"env": target.environment, "boundary": target.boundary_arn}
    call = Request(action, resource.format(**fill), {k: v.format(**fill) for k, v in context.items()})
    allowed, why = decide(deploy_policies, call)
    assert not allowed, f"{action} on {call.resource} must be refused ({why})"


DESTROYING = [("s3:DeleteObjectVersion", "object"), ("s3:PutBucketVersioning", "bucket"), ("dynamodb:DeleteTable", "table"),
              ("dynamodb:UpdateContinuousBackups", "table")]


@pytest.mark.parametrize("action, kind", DESTROYING)
def test_prod_destroys_no_data_unless_break_glass_is_set(prod_graph, action, kind):
    settings = stack_settings("prod")
    declared = {r.type for r in prod_graph.resources if r.custom}
    for glass, expected in ((False, False), (True, True)):
        target = Target(replace(settings, delivery=replace(settings.delivery, break_glass_data_changes=glass)), ACCOUNT)
        arn = target.scope(kind)[0].replace("*", "x")
        assert decide(deployer.documents(target, declared), Request(action, arn))[0] is expected, (action, glass)


def test_cloudsplaining_finds_no_privilege_escalation_or_resource_exposure(stack, deploy_policies, template):
    from cloudsplaining.scan.policy_document import PolicyDocument

    for policy in _all_printed(stack, deploy_policies) + template_policies(template):
        scanned = PolicyDocument(policy)
        assert scanned.allows_privilege_escalation == [], scanned.allows_privilege_escalation
        assert scanned.permissions_management_without_constraints == [], scanned.permissions_management_without_constraints
        assert set(scanned.credentials_exposure) <= {"ecr:GetAuthorizationToken"}, "the registry login is the one credential"


def test_parliament_reports_nothing_but_reviewed_false_positives(stack, deploy_policies):
    from tools.identities.checks import parliament_findings

    for policy in deploy_policies:
        assert parliament_findings(policy, deploy_policies) == [], json.dumps(policy)[:300]
    for policy in _all_printed(stack, deploy_policies)[len(deploy_policies):]:
        assert parliament_findings(policy) == [], json.dumps(policy)[:300]


def test_trust_policies_name_exactly_one_subject_each():
    policies = printed("tools.bootstrap", "trust", "--repository", REPOSITORY)
    subjects = {}
    for role, policy in policies.items():
        [statement] = policy["Statement"]
        condition = statement["Condition"]["StringEquals"]
        assert condition["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
        subjects[role] = condition["token.actions.githubusercontent.com:sub"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity" and list(statement["Condition"]) == ["StringEquals"]
    assert subjects == {
        "commodity-forecasts-dev-deploy": f"repo:{REPOSITORY}:environment:dev",
        "commodity-forecasts-prod-deploy": f"repo:{REPOSITORY}:environment:prod",
        "commodity-forecasts-preview": f"repo:{REPOSITORY}:pull_request",
    }


def test_the_preview_role_reads_and_never_writes(stack):
    policy = _once("tools.deployer_policy", stack, "--account", ACCOUNT, "--preview")
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions and all(a.split(":")[1].startswith(("Get", "List", "Describe", "Decrypt")) for a in actions), actions


def test_the_bootstrap_template_passes_cfn_lint_and_keeps_what_it_creates(template, tmp_path):
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(template))
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "cfn-lint"), str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    resources = template["Resources"]
    for name, resource in resources.items():
        if resource["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            assert resource["DeletionPolicy"] == "Retain", f"{name}: state and keys outlive the template"
        if resource["Type"] == "AWS::IAM::Role":
            assert resource["Properties"]["Path"] == "/commodity-forecasts-bootstrap/"
    assert {r["Properties"]["RoleName"] for r in resources.values() if r["Type"] == "AWS::IAM::Role"} == {
        "commodity-forecasts-dev-deploy", "commodity-forecasts-prod-deploy", "commodity-forecasts-preview",
    }


def test_parliaments_exceptions_hold_only_where_their_premise_does():
    from tools.identities.checks import parliament_findings

    bucket = "arn:aws:s3:::commodity-forecasts-dev-data-123456789012-us-east-1"
    writes_policy = {"Version": "2012-10-17", "Statement": [{"Sid": "Buckets", "Effect": "Allow", "Action": ["s3:PutBucketPolicy"], "Resource": bucket}]}
    assert any("RESOURCE_POLICY_PRIVILEGE_ESCALATION" in f for f in parliament_findings(writes_policy)), "without the Deny it is a finding"
    denied = {**writes_policy, "Statement": writes_policy["Statement"] + [
        {"Sid": "DenyData", "Effect": "Deny", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": f"{bucket}/*"}]}
    assert parliament_findings(denied) == []
