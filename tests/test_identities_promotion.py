"""The deploy roles of a promotion: every call the providers and the deploy tools make is allowed on the ARN it
acts on, in each account layout (copy in one account: the project's stack files; replication and pull across
two accounts: stack files in a temporary folder), and nothing more reaches the other stack.

Two ways: the provider-call table's rows, as tests/test_identities.py decides them, over each layout's graphs;
and the calls `tools.release record` (dev's job) and `tools.release promote` (prod's) really make on the
emulator, each recorded as botocore sends it and decided against the printed policy of the stack that makes it."""

from __future__ import annotations

import io
import json

import pytest

from components.registry import CONSUMER_READS, CONSUMER_TAGGING
from tests.conftest import use_emulator
from tests.identity_requests import requests
from tests.test_promotion import DEV_ACCOUNT, PROD_ACCOUNT, cross_account, settings
from tests.test_release import DEV, NOW, PROD, deploy_dev, passed
from tools import release as release_tool
from tools.identities import deployer
from tools.identities.checks import parliament_findings
from tools.identities.deployer import DATA_DESTROYING
from tools.identities.evaluate import Request, decide
from tools.identities.policy import MANAGED_POLICY_CHARACTERS, size
from tools.identities.scopes import Target
from tools.program_graph import ACCOUNT, run_stack

REGISTRY_POLICY_WRITES = ("ecr:PutRegistryPolicy", "ecr:DeleteRegistryPolicy")
"""Permissions management that AWS scopes to no resource (Service Authorization Reference: no resource types), so
only the deploy role of the registry owner another account replicates into may hold them."""


def layout_policies(root, stack: str):
    stack_settings = settings(root, stack)
    graph = run_stack(stack, root=root)
    target = Target(stack_settings, stack_settings.account_id)
    return target, graph, deployer.documents(target, {r.type for r in graph.resources if r.custom} | graph.invokes)


def refused_calls(target, graph, policies) -> tuple[int, list[str]]:
    checked, refused = 0, []
    for resource, type_, call in requests(target, graph):
        allowed, why = decide(policies, call)
        if allowed == (target.settings.protect and call.action in DATA_DESTROYING):
            refused.append(f"{type_} {resource.name if resource else ''}: {call.action} on {call.resource} -> {why}")
        checked += 1
    return checked, refused


def by_sid(policies) -> dict[str, dict]:
    return {s["Sid"]: s for p in policies for s in p["Statement"]}


@pytest.fixture(scope="module", params=["replication", "pull"])
def across(request, tmp_path_factory):
    root = cross_account(tmp_path_factory.mktemp(request.param), request.param)
    return request.param, {stack: layout_policies(root, stack) for stack in ("dev", "prod")}


def test_across_accounts_every_listed_call_of_both_stacks_is_allowed_where_it_acts(across):
    mode, stacks = across
    for stack, (target, graph, policies) in stacks.items():
        checked, refused = refused_calls(target, graph, policies)
        assert checked > 300 and not refused, f"{mode}, {stack}:\n" + "\n".join(refused[:30])
        assert all(size(p) <= MANAGED_POLICY_CHARACTERS for p in policies), [size(p) for p in policies]


def test_across_accounts_the_scanners_find_nothing_and_only_the_destination_writes_a_registry_policy(across):
    from cloudsplaining.scan.policy_document import PolicyDocument

    mode, stacks = across
    for stack, (target, graph, policies) in stacks.items():
        for policy in policies:
            scanned = PolicyDocument(policy)
            assert scanned.allows_privilege_escalation == [], (mode, stack, scanned.allows_privilege_escalation)
            assert scanned.permissions_management_without_constraints == [], (mode, stack)
            assert parliament_findings(policy, policies) == [], (mode, stack, json.dumps(policy)[:300])
        owns_registry_policy = bool(graph.of_type("aws:ecr/registryPolicy:RegistryPolicy"))
        assert owns_registry_policy == ((mode, stack) == ("replication", "prod")), "only where dev replicates in"
        for action in REGISTRY_POLICY_WRITES:
            assert decide(policies, Request(action, "*"))[0] == owns_registry_policy, (mode, stack, action)


def test_replication_prod_writes_the_replicas_names_in_its_own_account_and_nothing_of_devs(tmp_path):
    root = cross_account(tmp_path, "replication")
    target, _, policies = layout_policies(root, "prod")
    statements = by_sid(policies)
    assert statements["Repositories"]["Resource"] == f"arn:aws:ecr:us-east-1:{PROD_ACCOUNT}:repository/commodity-forecasts/dev/*"
    assert "SourceRepositories" not in statements, "a replica arrives by itself: prod reads nothing in dev's account"
    _, _, dev_policies = layout_policies(root, "dev")
    assert by_sid(dev_policies)["ReplicationServiceLinkedRole"] == {
        "Sid": "ReplicationServiceLinkedRole", "Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole"],
        "Resource": f"arn:aws:iam::{DEV_ACCOUNT}:role/aws-service-role/replication.ecr.amazonaws.com/AWSServiceRoleForECRReplication",
        "Condition": {"StringEquals": {"iam:AWSServiceName": "replication.ecr.amazonaws.com"}},
    }
    for action in ("ecr:BatchGetImage", "ecr:PutImage"):
        assert not decide(policies, Request(action, f"arn:aws:ecr:us-east-1:{DEV_ACCOUNT}:repository/commodity-forecasts/dev/predictor"))[0]


