"""Policy rules for commodity-forecasts stacks.

Resource rules see one resource's inputs; stack rules see every resource's outputs and check
relationships (an image's platform against its function's architecture, an Errors alarm per
function, a dead-letter destination per scheduled function). Property names are the engine's
(camelCase), as `pulumi preview --policy-pack policy` passes them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
FUNCTION = "aws:lambda/function:Function"
IMAGE_BUILD = "docker-build:index:Image"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
SCHEDULE = "aws:scheduler/schedule:Schedule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
IAM_POLICY_TYPES = {
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:iam/role:Role": ("inlinePolicies",),
}
PLATFORM_OF = {"arm64": "linux/arm64", "x86_64": "linux/amd64"}
SECRET_NAME = re.compile(r"(SECRET|PASSW(OR)?D|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)", re.IGNORECASE)
SECRET_VALUES = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    ("a password in a URL", re.compile(r"://[^/\s:@]+:[^/\s@]+@")),
)
_PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9.-]*(?::\d+)?/[a-z0-9._/-]+(?::[A-Za-z0-9_.-]{1,128})?@sha256:[0-9a-f]{64}$")
"""An image reference pinned by digest (`repository[:tag]@sha256:<64 hex>`)."""
_LAMBDA_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?$")


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


# --- ECR -------------------------------------------------------------------------------------

def _ecr_scan_on_push(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == REPOSITORY and not (args.props.get("imageScanningConfiguration") or {}).get("scanOnPush"):
        report("ECR repositories must scan images on push (imageScanningConfiguration.scanOnPush = true).", None)


def _ecr_immutable_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REPOSITORY:
        return
    mutability = args.props.get("imageTagMutability", "MUTABLE")
    if mutability not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        report(f"ECR image tags must be immutable (IMMUTABLE or IMMUTABLE_WITH_EXCLUSION), got {mutability}.", None)


def _ecr_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REPOSITORY:
        return
    configurations = args.props.get("encryptionConfigurations") or []
    if not any(c.get("encryptionType") == "KMS" for c in configurations):
        report("ECR repositories must be encrypted with KMS (encryptionConfigurations[].encryptionType = KMS).", None)


def _ecr_lifecycle(args: StackValidationArgs, report: ReportViolation) -> None:
    covered = {r.props.get("repository") for r in args.resources if r.resource_type == LIFECYCLE}
    for repository in _of_type(args.resources, REPOSITORY):
        if repository.props.get("name") not in covered:
            report(f"ECR repository {repository.props.get('name')} has no lifecycle policy; it would grow forever.", repository.urn)


def _image_base_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != IMAGE_BUILD:
        return
    build_args = args.props.get("buildArgs") or {}
    if "BASE_IMAGE" not in build_args:
        report("Image builds must pass the base image as the BASE_IMAGE build argument, pinned by digest "
               "(images/base-image.txt); without it a Dockerfile falls back to what it names itself.", None)
    for name, value in sorted(build_args.items()):
        if name.endswith("_IMAGE") and isinstance(value, str) and not _PINNED_IMAGE.match(value):
            report(f"Build argument {name}={value!r} is not pinned by digest (repository:tag@sha256:<digest>); "
                   "a moving tag builds on whatever it means that day.", None)


# --- Lambda ----------------------------------------------------------------------------------

def _lambda_image_digest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != FUNCTION or args.props.get("packageType") != "Image":
        return
    uri = args.props.get("imageUri") or ""
    if not re.search(r"@sha256:[0-9a-f]{64}$", uri):
        report(f"Container functions must reference their image by digest (repo@sha256:...), got {uri!r}.", None)


def _lambda_architecture_matches_image(args: StackValidationArgs, report: ReportViolation) -> None:
    platforms = {}
    for build in _of_type(args.resources, IMAGE_BUILD):
        if build.props.get("digest"):
            platforms[build.props["digest"]] = list(build.props.get("platforms") or [])
    for function in _of_type(args.resources, FUNCTION):
        if function.props.get("packageType") != "Image":
            continue
        digest = (function.props.get("imageUri") or "").rpartition("@")[2]
        if digest not in platforms:
            continue
        architecture = (function.props.get("architectures") or ["x86_64"])[0]
        if platforms[digest] != [PLATFORM_OF[architecture]]:
            report(
                f"Function {function.props.get('name')} runs on {architecture} but its image was built for "
                f"{', '.join(platforms[digest]) or 'no platform'}; it needs exactly {PLATFORM_OF[architecture]}.",
                function.urn,
            )


def _lambda_tracing(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == FUNCTION and (args.props.get("tracingConfig") or {}).get("mode") != "Active":
        report("Lambda functions must have X-Ray tracing Active (tracingConfig.mode = Active).", None)


def _lambda_description(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == FUNCTION and not (args.props.get("description") or "").strip():
        report("Lambda functions must have a description saying what they do.", None)


def _lambda_no_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != FUNCTION:
        return
    allowed = set(args.get_config().get("allowedNames", []))
    variables = ((args.props.get("environment") or {}).get("variables")) or {}
    for name, value in variables.items():
        if name in allowed:
            continue
        if SECRET_NAME.search(name):
            report(f"Environment variable {name} looks like a secret; read it from a config secret or SSM at run time.", None)
        for what, pattern in SECRET_VALUES:
            if isinstance(value, str) and pattern.search(value):
                report(f"Environment variable {name} holds what looks like {what}; never put secrets in plain environment variables.", None)


def _function_url_auth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == FUNCTION_URL and args.props.get("authorizationType") != "AWS_IAM":
        report(f"Function URLs must use AWS_IAM authorization, got {args.props.get('authorizationType')!r} (NONE makes it public).", None)


# --- Logs, IAM, schedules -------------------------------------------------------------------

def _log_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == LOG_GROUP and not args.props.get("retentionInDays"):
        report("Log groups must set retentionInDays; the default keeps logs (and their cost) forever.", None)


def _statements(document: Any) -> Iterable[Mapping[str, Any]]:
    document = _json(document)
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else statements


def _iam_no_wildcard_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    fields = IAM_POLICY_TYPES.get(args.resource_type)
    if not fields:
        return
    documents = []
    for field in fields:
        value = args.props.get(field)
        if field == "inlinePolicies":
            documents += [p.get("policy") for p in value or []]
        else:
            documents.append(value)
    for document in documents:
        for statement in _statements(document):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            wildcard = [action for action in actions if "*" in action]
            if wildcard or "NotAction" in statement:
                report(
                    f"IAM statement {statement.get('Sid', '(no Sid)')} allows {', '.join(wildcard) or 'NotAction'}; "
                    "name each action instead of using a wildcard.",
                    None,
                )


def _lambda_target_problem(arn: Any) -> str | None:
    if not isinstance(arn, str):
        return None
    match = _LAMBDA_ARN.match(arn)
    if not match:
        return None
    qualifier = match.group(2)
    if qualifier is None:
        return f"targets the unqualified function {match.group(1)} (that is $LATEST); target an alias such as :live"
    if qualifier == "$LATEST":
        return f"targets {match.group(1)}:$LATEST; target an alias such as :live"
    return None


def _targets_qualified(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == SCHEDULE:
        arn = (args.props.get("target") or {}).get("arn")
    elif args.resource_type == EVENT_TARGET:
        arn = args.props.get("arn")
    else:
        return
    problem = _lambda_target_problem(arn)
    if problem:
        report(f"This schedule {problem}.", None)


def _scheduled_functions_have_dlq(args: StackValidationArgs, report: ReportViolation) -> None:
    destinations = {}
    for config in _of_type(args.resources, INVOKE_CONFIG):
        destination = ((config.props.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
        destinations[config.props.get("functionName")] = destination
    functions = {f.props.get("name"): f for f in _of_type(args.resources, FUNCTION)}
    for schedule in [*_of_type(args.resources, SCHEDULE), *_of_type(args.resources, EVENT_TARGET)]:
        target = (schedule.props.get("target") or {}) if schedule.resource_type == SCHEDULE else schedule.props
        match = _LAMBDA_ARN.match(target.get("arn") or "")
        if not match:
            continue
        if schedule.resource_type == SCHEDULE and not (target.get("deadLetterConfig") or {}).get("arn"):
            report("A schedule invoking a Lambda function must have a dead-letter queue (target.deadLetterConfig).", schedule.urn)
        name = match.group(1)
        function = functions.get(name)
        has_dlq = bool(destinations.get(name)) or bool(((function.props.get("deadLetterConfig") or {}) if function else {}).get("targetArn"))
        if not has_dlq:
            report(
                f"Function {name} is invoked asynchronously by a schedule but failed runs have nowhere to go; "
                "give it an on-failure destination (FunctionEventInvokeConfig) or a dead-letter queue.",
                function.urn if function else schedule.urn,
            )
    for name, destination in destinations.items():
        if not destination and name in functions:
            report(f"Function {name} has an async invoke config without an on-failure destination.", functions[name].urn)


def _functions_have_errors_alarm(args: StackValidationArgs, report: ReportViolation) -> None:
    watched = {
        (alarm.props.get("dimensions") or {}).get("FunctionName")
        for alarm in _of_type(args.resources, ALARM)
        if alarm.props.get("namespace") == "AWS/Lambda" and alarm.props.get("metricName") == "Errors"
        and (alarm.props.get("alarmActions") or [])
    }
    for function in _of_type(args.resources, FUNCTION):
        if function.props.get("name") not in watched:
            report(f"Function {function.props.get('name')} has no Errors alarm with an action; its failures would go unseen.", function.urn)


# --- Guardrails of the delivery identities (docs/guardrails.md) --------------------------------

PERMISSION = "aws:lambda/permission:Permission"
MANAGED_ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment")
STATEFUL_PREFIXES = ("aws:s3/bucket", "aws:dynamodb/table:", "aws:cloudwatch/logGroup:")
"""Buckets and every configuration of theirs, tables, log groups: what a deletion would lose."""


def _no_public_permission(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == PERMISSION and args.props.get("principal") == "*":
        report("A Lambda permission for principal '*' lets anyone invoke the function; name the service or account "
               "and condition it on the source (sourceArn, sourceAccount).", None)


def _no_managed_policy_attachment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in MANAGED_ATTACHMENTS:
        report("Stack roles carry only their own inline policy of exact ARNs; a managed policy attached to them "
               "(often broad, and changed by someone else) is refused.", None)
    elif args.resource_type == "aws:iam/role:Role" and args.props.get("managedPolicyArns"):
        report("Stack roles carry only their own inline policy of exact ARNs, not managedPolicyArns.", None)


def _stack_name(urn: str) -> str:
    return urn.split(":", 3)[2].split("::", 1)[0] if urn.startswith("urn:pulumi:") else ""


def _stateful_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    protected_stacks = args.get_config().get("protectedStacks", ["prod"])
    if args.resource_type.startswith(STATEFUL_PREFIXES) and _stack_name(args.urn) in protected_stacks and not args.opts.protect:
        report(f"{args.resource_type} holds data or protects it; in stack {_stack_name(args.urn)} it must be protected "
               "(protect: true), so that removing it from the program cannot delete it.", None)


def _of_type(resources, type_):
    return [r for r in resources if r.resource_type == type_]


def _resource(name: str, description: str, validate) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(name=name, description=description, validate=validate)


def _stack(name: str, description: str, validate) -> StackValidationPolicy:
    return StackValidationPolicy(name=name, description=description, validate=validate)


POLICIES = [
    _resource("ecr-scan-on-push", "ECR repositories scan every pushed image.", _ecr_scan_on_push),
    _resource("ecr-immutable-tags", "ECR image tags are immutable.", _ecr_immutable_tags),
    _resource("ecr-kms-encryption", "ECR repositories are encrypted with KMS.", _ecr_encrypted),
    _stack("ecr-lifecycle-policy", "Every ECR repository has a lifecycle policy.", _ecr_lifecycle),
    _resource("image-base-pinned", "Image builds take their base image as a BASE_IMAGE build argument pinned by digest.",
              _image_base_pinned),
    _resource("lambda-image-by-digest", "Container functions reference their image by digest.", _lambda_image_digest),
    _stack("lambda-architecture-matches-image", "A function's architecture matches its image's single platform.",
           _lambda_architecture_matches_image),
    _resource("lambda-tracing-active", "Lambda functions have X-Ray tracing Active.", _lambda_tracing),
    _resource("lambda-description", "Lambda functions have a description.", _lambda_description),
    _resource("log-group-retention", "Every log group has a retention period.", _log_retention),
    _stack("async-functions-have-dlq", "Scheduled or asynchronously invoked functions have an on-failure destination.",
           _scheduled_functions_have_dlq),
    _resource("iam-no-wildcard-actions", "No IAM Allow statement uses a wildcard action.", _iam_no_wildcard_actions),
    ResourceValidationPolicy(
        name="lambda-no-plaintext-secrets",
        description="No secret-looking environment variable names or values; use config secrets or SSM.",
        validate=_lambda_no_secrets,
        config_schema=PolicyConfigSchema(properties={
            "allowedNames": {"type": "array", "items": {"type": "string"},
                             "description": "Variable names reviewed and allowed despite the name check."},
        }),
    ),
    _resource("function-url-iam-auth", "Function URLs are never public (auth type AWS_IAM).", _function_url_auth),
    _resource("schedule-targets-alias", "Schedules and event targets invoke an alias, never $LATEST or an unqualified function.",
              _targets_qualified),
    _stack("function-errors-alarm", "Every function has an Errors alarm with an action.", _functions_have_errors_alarm),
    _resource("lambda-permission-not-public", "No Lambda permission is granted to principal '*'.", _no_public_permission),
    _resource("no-managed-policy-on-stack-roles", "No managed policy is attached to a stack role.", _no_managed_policy_attachment),
    ResourceValidationPolicy(
        name="stateful-resources-protected",
        description="In protected stacks, buckets (and their configuration), tables and log groups carry protect.",
        validate=_stateful_protected,
        config_schema=PolicyConfigSchema(properties={
            "protectedStacks": {"type": "array", "items": {"type": "string"}, "description": "Stacks whose state must be protected."},
        }),
    ),
]
