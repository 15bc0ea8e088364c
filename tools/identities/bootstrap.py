"""The one-time bootstrap, as a CloudFormation template an administrator deploys outside every stack
(the way `cdk bootstrap` does): GitHub's OIDC provider (optional: one per account), a state bucket, and
per environment a state-secrets key, the alarm topic's key, the permissions boundary, the deploy role
and its managed policies; and the one preview role. Everything lives under the bootstrap's path, which
no identity it creates may write.

Names are the ones stack_config/identities.py and tools/identities/state.py give them; ARNs take the
account from `${AWS::AccountId}` (each string holding it becomes a `Fn::Sub`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from components.monitoring import alarm_topic_key_policy
from stack_config import Settings, identities
from tools.identities import boundary, deployer, preview, state, trust
from tools.identities.policy import document
from tools.identities.scopes import Target

ACCOUNT = "${AWS::AccountId}"
PROVIDER = "GitHubOidcProvider"
MAX_SESSION_SECONDS = 7200
"""The deploy job's credentials must outlive it (timeout-minutes 90, role-duration-seconds 5400)."""


@dataclass(frozen=True)
class Stack:
    """One stack to bootstrap: its settings, and the resource types and data sources its program declares."""

    settings: Settings
    declared: frozenset[str]
    invokes: frozenset[str]

    @property
    def target(self) -> Target:
        return Target(self.settings, ACCOUNT)


def _logical(prefix: str, environment: str, suffix: str = "") -> str:
    return prefix + "".join(part.title() for part in re.split(r"[^A-Za-z0-9]", environment)) + suffix


def _subbed(value: Any) -> Any:
    """Strings that name the account become `Fn::Sub`; `{"Ref"|"Fn::GetAtt": …}` stay as they are."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if "${AWS::" in value else value
    if isinstance(value, list):
        return [_subbed(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Sub"):
            return value
        if len(value) == 1 and "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return {"Fn::If": [condition, _subbed(when_true), _subbed(when_false)]}
        return {key: _subbed(item) for key, item in value.items()}
    return value


def _key(description: str, key_policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": {"Description": description, "EnableKeyRotation": True, "PendingWindowInDays": 30, "KeyPolicy": key_policy},
    }


def _state_key_policy() -> dict[str, Any]:
    """The account administers the key through IAM; the roles' own policies say who may decrypt."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "AccountAdministersThroughIam", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
                   "kms:GetKeyRotationStatus", "kms:PutKeyPolicy", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
                   "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
    }]}


def _state_bucket(stacks: list[Stack]) -> dict[str, Any]:
    target = stacks[0].target
    name = state.bucket(target)
    arn = state.bucket_arn(target)
    return {
        "StateBucket": {
            "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": name,
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            },
        },
        "StateBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"Bucket": {"Ref": "StateBucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }]}},
        },
    }


