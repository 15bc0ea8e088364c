"""The policy pack: each rule fires on its violating case only, and both stacks pass the whole pack."""

from __future__ import annotations

import json

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs, StackValidationPolicy
from pulumi_policy.policy import PolicyCustomTimeouts

from policy.rules import POLICIES

BY_NAME = {policy.name: policy for policy in POLICIES}
DIGEST = "sha256:" + "ab" * 32
URI = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/dev/predictor@{DIGEST}"
ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:cf-dev-corn:live"


def _options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def resource_violations(policy_name: str, type_: str, props: dict, config: dict | None = None, *, stack: str = "test", protect: bool = False) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(type_, props, f"urn:pulumi:{stack}::p::{type_}::r", "r", _options(protect), None, config)
    BY_NAME[policy_name].validate(args, lambda message, urn=None: found.append(message))
    return found


def stack_violations(policy_name: str, resources: list[tuple[str, dict]]) -> list[str]:
    found: list[str] = []
    policy_resources = [
        PolicyResource(type_, props, f"urn:pulumi:test::p::{type_}::r{i}", f"r{i}", _options(), None, None, [], {})
        for i, (type_, props) in enumerate(resources)
    ]
    BY_NAME[policy_name].validate(StackValidationArgs(policy_resources), lambda message, urn=None: found.append(message))
    return found


def test_the_pack_has_at_least_twelve_rules_all_mandatory_by_default():
    assert len(POLICIES) >= 12
    assert len(BY_NAME) == len(POLICIES), "rule names must be unique"
    assert all(policy.enforcement_level is None for policy in POLICIES), "rules inherit the pack's MANDATORY level"


REPO_OK = {"name": "r", "imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
           "encryptionConfigurations": [{"encryptionType": "KMS"}]}
FUNCTION_OK = {"name": "cf-dev-corn", "packageType": "Image", "imageUri": URI, "architectures": ["arm64"],
               "tracingConfig": {"mode": "Active"}, "description": "corn predictor",
               "environment": {"variables": {"DATA_BUCKET": "data", "PREDICTIONS_TABLE": "t"}}}

BUILD_OK = {"platforms": ["linux/arm64"], "buildArgs": {"BASE_IMAGE": "public.ecr.aws/lambda/python:3.12@" + DIGEST}}

