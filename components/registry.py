"""EcrRepository: one private ECR repository per image, scanned, immutable, encrypted and self-cleaning."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.errors import ComponentError, check_range
from components.limits import ECR_KEEP_RELEASE_IMAGES, ECR_UNTAGGED_EXPIRE_DAYS

CACHE_TAG = "buildcache"
"""The one mutable tag: BuildKit's registry cache, rewritten by every build."""
RELEASE_TAG_PREFIX = "release-"
"""Every pushed image carries a tag `release-<architecture>-<content hash>` that never moves."""
_REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass(frozen=True)
class EcrRepositoryArgs:
    repository_name: str
    """Physical name, e.g. `commodity-forecasts/dev/predictor`."""
    untagged_expire_days: int = int(ECR_UNTAGGED_EXPIRE_DAYS.default)
    """Untagged images (superseded caches, interrupted pushes) expire this many days after push."""
    keep_release_images: int = int(ECR_KEEP_RELEASE_IMAGES.default)
    """Newest release images kept; at least 2 so the live image and the one before it survive."""
    force_delete: bool = False
    """Delete the repository even when it holds images. Off by default; only non-production stacks set it."""
    lambda_source_arn: pulumi.Input[str] | None = None
    """ARN pattern of the functions allowed to pull (e.g. `arn:aws:lambda:<region>:<account>:function:<prefix>-*`).
    Lambda pulls with the service principal; a repository policy scoped by `aws:SourceArn` lets only these."""


def lifecycle_policy(untagged_expire_days: int, keep_release_images: int) -> dict:
    """The repository's lifecycle rules. Neither rule can select the cache tag."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images {untagged_expire_days} day(s) after push",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expire_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep only the newest {keep_release_images} release images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": [f"{RELEASE_TAG_PREFIX}*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_release_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }


class EcrRepository(pulumi.ComponentResource):
    """A private ECR repository for one image.

    Secure by default: scan on push; tags immutable except the registry-cache tag
    (`IMMUTABLE_WITH_EXCLUSION`); KMS encryption with the AWS-managed `aws/ecr` key, which Lambda can
    pull from without extra key grants; a lifecycle policy so the repository cleans itself.
    """

    name: pulumi.Output[str]
    """Repository name."""
    url: pulumi.Output[str]
    """Repository URL, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`."""
    arn: pulumi.Output[str]
    """Repository ARN, for IAM policies."""
    registry_id: pulumi.Output[str]
    """Registry (account) id, for the ECR auth token."""
    repository: aws.ecr.Repository
    """The repository resource itself."""
    args: EcrRepositoryArgs
    """What the repository was built from (its physical name names the builds pushed to it)."""

    def __init__(self, name: str, args: EcrRepositoryArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(args)
        super().__init__("commodity-forecasts:registry:EcrRepository", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        repository = aws.ecr.Repository(
            f"{name}-repo",
            name=args.repository_name,
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
            image_tag_mutability_exclusion_filters=[{"filter": CACHE_TAG, "filter_type": "WILDCARD"}],
            encryption_configurations=[{"encryption_type": "KMS"}],
            force_delete=args.force_delete,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.untagged_expire_days, args.keep_release_images)),
            opts=child,
        )

        if args.lambda_source_arn is not None:
            aws.ecr.RepositoryPolicy(
                f"{name}-lambda-pull",
                repository=repository.name,
                policy=pulumi.Output.json_dumps({
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "LambdaPullForOurFunctions",
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                        "Condition": {"StringLike": {"aws:sourceArn": args.lambda_source_arn}},
                    }],
                }),
                opts=child,
            )

        self.args = args
        self.repository = repository
        self.name = repository.name
        self.url = repository.repository_url
        self.arn = repository.arn
        self.registry_id = repository.registry_id
        self.register_outputs({"name": self.name, "url": self.url, "arn": self.arn, "registry_id": self.registry_id})


class RegistryError(ComponentError):
    """An EcrRepository's inputs were refused."""


def _validate(args: EcrRepositoryArgs) -> None:
    if not (2 <= len(args.repository_name) <= 256 and _REPOSITORY_NAME.match(args.repository_name)):
        raise RegistryError(
            "repository-name",
            "repository_name must be 2-256 lowercase letters, digits, and . _ - / separators, "
            f"got {args.repository_name!r}"
        )
    for limit in (ECR_UNTAGGED_EXPIRE_DAYS, ECR_KEEP_RELEASE_IMAGES):
        check_range(RegistryError, limit, getattr(args, limit.name), where=limit.name)
