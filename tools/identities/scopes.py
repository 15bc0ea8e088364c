"""The ARNs one stack creates, by IAM resource type: what every grant is scoped to. Everything a stack
declares is named after `commodity-forecasts-<environment>` (or lives under its repository prefix or
role path), so each pattern matches this stack's resources and nothing else in the account."""

from __future__ import annotations

from dataclasses import dataclass

from stack_config import Settings
from stack_config import identities


SERVICE_LINKED_ROLES = {
    "aws:appautoscaling/target:Target": ("lambda.application-autoscaling.amazonaws.com", "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency"),
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": ("inspector2.amazonaws.com", "AWSServiceRoleForAmazonInspector2"),
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": ("replication.ecr.amazonaws.com", "AWSServiceRoleForECRReplication"),
}
"""Resource type → the service and name of the service-linked role creating it may create (the IAM User
Guide's service-linked role names; Application Auto Scaling and Inspector User Guides; ECR User Guide, "Amazon ECR
service-linked role for replication")."""


@dataclass(frozen=True)
class Target:
    """One stack in one account: the names its grants are scoped to."""

    settings: Settings
    account: str

    @property
    def partition(self) -> str:
        return identities.partition(self.settings.region)

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def prefix(self) -> str:
        return self.settings.name_prefix

    @property
    def environment(self) -> str:
        return self.settings.environment

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"

    @property
    def data_bucket(self) -> str:
        return self.settings.data_bucket_name(self.account)

    @property
    def buckets(self) -> tuple[str, ...]:
        """The data bucket and its access-log bucket (components/data.py names it `<data bucket>-logs`)."""
        return (self.data_bucket, f"{self.data_bucket}-logs")

    @property
    def boundary_arn(self) -> str:
        return self.settings.permissions_boundary_arn(self.account)

    def scope(self, resource_type: str) -> tuple[str, ...]:
        """ARN patterns of this stack's resources of one IAM resource type (the SAR's names)."""
        s, prefix = self.settings, self.prefix
        patterns = {
            "repository": (self.arn("ecr", f"repository/{s.repository_prefix}*"),),
            "log-group": (self.arn("logs", f"log-group:/aws/lambda/{prefix}-*"),),
            "alarm": (self.arn("cloudwatch", f"alarm:{prefix}-*"),),
            "dashboard": (self.arn("cloudwatch", f"dashboard/{prefix}", region=False),),
            "table": (self.arn("dynamodb", f"table/{s.predictions_table_name}"),),
            "function": (self.arn("lambda", f"function:{prefix}-*"),),
            "bucket": tuple(f"arn:{self.partition}:s3:::{bucket}" for bucket in self.buckets),
            "object": tuple(f"arn:{self.partition}:s3:::{bucket}/*" for bucket in self.buckets),
            "schedule": (self.arn("scheduler", f"schedule/default/{prefix}-*"),),
            "role": (f"arn:{self.partition}:iam::{self.account}:role{s.role_path}*",),
            "queue": (self.arn("sqs", f"{prefix}-*"),),
            "topic": (self.arn("sns", f"{prefix}-*"),),
            "ScalableTarget": (self.arn("application-autoscaling", "scalable-target/*"),),
            "rule-on-default-event-bus": (self.arn("events", f"rule/{prefix}-*"),),
        }
        if resource_type not in patterns:
            raise KeyError(f"no scope for IAM resource type {resource_type!r}: name this stack's ARNs of it in tools/identities/scopes.py")
        return patterns[resource_type]

    @property
    def source_repositories(self) -> tuple[str, ...]:
        """The repositories of the stack this one promotes from (in the source's account): what a copy reads, or
        what a pulling stack's functions run. Only a promoting stack has them."""
        promotion = self.settings.promotion
        if promotion is None:
            raise KeyError(f"stack {self.settings.stack} promotes from no stack, so nothing may be granted on another's repositories")
        return (promotion.source.repository_arn(self.settings.project, "*"),)

    @property
    def legacy_bucket_arn(self) -> str:
        """The mobile app's bucket; only a stack that has one looks it up (aws.s3.getBucket)."""
        if self.settings.legacy_bucket is None:
            raise KeyError(f"stack {self.settings.stack} has no legacy_bucket, so nothing may be granted on one")
        return f"arn:{self.partition}:s3:::{self.settings.legacy_bucket}"

    def service_linked_role(self, type_: str) -> tuple[str, str]:
        """(service, role ARN) of the service-linked role a service creates on the deployer's behalf for
        `type_`: Application Auto Scaling's for Lambda provisioned concurrency, on the first scalable target
        of the account; Inspector's, when enhanced scanning is first configured."""
        service, role = SERVICE_LINKED_ROLES[type_]
        return service, f"arn:{self.partition}:iam::{self.account}:role/aws-service-role/{service}/{role}"
