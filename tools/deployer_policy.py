"""The IAM policy the deploying role needs for one stack: `python -m tools.deployer_policy STACK`.

Built from a table of what each resource type the program declares needs (create, read, update,
delete, tag), every action named — no `service:*` — and scoped to the stack's names wherever the name
is known before deployment (functions, log groups, repositories, buckets, the table, schedules,
alarms, the dashboard). Auto-named resources (roles, queues, the topic, the KMS key) are scoped by
service only; IAM PassRole is limited to Lambda and EventBridge Scheduler. tests/test_deployer_policy.py
fails when the program declares a resource type this table does not cover.

Attach it to the role `AWS_DEPLOY_ROLE_ARN` names as an inline policy (README: First deployment): with
the image lifecycle's resources it is over IAM's 6,144-character limit of a managed policy, within the
10,240 of a role's inline policies. The Pulumi state backend
(Pulumi Cloud, or an S3 bucket with `pulumi login s3://…`) needs its own access and is not included.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stack_config import Settings, settings_from_config, stack_config

ROOT = Path(__file__).resolve().parent.parent

TAGS = {
    "lambda": ("lambda:TagResource", "lambda:UntagResource", "lambda:ListTags"),
    "logs": ("logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource", "logs:TagLogGroup", "logs:ListTagsLogGroup"),
}

ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    # resource type: (scope key, actions)
    "aws:appautoscaling/scheduledAction:ScheduledAction": ("any", (
        "application-autoscaling:PutScheduledAction", "application-autoscaling:DescribeScheduledActions",
        "application-autoscaling:DeleteScheduledAction")),
    "aws:appautoscaling/target:Target": ("any", (
        "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:DeregisterScalableTarget", "application-autoscaling:TagResource",
        "application-autoscaling:ListTagsForResource", "iam:CreateServiceLinkedRole")),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboard", ("cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards")),
    # internal/service/events/rule.go: resourceRuleCreate/Update (PutRule, tags on create), resourceRuleRead
    # (DescribeRule; @Tags: ListTagsForResource), resourceRuleDelete (DeleteRule).
    "aws:cloudwatch/eventRule:EventRule": ("event_rule", (
        "events:PutRule", "events:DescribeRule", "events:DeleteRule", "events:TagResource", "events:UntagResource",
        "events:ListTagsForResource")),
    # internal/service/events/target.go: resourceTargetCreate/Update (PutTargets), findTargetByThreePartKey
    # (ListTargetsByRule), resourceTargetDelete (RemoveTargets).
    "aws:cloudwatch/eventTarget:EventTarget": ("event_rule", ("events:PutTargets", "events:ListTargetsByRule", "events:RemoveTargets")),
    "aws:cloudwatch/logGroup:LogGroup": ("log_group", (
        "logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy",
        "logs:DeleteLogGroup", *TAGS["logs"])),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": ("log_group", ("logs:PutMetricFilter", "logs:DescribeMetricFilters", "logs:DeleteMetricFilter")),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("alarm", (
        "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
        "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource")),
    "aws:dynamodb/table:Table": ("table", (
        "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable",
        "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeTimeToLive",
        "dynamodb:UpdateTimeToLive", "dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource")),
    # internal/service/ecr/registry_scanning_configuration.go: resourceRegistryScanningConfigurationPut
    # (PutRegistryScanningConfiguration), findRegistryScanningConfiguration (GetRegistryScanningConfiguration),
    # Delete (PutRegistryScanningConfiguration back to BASIC). ENHANCED needs Inspector's permissions and its
    # service-linked role (ECR user guide, image-scanning-enhanced: "Required IAM permissions"); the scan gate
    # reads enhanced findings through ECR with inspector2:ListFindings.
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": ("any", (
        "ecr:PutRegistryScanningConfiguration", "ecr:GetRegistryScanningConfiguration", "inspector2:Enable",
        "inspector2:Disable", "inspector2:ListAccountPermissions", "inspector2:ListCoverage", "iam:CreateServiceLinkedRole")),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("repository", ("ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy")),
    "aws:ecr/repository:Repository": ("repository", (
        "ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:DeleteRepository", "ecr:PutImageTagMutability",
        "ecr:PutImageScanningConfiguration", "ecr:TagResource", "ecr:UntagResource", "ecr:ListTagsForResource")),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("repository", ("ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy")),
    # The build's push, plus what tools/deploy.sh's steps call on the same repositories: the scan gate
    # (DescribeImageScanFindings; StartImageScan to rescan an image whose eligibility expired) and
    # tools/protect_images.py (PutImage adds a protected tag, BatchDeleteImage removes one).
    "docker-build:index:Image": ("repository", (
        "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
        "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages", "ecr:DescribeImageScanFindings",
        "ecr:StartImageScan", "ecr:BatchDeleteImage")),
    "aws:iam/role:Role": ("any", (
        "iam:CreateRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole",
        "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
        "iam:TagRole", "iam:UntagRole")),
    "aws:iam/rolePolicy:RolePolicy": ("any", ("iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy")),
    "aws:kms/key:Key": ("any", (
        "kms:CreateKey", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
        "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion", "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource",
        "kms:UpdateKeyDescription")),
    "aws:lambda/alias:Alias": ("function", ("lambda:CreateAlias", "lambda:GetAlias", "lambda:UpdateAlias", "lambda:DeleteAlias")),
    "aws:lambda/function:Function": ("function", (
        "lambda:CreateFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion", "lambda:ListVersionsByFunction", "lambda:DeleteFunction",
        "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetRuntimeManagementConfig", "lambda:PutProvisionedConcurrencyConfig", "lambda:GetProvisionedConcurrencyConfig",
        "lambda:DeleteProvisionedConcurrencyConfig", *TAGS["lambda"])),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": ("function", (
        "lambda:PutFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig")),
    "aws:lambda/functionUrl:FunctionUrl": ("function", (
        "lambda:CreateFunctionUrlConfig", "lambda:GetFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig", "lambda:DeleteFunctionUrlConfig")),
    "aws:lambda/invocation:Invocation": ("function", ("lambda:InvokeFunction",)),
    "aws:s3/bucket:Bucket": ("bucket", (
        "s3:CreateBucket", "s3:ListBucket", "s3:DeleteBucket", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:PutBucketTagging",
        "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketWebsite", "s3:GetBucketRequestPayment", "s3:GetBucketObjectLockConfiguration",
        "s3:GetAccelerateConfiguration", "s3:GetReplicationConfiguration", "s3:ListBucketVersions", "s3:DeleteObject",
        "s3:DeleteObjectVersion")),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("bucket", ("s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration")),
    "aws:s3/bucketLogging:BucketLogging": ("bucket", ("s3:PutBucketLogging", "s3:GetBucketLogging")),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("bucket", ("s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls")),
    "aws:s3/bucketPolicy:BucketPolicy": ("bucket", ("s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy")),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("bucket", ("s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock")),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ("bucket", ("s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration")),
    "aws:s3/bucketVersioning:BucketVersioning": ("bucket", ("s3:PutBucketVersioning", "s3:GetBucketVersioning")),
    "aws:scheduler/schedule:Schedule": ("schedule", ("scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule")),
    "aws:sns/topic:Topic": ("any", (
        "sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:DeleteTopic", "sns:ListTagsForResource",
        "sns:TagResource", "sns:UntagResource")),
    # internal/service/sns/topic_policy.go: put (SetTopicAttributes Policy), read (GetTopicAttributes),
    # resourceTopicPolicyDelete (SetTopicAttributes back to the default policy).
    "aws:sns/topicPolicy:TopicPolicy": ("any", ("sns:SetTopicAttributes", "sns:GetTopicAttributes")),
    "aws:sns/topicSubscription:TopicSubscription": ("any", ("sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes")),
    "aws:sqs/queue:Queue": ("any", (
        "sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl", "sqs:DeleteQueue",
        "sqs:ListQueueTags", "sqs:TagQueue", "sqs:UntagQueue")),
}
"""What `pulumi up`, `refresh` and `destroy` call for each resource type (as the AWS provider does)."""

LOOKUPS = ("ecr:GetAuthorizationToken", "sts:GetCallerIdentity", "s3:GetBucketLocation", "inspector2:ListFindings")
"""The program's data-source calls: the ECR login, the account ID, the legacy bucket (read, never managed);
and the scan gate's read of enhanced findings through ECR, which Inspector authorizes account-wide (ECR
user guide, image-scanning-enhanced: "Required IAM permissions")."""


def scopes(settings: Settings) -> dict[str, list[str]]:
    """ARN patterns per scope key, from the stack's names."""
    prefix, region = settings.name_prefix, settings.region
    repos = [f"arn:aws:ecr:{region}:*:repository/{settings.project}/{settings.environment}/*"]
    return {
        "any": ["*"],
        "dashboard": [f"arn:aws:cloudwatch::*:dashboard/{prefix}"],
        "log_group": [f"arn:aws:logs:{region}:*:log-group:/aws/lambda/{prefix}-*", f"arn:aws:logs:{region}:*:log-group:/aws/lambda/{prefix}-*:*"],
        "alarm": [f"arn:aws:cloudwatch:{region}:*:alarm:{prefix}-*"],
        "table": [f"arn:aws:dynamodb:{region}:*:table/{settings.predictions_table_name}"],
        "repository": repos,
        "function": [f"arn:aws:lambda:{region}:*:function:{prefix}-*"],
        "bucket": [f"arn:aws:s3:::{prefix}-data-*"],
        "schedule": [f"arn:aws:scheduler:{region}:*:schedule/*/{prefix}-*"],
        "event_rule": [f"arn:aws:events:{region}:*:rule/{prefix}-*"],
    }


def policy(settings: Settings, resource_types: set[str] | None = None) -> dict:
    """The policy document; `resource_types` limits it to those the stack declares."""
    arns = scopes(settings)
    grouped: dict[str, set[str]] = {}
    for type_, (scope, actions) in ACTIONS.items():
        if resource_types is None or type_ in resource_types:
            grouped.setdefault(scope, set()).update(actions)
    statements = [
        {"Sid": f"Manage{scope.title().replace('_', '')}", "Effect": "Allow", "Action": sorted(actions), "Resource": arns[scope]}
        for scope, actions in sorted(grouped.items())
    ]
    statements.append({"Sid": "Lookups", "Effect": "Allow", "Action": sorted(LOOKUPS), "Resource": "*"})
    statements.append({
        "Sid": "PassFunctionAndScheduleRoles", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*",
        "Condition": {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "scheduler.amazonaws.com"]}},
    })
    return {"Version": "2012-10-17", "Statement": statements}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m tools.deployer_policy STACK  (prints the deploying role's policy for Pulumi.<STACK>.yaml)", file=sys.stderr)
        return 2
    stack = argv[0]
    print(json.dumps(policy(settings_from_config(stack_config(ROOT, stack), stack=stack)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
