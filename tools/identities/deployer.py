"""The deploy role's policy for one stack, derived from the provider-call table: every call the
providers make for the resource types and data sources the stack declares, plus what tools/deploy.sh
runs, each allowed on exactly the ARNs the stack creates (tools/identities/scopes.py).

Escalation is closed off, not just left ungranted: roles may be created and changed only under the
stack's path and only with its permissions boundary; the boundary and every bootstrap identity are
denied any write; no boundary may be removed; only the stack's roles may be passed, and only to Lambda
and EventBridge Scheduler. In a protected stack the calls that destroy data (object and version
deletes, versioning and lifecycle changes, table deletion, PITR changes, log-group deletion) are
denied unless the stack sets `break_glass_data_changes`.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from stack_config import Settings, identities
from tools.identities.policy import ANY_RESOURCE_ALLOWED, Statement, split
from tools.identities.scopes import Target
from tools.identities.table import action, provider_calls

ALWAYS = ("tool:deploy", "tool:rollback")
"""Not resource types: what the deploy script and the rollback tool call under the deploy role."""
PROMOTION_TOOLS = {
    "copy": ("tool:promote-copy", "tool:promote-copy-source"),
    "replication": (),
    "pull": ("tool:promote-pull-source",),
}
"""What a promoting stack's deploy calls besides ALWAYS, by promotion mode (a replica is waited for and tagged in the
stack's own repositories: ALWAYS's calls)."""
ON_THE_SOURCE = frozenset({"tool:promote-copy-source", "tool:promote-pull-source"})
"""Calls on the source's repositories (Target.source_repositories), not the stack's own."""


def tools(settings: Settings) -> tuple[str, ...]:
    """The tool entries of the provider-call table the stack's deploy role runs."""
    return ALWAYS + (PROMOTION_TOOLS[settings.promotion.mode] if settings.promotion is not None else ())
OWN_RESOURCE_TYPES = {
    "aws:appautoscaling/": ("ScalableTarget",), "aws:cloudwatch/dashboard": ("dashboard",),
    "aws:cloudwatch/log": ("log-group",), "aws:cloudwatch/metricAlarm": ("alarm",),
    "aws:cloudwatch/event": ("rule-on-default-event-bus",), "aws:dynamodb/": ("table",), "aws:ecr/": ("repository",),
    "aws:iam/": ("role",), "aws:lambda/": ("function",), "aws:s3/": ("bucket", "object"), "aws:scheduler/": ("schedule",),
    "aws:sns/": ("topic",), "aws:sqs/": ("queue",), "docker-build:": ("repository",), "tool:": ("function", "repository"),
}
"""For an action that authorises against several resource types (a service's TagResource), the one a
resource type of the program acts on."""
BOUNDED_ROLE_WRITES = frozenset({
    "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRoleDescription",
    "iam:PutRolePermissionsBoundary", "iam:DeleteRole",
})
"""Role writes allowed only with `iam:PermissionsBoundary` equal to the stack's boundary (each supports the key)."""
DATA_DESTROYING = frozenset({
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration",
    "dynamodb:DeleteTable", "dynamodb:UpdateContinuousBackups", "logs:DeleteLogGroup", "sqs:DeleteQueue",
})
"""What can destroy data or the means to recover it: withheld, and denied, in a protected stack."""
PASSED_TO = ("lambda.amazonaws.com", "scheduler.amazonaws.com")
INVOKING_SERVICES = ("s3.amazonaws.com",)
"""Principals a function's resource policy may name (the price feed's bucket notification)."""
BOOTSTRAP_WRITES = (
    "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:TagPolicy",
    "iam:UntagPolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRole",
    "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:TagRole", "iam:UntagRole",
)


def granted_actions(declared: Iterable[str], run_tools: tuple[str, ...] = ALWAYS) -> dict[str, set[str]]:
    """Resource type (or tool) → the actions granted for it (its calls, but `not_granted`)."""
    table = provider_calls()
    missing = sorted(set(declared) - set(table))
    if missing:
        raise KeyError(f"no provider calls listed for {', '.join(missing)}: add them to tools/identities/provider_calls.yaml")
    return {type_: set(table[type_].actions()) for type_ in (*sorted(set(declared)), *run_tools)}


def resource_type_for(type_: str, name: str) -> str:
    """The IAM resource type `name` authorises against when the program manages `type_`."""
    types = action(name).resource_types
    own = next((value for prefix, value in OWN_RESOURCE_TYPES.items() if type_.startswith(prefix)), ())
    matching = [t for t in types if t in own] or list(types)
    if len(matching) > 1:
        raise KeyError(f"{name} authorises against {', '.join(types)}: say which one {type_} acts on (OWN_RESOURCE_TYPES)")
    return matching[0]


def statements(target: Target, declared: Iterable[str]) -> list[Statement]:
    """Deny statements first, then one Allow per scope and condition."""
    delivery = target.settings.delivery
    withheld = DATA_DESTROYING if target.settings.protect and not delivery.break_glass_data_changes else frozenset()
    grouped: dict[tuple[str, tuple[str, ...], str], set[str]] = {}
    for type_, actions in granted_actions(declared, tools(target.settings)).items():
        for name in sorted(actions - withheld):
            sid, resources, condition = _scope(target, type_, name)
            grouped.setdefault((sid, resources, json.dumps(condition, sort_keys=True)), set()).add(name)
    allows = [
        Statement(sid, tuple(sorted(names)), resources, json.loads(condition))
        for (sid, resources, condition), names in sorted(grouped.items())
    ]
    if len({s.sid for s in allows}) != len(allows):
        raise ValueError(f"two statements share an id: {sorted(s.sid for s in allows)}")
    return _denies(target, withheld) + allows