RESOURCE_CASES = [
    ("image-base-pinned", "docker-build:index:Image", BUILD_OK, {**BUILD_OK, "buildArgs": {"BASE_IMAGE": "public.ecr.aws/lambda/python:3.12"}}),
    ("image-base-pinned", "docker-build:index:Image", BUILD_OK, {**BUILD_OK, "buildArgs": {}}),
    ("image-base-pinned", "docker-build:index:Image", BUILD_OK,
     {**BUILD_OK, "buildArgs": {**BUILD_OK["buildArgs"], "DEPS_IMAGE": "public.ecr.aws/lambda/python:latest"}}),
    ("ecr-scan-on-push", "aws:ecr/repository:Repository", REPO_OK, {**REPO_OK, "imageScanningConfiguration": {"scanOnPush": False}}),
    ("ecr-immutable-tags", "aws:ecr/repository:Repository", REPO_OK, {**REPO_OK, "imageTagMutability": "MUTABLE"}),
    ("ecr-kms-encryption", "aws:ecr/repository:Repository", REPO_OK, {**REPO_OK, "encryptionConfigurations": [{"encryptionType": "AES256"}]}),
    ("lambda-image-by-digest", "aws:lambda/function:Function", FUNCTION_OK, {**FUNCTION_OK, "imageUri": URI.split("@")[0] + ":latest"}),
    ("lambda-tracing-active", "aws:lambda/function:Function", FUNCTION_OK, {**FUNCTION_OK, "tracingConfig": {"mode": "PassThrough"}}),
    ("lambda-description", "aws:lambda/function:Function", FUNCTION_OK, {**FUNCTION_OK, "description": "  "}),
    ("log-group-retention", "aws:cloudwatch/logGroup:LogGroup", {"name": "/aws/lambda/x", "retentionInDays": 14}, {"name": "/aws/lambda/x"}),
    ("iam-no-wildcard-actions", "aws:iam/rolePolicy:RolePolicy",
     {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]},
                                          {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})},
     {"policy": json.dumps({"Statement": [{"Sid": "Broad", "Effect": "Allow", "Action": ["s3:Get*"], "Resource": ["arn:aws:s3:::b/*"]}]})}),
    ("iam-no-wildcard-actions", "aws:iam/role:Role",
     {"inlinePolicies": [{"policy": json.dumps({"Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:q"}})}]},
     {"inlinePolicies": [{"policy": json.dumps({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})}]}),
    ("lambda-no-plaintext-secrets", "aws:lambda/function:Function", FUNCTION_OK,
     {**FUNCTION_OK, "environment": {"variables": {"DB_PASSWORD": "hunter2"}}}),
    ("lambda-no-plaintext-secrets", "aws:lambda/function:Function", FUNCTION_OK,
     {**FUNCTION_OK, "environment": {"variables": {"UPSTREAM": "AKIAIOSFODNN7EXAMPLE"}}}),
    ("function-url-iam-auth", "aws:lambda/functionUrl:FunctionUrl", {"authorizationType": "AWS_IAM"}, {"authorizationType": "NONE"}),
    ("schedule-targets-alias", "aws:scheduler/schedule:Schedule", {"target": {"arn": ALIAS}},
     {"target": {"arn": ALIAS.removesuffix(":live")}}),
    ("schedule-targets-alias", "aws:cloudwatch/eventTarget:EventTarget", {"arn": ALIAS}, {"arn": ALIAS.replace(":live", ":$LATEST")}),
    ("lambda-permission-not-public", "aws:lambda/permission:Permission",
     {"principal": "s3.amazonaws.com", "sourceArn": "arn:aws:s3:::b"}, {"principal": "*"}),
    ("no-managed-policy-on-stack-roles", "aws:iam/role:Role", {"name": "r"}, {"name": "r", "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
    ("no-managed-policy-on-stack-roles", "aws:iam/role:Role", {"name": "r"}, None),
]


@pytest.mark.parametrize("policy_name, type_, compliant, violating", RESOURCE_CASES, ids=[c[0] for c in RESOURCE_CASES])
def test_resource_rule_fires_only_on_the_violating_resource(policy_name, type_, compliant, violating):
    assert resource_violations(policy_name, type_, compliant) == [], f"{policy_name} must accept the compliant resource"
    if violating is None:  # the violation is another resource type: an attachment of a managed policy
        violating, type_ = {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    assert resource_violations(policy_name, type_, violating), f"{policy_name} must refuse the violating resource"


@pytest.mark.parametrize("type_", ["aws:s3/bucket:Bucket", "aws:s3/bucketVersioning:BucketVersioning", "aws:dynamodb/table:Table", "aws:cloudwatch/logGroup:LogGroup"])
def test_stateful_resources_must_be_protected_in_prod_only(type_):
    assert resource_violations("stateful-resources-protected", type_, {}, stack="prod", protect=False), "prod refuses it unprotected"
    assert resource_violations("stateful-resources-protected", type_, {}, stack="prod", protect=True) == []
    assert resource_violations("stateful-resources-protected", type_, {}, stack="dev", protect=False) == [], "dev may delete its data"
    assert resource_violations("stateful-resources-protected", "aws:sqs/queue:Queue", {}, stack="prod") == []


def test_resource_rules_ignore_other_types():
    for policy in POLICIES:
        if not isinstance(policy, StackValidationPolicy):
            assert resource_violations(policy.name, "aws:s3/bucket:Bucket", {"bucket": "b"}) == []


def test_secret_rule_exception_is_configurable():
    props = {**FUNCTION_OK, "environment": {"variables": {"TOKEN_BUCKET_RATE": "10"}}}
    assert resource_violations("lambda-no-plaintext-secrets", "aws:lambda/function:Function", props)
    assert resource_violations("lambda-no-plaintext-secrets", "aws:lambda/function:Function", props,
                               config={"allowedNames": ["TOKEN_BUCKET_RATE"]}) == []


BUILD = ("docker-build:index:Image", {"digest": DIGEST, "platforms": ["linux/arm64"]})
INVOKE = ("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
          {"functionName": "cf-dev-corn", "qualifier": "live", "destinationConfig": {"onFailure": {"destination": "arn:aws:sqs:us-east-1:1:dlq"}}})
SCHEDULE = ("aws:scheduler/schedule:Schedule", {"target": {"arn": ALIAS, "deadLetterConfig": {"arn": "arn:aws:sqs:us-east-1:1:sdlq"}}})
ERRORS_ALARM = ("aws:cloudwatch/metricAlarm:MetricAlarm", {"namespace": "AWS/Lambda", "metricName": "Errors",
                                                             "dimensions": {"FunctionName": "cf-dev-corn"}, "alarmActions": ["arn:aws:sns:t"]})
FUNCTION = ("aws:lambda/function:Function", FUNCTION_OK)

STACK_CASES = [
    ("ecr-lifecycle-policy",
     [("aws:ecr/repository:Repository", REPO_OK), ("aws:ecr/lifecyclePolicy:LifecyclePolicy", {"repository": "r"})],
     [("aws:ecr/repository:Repository", REPO_OK), ("aws:ecr/lifecyclePolicy:LifecyclePolicy", {"repository": "other"})]),
    ("lambda-architecture-matches-image",
     [BUILD, FUNCTION],
     [BUILD, ("aws:lambda/function:Function", {**FUNCTION_OK, "architectures": ["x86_64"]})]),
    ("async-functions-have-dlq",
     [FUNCTION, INVOKE, SCHEDULE],
     [FUNCTION, SCHEDULE]),
    ("async-functions-have-dlq",
     [FUNCTION, INVOKE, SCHEDULE],
     [FUNCTION, INVOKE, ("aws:scheduler/schedule:Schedule", {"target": {"arn": ALIAS}})]),
    ("function-errors-alarm",
     [FUNCTION, ERRORS_ALARM],
     [FUNCTION, ("aws:cloudwatch/metricAlarm:MetricAlarm", {**ERRORS_ALARM[1], "metricName": "Throttles"})]),
]


@pytest.mark.parametrize("policy_name, compliant, violating", STACK_CASES, ids=[c[0] for c in STACK_CASES])
def test_stack_rule_fires_only_on_the_violating_stack(policy_name, compliant, violating):
    assert stack_violations(policy_name, compliant) == [], f"{policy_name} must accept the compliant stack"
    assert stack_violations(policy_name, violating), f"{policy_name} must refuse the violating stack"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_stacks_pass_every_policy(stack, request):
    graph = request.getfixturevalue(f"{stack}_graph")
    custom = [r for r in graph.resources if r.custom]
    functions = [r for r in custom if r.type == "aws:lambda/function:Function"]
    if stack == "dev":
        digests = {r.state["digest"] for r in custom if r.type == "docker-build:index:Image"}
        why = "every function's image is built in the stack, so the architecture rule really compares them"
    else:
        # prod builds nothing, so the architecture rule has no build to compare with: the settings refuse a digest
        # of another architecture before anything is planned (tests/test_promotion.py).
        digests = {image["digest"] for image in graph.outputs["release"]["images"]}
        why = "every function runs a digest of dev's release record"
    assert functions and all(f.state["imageUri"].rpartition("@")[2] in digests for f in functions), why
    failures = []
    for policy in POLICIES:
        if isinstance(policy, StackValidationPolicy):
            failures += [f"{policy.name}: {m}" for m in stack_violations(policy.name, [(r.type, r.state) for r in custom])]
        else:
            for resource in custom:
                failures += [f"{policy.name} on {resource.name}: {m}"
                             for m in resource_violations(policy.name, resource.type, resource.inputs, stack=stack, protect=resource.protect)]
    assert failures == []


def test_every_rule_has_a_compliant_and_a_violating_case():
    # stateful-resources-protected depends on the stack and the protect option: its cases are above.
    covered = {case[0] for case in RESOURCE_CASES} | {case[0] for case in STACK_CASES} | {"stateful-resources-protected"}
    assert covered == set(BY_NAME), f"rules without cases: {sorted(set(BY_NAME) - covered)}"