def test_pull_prod_may_do_in_devs_repositories_exactly_what_their_policy_lets_it(tmp_path):
    root = cross_account(tmp_path, "pull")
    _, _, policies = layout_policies(root, "prod")
    source = by_sid(policies)["SourceRepositories"]
    assert source["Resource"] == f"arn:aws:ecr:us-east-1:{DEV_ACCOUNT}:repository/commodity-forecasts/dev/*"
    assert set(source["Action"]) == {*CONSUMER_READS, *CONSUMER_TAGGING}, "the identity side of the source's repository policy"


def test_copy_prod_reads_devs_repositories_and_writes_only_its_own(prod_graph, dev_graph):
    target = Target(PROD, ACCOUNT)
    policies = deployer.documents(target, {r.type for r in prod_graph.resources if r.custom} | prod_graph.invokes)
    source = by_sid(policies)["SourceRepositories"]
    assert source == {"Sid": "SourceRepositories", "Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                      "Resource": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/commodity-forecasts/dev/*"}
    dev_repository = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/commodity-forecasts/dev/predictor"
    for action in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:BatchDeleteImage", "ecr:SetRepositoryPolicy"):
        assert not decide(policies, Request(action, dev_repository))[0], f"prod must not {action} in dev's repository"
    assert not decide(policies, Request("ecr:BatchGetImage", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/someone/else"))[0]
    dev_policies = deployer.documents(Target(DEV, ACCOUNT), {r.type for r in dev_graph.resources if r.custom} | dev_graph.invokes)
    assert "SourceRepositories" not in by_sid(dev_policies), "a stack that builds reads no other stack's repositories"


# --- what the release tools really call, under the policy of the job that calls it ----------------------


@pytest.fixture
def aws(emulator, monkeypatch):
    use_emulator(emulator, monkeypatch)
    for stack_settings in (DEV, PROD):
        for image in ("predictor", "trainer"):
            emulator.client("ecr").create_repository(repositoryName=stack_settings.repository_name(image))
    return emulator


def recorded(client, into: list[Request]):
    """Each call `client` makes, as the IAM request AWS authorises (ECR's and Lambda's actions are named after
    their operations; the resource is the repository or the function, qualifier included)."""
    service = client.meta.service_model.endpoint_prefix.removeprefix("api.")

    def record(params, model, **_):
        if service == "ecr":
            resource = f"arn:aws:ecr:us-east-1:{params.get('registryId', ACCOUNT)}:repository/{params['repositoryName']}"
        else:
            qualifier = params.get("Qualifier") or params.get("Name")
            resource = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{params['FunctionName']}" + (f":{qualifier}" if qualifier else "")
        into.append(Request(f"{service}:{model.name}", resource))

    client.meta.events.register(f"before-parameter-build.{client.meta.service_model.service_name}.*", record)
    return client


def printed_policies(graph, stack_settings):
    return deployer.documents(Target(stack_settings, ACCOUNT), {r.type for r in graph.resources if r.custom} | graph.invokes)


def test_every_call_the_record_and_the_copy_make_is_allowed_to_the_job_that_makes_it(aws, dev_graph, prod_graph):
    digests = deploy_dev(aws)
    dev_calls: list[Request] = []
    made = release_tool.record(recorded(aws.client("lambda"), dev_calls), recorded(aws.client("ecr"), dev_calls), DEV, passed(digests),
                               now=NOW, out=io.StringIO())
    prod_calls: list[Request] = []
    release_tool.promote(recorded(aws.client("ecr"), prod_calls), PROD, made, "release.json", out=io.StringIO())

    assert {c.action for c in dev_calls} == {"lambda:GetAlias", "lambda:GetFunction", "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:PutImage"}
    assert {c.action for c in prod_calls} == {
        "ecr:DescribeImages", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"}
    assert {c.resource.rsplit("/", 2)[1] for c in prod_calls if c.action.startswith("ecr:")} == {"dev", "prod"}, "reads dev, writes prod"
    for calls, graph, stack_settings in ((dev_calls, dev_graph, DEV), (prod_calls, prod_graph, PROD)):
        policies = printed_policies(graph, stack_settings)
        refused = sorted({f"{c.action} on {c.resource}: {decide(policies, c)[1]}" for c in calls if not decide(policies, c)[0]})
        assert not refused, f"{stack_settings.stack}'s deploy role:\n" + "\n".join(refused)
    dev_policies = printed_policies(dev_graph, DEV)
    assert [c for c in prod_calls if not decide(dev_policies, c)[0]], "the check can fail: dev's role may not write prod's copies"