def _managed_policy(name: str, path: str, policy: dict[str, Any], depends: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": name, "Path": path, "PolicyDocument": policy}}
    if depends:
        body["DependsOn"] = depends
    return body


def _environment(stack: Stack, repository: str) -> dict[str, Any]:
    """The environment's keys, boundary, deploy policies and deploy role."""
    s, target, env = stack.settings, stack.target, stack.settings.environment
    project, path = s.project, identities.BOOTSTRAP_PATH
    state_key, alarm_key = _logical("StateKey", env), _logical("AlarmKey", env)
    resources: dict[str, Any] = {
        state_key: _key(f"{s.name_prefix} Pulumi state secrets", _state_key_policy()),
        _logical("StateKey", env, "Alias"): {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": state.key_alias(target), "TargetKeyId": {"Ref": state_key}}},
        alarm_key: _key(f"{s.name_prefix} alarm topic", alarm_topic_key_policy(ACCOUNT, findings=True)),
        _logical("AlarmKey", env, "Alias"): {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": identities.alarm_key_alias(project, env), "TargetKeyId": {"Ref": alarm_key}}},
        _logical("Boundary", env): _managed_policy(identities.boundary_name(project, env), path, boundary.policy(target)),
    }
    policies = deployer.documents(target, stack.declared)
    names = []
    for index, policy in enumerate(policies, start=1):
        names.append(_logical("DeployPolicy", env, str(index)))
        resources[names[-1]] = _managed_policy(f"{s.name_prefix}-deploy-{index}", path, policy)
    names.append(_logical("DeployPolicy", env, "State"))
    key_arn = {"Fn::GetAtt": [state_key, "Arn"]}
    resources[names[-1]] = _managed_policy(f"{s.name_prefix}-deploy-state", path, document(state.deploy_statements(target, key_arn)))
    resources[_logical("DeployRole", env)] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": identities.deploy_role_name(project, env), "Path": path, "MaxSessionDuration": MAX_SESSION_SECONDS,
            "Description": f"Deploys {s.name_prefix} from the GitHub environment {env} of {repository}",
            "AssumeRolePolicyDocument": trust.policy({"Fn::If": ["CreateProvider", {"Fn::GetAtt": [PROVIDER, "Arn"]}, f"arn:aws:iam::{ACCOUNT}:oidc-provider/{trust.ISSUER}"]},
                                                     trust.environment_subject(repository, env)),
            "ManagedPolicyArns": [{"Ref": name} for name in names],
        },
    }
    return resources


def template(stacks: Iterable[Stack], repository: str) -> dict[str, Any]:
    stacks = sorted(stacks, key=lambda stack: stack.settings.environment)
    if not stacks:
        raise ValueError("name at least one stack to bootstrap")
    regions = {stack.settings.region for stack in stacks}
    if len(regions) > 1:
        raise ValueError(f"stacks of one bootstrap share its region (the state bucket's); got {', '.join(sorted(regions))}")
    trust.check_repository(repository)
    resources: dict[str, Any] = {
        PROVIDER: {"Type": "AWS::IAM::OIDCProvider", "Condition": "CreateProvider", "Properties": {
            "Url": f"https://{trust.ISSUER}", "ClientIdList": [trust.AUDIENCE]}},
        **_state_bucket(stacks),
    }
    for stack in stacks:
        resources.update(_environment(stack, repository))
    key_arns = [{"Fn::GetAtt": [_logical("StateKey", stack.settings.environment), "Arn"]} for stack in stacks]
    project = stacks[0].settings.project
    resources["PreviewPolicy"] = _managed_policy(
        f"{project}-preview", identities.BOOTSTRAP_PATH, preview.policy([(stack.target, stack.invokes) for stack in stacks], key_arns),
    )
    resources["PreviewRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": identities.preview_role_name(project), "Path": identities.BOOTSTRAP_PATH, "MaxSessionDuration": 3600,
        "Description": f"Previews {project} stacks from pull requests of {repository}; reads only",
        "AssumeRolePolicyDocument": trust.policy({"Fn::If": ["CreateProvider", {"Fn::GetAtt": [PROVIDER, "Arn"]}, f"arn:aws:iam::{ACCOUNT}:oidc-provider/{trust.ISSUER}"]},
                                                 trust.pull_request_subject(repository)),
        "ManagedPolicyArns": [{"Ref": "PreviewPolicy"}],
    }}
    outputs = {
        "StateBackend": {"Description": "pulumi login <this>", "Value": state.backend_url(stacks[0].target)},
        "PreviewRoleArn": {"Value": {"Fn::GetAtt": ["PreviewRole", "Arn"]}},
        **{_logical("DeployRoleArn", s.settings.environment): {"Value": {"Fn::GetAtt": [_logical("DeployRole", s.settings.environment), "Arn"]}} for s in stacks},
        **{_logical("SecretsProvider", s.settings.environment): {"Value": state.secrets_provider(s.target)} for s in stacks},
    }
    return _subbed({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{project}: delivery identities, state and keys (administrator-owned; python -m tools.bootstrap)",
        "Parameters": {"CreateGitHubOidcProvider": {
            "Type": "String", "AllowedValues": ["true", "false"], "Default": "true",
            "Description": "false when the account already has token.actions.githubusercontent.com (one per account)"}},
        "Conditions": {"CreateProvider": {"Fn::Equals": [{"Ref": "CreateGitHubOidcProvider"}, "true"]}},
        "Resources": resources,
        "Outputs": outputs,
    })


def render(stacks: Iterable[Stack], repository: str) -> str:
    return json.dumps(template(stacks, repository), indent=1, sort_keys=False) + "\n"