LABELS = {
    "ScalableTarget": "ScalingTargets", "dashboard": "Dashboard", "alarm": "Alarms", "log-group": "LogGroups", "table": "Table",
    "repository": "Repositories", "role": "StackRoles", "function": "Functions", "bucket": "Buckets", "object": "BucketObjects",
    "schedule": "Schedules", "topic": "AlarmTopic", "queue": "DeadLetterQueues", "rule-on-default-event-bus": "EventRules",
}
"""Statement ids by the IAM resource type they grant on."""


def _scope(target: Target, type_: str, name: str) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """The statement id, ARNs and condition one action is allowed with when the program manages `type_`."""
    if name == "iam:PassRole":
        return "PassStackRolesToLambdaAndScheduler", target.scope("role"), {"StringEquals": {"iam:PassedToService": list(PASSED_TO)}}
    if name == "iam:CreateServiceLinkedRole":
        service, arn = target.service_linked_role(type_)
        sid = "".join(part.title() for part in service.split(".")[0].split("-"))
        return f"{sid}ServiceLinkedRole", (arn,), {"StringEquals": {"iam:AWSServiceName": service}}
    if name == "kms:RetireGrant":
        # ECR retires its grant on the AWS-managed aws/ecr key when an encrypted repository is deleted,
        # in the deleting principal's name (ECR User Guide, encryption at rest).
        return "RetireEcrKeyGrants", (target.arn("kms", "key/*"),), {"StringEquals": {"kms:ViaService": f"ecr.{target.region}.amazonaws.com"}}
    if name == "lambda:AddPermission":
        # A function's resource policy may name only the services the program grants (S3, for the price
        # feed): never `*`, never another account.
        return "FunctionsInvokedByTheirServices", target.scope("function"), {"StringEquals": {"lambda:Principal": list(INVOKING_SERVICES)}}
    if type_ == "aws:s3/getBucket:getBucket":
        return "LookUpTheLegacyBucket", (target.legacy_bucket_arn,), {}
    if type_ in ON_THE_SOURCE:
        if resource_type_for(type_, name) != "repository":
            raise KeyError(f"{type_}: {name} does not act on a repository, so the source's repositories cannot scope it")
        return "SourceRepositories", target.source_repositories, {}
    resource_type = resource_type_for(type_, name)
    if resource_type == "*":
        if name not in ANY_RESOURCE_ALLOWED:
            raise KeyError(f"{name} supports no resource scope and is not in ANY_RESOURCE_ALLOWED (tools/identities/policy.py)")
        return "NoResourceScopeExists", ("*",), {}
    label = LABELS[resource_type]
    if name in BOUNDED_ROLE_WRITES:
        return f"{label}OnlyWithTheBoundary", target.scope(resource_type), {"StringEquals": {"iam:PermissionsBoundary": target.boundary_arn}}
    if "application-autoscaling:service-namespace" in action(name).condition_keys:
        return f"{label}OfLambda", target.scope(resource_type), {"StringEquals": {"application-autoscaling:service-namespace": "lambda"}}
    return label, target.scope(resource_type), {}


def _denies(target: Target, withheld: frozenset[str]) -> list[Statement]:
    account, partition = target.account, target.partition
    bootstrap = (f"arn:{partition}:iam::{account}:role{identities.BOOTSTRAP_PATH}*", f"arn:{partition}:iam::{account}:policy{identities.BOOTSTRAP_PATH}*")
    denies = [
        Statement("DenyWritesToBootstrapIdentities", BOOTSTRAP_WRITES, bootstrap, effect="Deny"),
        Statement("DenyRemovingAnyBoundary", ("iam:DeleteRolePermissionsBoundary",), ("*",), effect="Deny"),
        Statement(
            "DenyRolesWithoutTheStacksBoundary", ("iam:CreateRole", "iam:PutRolePermissionsBoundary"), ("*",),
            {"StringNotEquals": {"iam:PermissionsBoundary": target.boundary_arn}}, effect="Deny",
        ),
    ]
    # The deployer may write the buckets' policies, so it is denied the object data a bucket policy
    # could grant it: an identity policy's explicit Deny overrides a resource policy's Allow.
    denies.append(Statement("DenyReadingOrWritingStackData", ("s3:GetObject", "s3:PutObject"), target.scope("object"), effect="Deny"))
    if withheld:
        data = (*target.scope("bucket"), *target.scope("object"), *target.scope("table"), *target.scope("log-group"), *target.scope("queue"))
        denies.append(Statement("DenyDataDestructionWithoutBreakGlass", tuple(sorted(withheld)), data, effect="Deny"))
    return denies


def documents(target: Target, declared: Iterable[str]) -> list[dict[str, Any]]:
    """The managed policies to attach to the stack's deploy role, each within IAM's size limit."""
    return split(statements(target, declared))
