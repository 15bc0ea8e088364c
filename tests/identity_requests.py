"""The requests a deployment makes, resource by resource: each call the provider-call table lists for
a resource's type, on the ARN the mocks gave that resource (or its parent), with the condition keys AWS
would put in the request context. tests/test_identities.py decides each against the printed policies."""

from __future__ import annotations

import re
from typing import Iterator

from tools.identities.deployer import ON_THE_SOURCE, resource_type_for, tools
from tools.identities.evaluate import Request
from tools.identities.scopes import Target
from tools.identities.table import provider_calls
from tools.program_graph import Graph, Resource

ECR_KEY_ID = "0c1a9e5f-aws-ecr-managed"
"""The AWS-managed aws/ecr key's id (the account's own; any id)."""
LAMBDA_EDITS_REPOSITORY_POLICY = frozenset({"ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy"})
"""What Lambda does on a function's creator's behalf for an image in the function's own account only (Lambda
developer guide, "Amazon ECR permissions"); an image in another account is the source's repository policy's job."""
_REPOSITORY_URL = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)")


def _by_id(graph: Graph, type_: str, resource_id: str) -> Resource:
    return next(r for r in graph.of_type(type_) if r.id == resource_id)


def _function_arn(graph: Graph, name: str) -> str:
    return next(r.state["arn"] for r in graph.of_type("aws:lambda/function:Function") if r.inputs["name"] == name)


def _repository_arn(url: str) -> str:
    account, region, name = _REPOSITORY_URL.match(url).groups()
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


def own_arn(resource: Resource, graph: Graph, target: Target) -> str:
    """The ARN a resource's own calls act on: its own, or its parent's (a policy's role, a child's bucket)."""
    t, i, s = resource.type, resource.inputs, resource.state
    if t.startswith("aws:s3/bucket") and t != "aws:s3/bucket:Bucket":
        return _by_id(graph, "aws:s3/bucket:Bucket", i["bucket"]).state["arn"]
    if t == "aws:iam/rolePolicy:RolePolicy":
        return _by_id(graph, "aws:iam/role:Role", i["role"]).state["arn"]
    if t in ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy"):
        return next(r.state["arn"] for r in graph.of_type("aws:ecr/repository:Repository") if r.state["name"] == i["repository"])
    if t == "docker-build:index:Image":
        return _repository_arn(i["tags"][0])
    if t.startswith("aws:lambda/") and t != "aws:lambda/function:Function":
        qualifier = i.get("qualifier")
        return _function_arn(graph, i.get("functionName") or i["function"]) + (f":{qualifier}" if qualifier else "")
    if t == "aws:cloudwatch/logMetricFilter:LogMetricFilter":
        return target.arn("logs", f"log-group:{i['logGroupName']}")
    if t == "aws:cloudwatch/dashboard:Dashboard":
        return s["dashboardArn"]
    if t == "aws:cloudwatch/eventTarget:EventTarget":
        return target.arn("events", f"rule/{i['rule']}")
    if t == "aws:sns/topicSubscription:TopicSubscription":
        return i["topic"]
    if t == "aws:appautoscaling/scheduledAction:ScheduledAction":
        return next(r.state["arn"] for r in graph.of_type("aws:appautoscaling/target:Target") if r.inputs["resourceId"] == i["resourceId"])
    return s["arn"]


def _context(resource: Resource, graph: Graph) -> dict[str, object]:
    """Condition keys of the resource's requests."""
    context: dict[str, object] = {}
    role = resource if resource.type == "aws:iam/role:Role" else None
    if resource.type == "aws:iam/rolePolicy:RolePolicy":
        role = _by_id(graph, "aws:iam/role:Role", resource.inputs["role"])
    if role is not None and role.inputs.get("permissionsBoundary"):
        context["iam:PermissionsBoundary"] = role.inputs["permissionsBoundary"]
    if resource.type == "aws:lambda/permission:Permission":
        context["lambda:Principal"] = resource.inputs["principal"]
    if "serviceNamespace" in resource.inputs:
        context["application-autoscaling:service-namespace"] = resource.inputs["serviceNamespace"]
    return context


def _passed_role(resource: Resource) -> tuple[str, str]:
    if resource.type == "aws:lambda/function:Function":
        return resource.inputs["role"], "lambda.amazonaws.com"
    return resource.inputs["target"]["roleArn"], "scheduler.amazonaws.com"


def _request(target: Target, resource: Resource, graph: Graph, action: str) -> Request | None:
    """The request `action` makes for `resource`; None when the call is not made for it."""
    if action == "iam:PassRole":
        role, service = _passed_role(resource)
        return Request(action, role, {"iam:PassedToService": service})
    if action == "iam:CreateServiceLinkedRole":
        service, arn = target.service_linked_role(resource.type)
        return Request(action, arn, {"iam:AWSServiceName": service})
    if action == "kms:RetireGrant":
        return Request(action, target.arn("kms", f"key/{ECR_KEY_ID}"), {"kms:ViaService": f"ecr.{target.region}.amazonaws.com"})
    kind = resource_type_for(resource.type, action)
    if kind == "*":
        return Request(action, "*")
    arn = own_arn(resource, graph, target)
    if kind == "object":
        arn = f"{arn}/predictions/corn/2026-12-03.json"
    elif kind == "repository" and not arn.startswith("arn:aws:ecr:"):
        arn = _repository_arn(resource.inputs["imageUri"])
        if action in LAMBDA_EDITS_REPOSITORY_POLICY and arn.split(":")[4] != target.account:
            return None
    return Request(action, arn, _context(resource, graph))


def requests(target: Target, graph: Graph) -> Iterator[tuple[Resource | None, str, Request]]:
    """(resource, its type, request) for every listed call of every custom resource, every data source
    the program called, and what the deploy tools (rollback and promotion included) call on each function and
    repository: the stack's own, or, for what acts on the source, each repository the source's images are in."""
    table = provider_calls()
    for resource in graph.resources:
        if not resource.custom:
            continue
        for action in table[resource.type].actions():
            request = _request(target, resource, graph, action)
            if request is not None:
                yield resource, resource.type, request
    for token in sorted(graph.invokes):
        for action in table[token].actions():
            yield None, token, Request(action, target.legacy_bucket_arn)
    for tool in tools(target.settings):
        for action in table[tool].actions():
            for arn in _tool_arns(target, graph, tool, resource_type_for(tool, action)):
                yield None, tool, Request(action, arn)


def _tool_arns(target: Target, graph: Graph, tool: str, kind: str) -> list[str]:
    if kind == "*":
        return ["*"]
    if tool in ON_THE_SOURCE:
        settings = target.settings
        return [settings.promotion.source.repository_arn(settings.project, image.name) for image in settings.images]
    return [r.state["arn"] for r in graph.of_type("aws:lambda/function:Function" if kind == "function" else "aws:ecr/repository:Repository")]
