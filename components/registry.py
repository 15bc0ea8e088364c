"""EcrRepository: one private ECR repository per image, scanned, immutable, encrypted and self-cleaning."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .errors import ComponentError, check_range
from .limits import ECR_KEEP_RELEASE_IMAGES, ECR_UNTAGGED_EXPIRE_DAYS

CACHE_TAG = "buildcache"
"""The one mutable tag: BuildKit's registry cache, rewritten by every build."""
RELEASE_TAG_PREFIX = "release-"
"""Every pushed image carries a tag `release-<architecture>-<content hash>` that never moves."""
PROTECTED_TAG_PREFIX = "protected-"
"""`protected-<digest hex>`: an image some function version within rollback reach runs (tools/protect_images.py
adds and removes these). The lifecycle's first rule matches them, so no later rule can expire them."""
PROTECTED_DAYS = int(ECR_UNTAGGED_EXPIRE_DAYS.maximum)
"""The first rule must select protected images to keep them, and every ECR rule expires something: these
expire after ten years, the longest the project's day ranges allow."""
PUSH_ACTIONS = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchDeleteImage")
"""What writes a repository's content: every push (layers, manifests, the cache tag and every other tag)
and every deletion or untagging. Only the stack's pushers may; the lifecycle policy is ECR's own and is
not subject to the repository policy."""
CONSUMER_READS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages", "ecr:DescribeImageScanFindings")
"""What a cross-account puller's deploy role reads: the image (Lambda checks the caller can read the image it
creates a function from), its tags and its scan (the puller's scan gate)."""
CONSUMER_TAGGING = ("ecr:PutImage", "ecr:BatchDeleteImage")
"""What it writes: its own protected tags (PutImage of an existing manifest under a new tag, and removing them)."""
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_FUNCTION_ARNS = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+\*?$")
_REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")


@dataclass(frozen=True)
class CrossAccountPuller:
    """A stack in another account whose functions run this repository's images (promotion by pull)."""

    deploy_role_arn: str
    """Its deploy role: reads the images and scans, and keeps the protected tags of the images its versions run
    (it must also be among the pushers, or the push restriction denies it the tagging)."""
    function_arns: str
    """ARN pattern of its functions (`arn:aws:lambda:<region>:<account>:function:<prefix>-*`): Lambda pulls for
    these only (`aws:sourceArn`)."""


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
    pushers: tuple[pulumi.Input[str], ...] = ()
    """IAM role ARNs that alone may push, retag, untag or delete (`PUSH_ACTIONS`): the stack's deploy role, and
    whatever brings tested digests into the repository (the promotion issue). Every other principal is denied,
    by `aws:PrincipalArn` (an assumed role's session is judged as its role). Empty: no such restriction."""
    cross_account_pullers: tuple[CrossAccountPuller, ...] = ()
    """Stacks in other accounts that run these images (promotion by pull): Lambda may pull for their functions,
    their deploy roles may read and tag (Lambda's guide, "Amazon ECR permissions": cross-account images need
    both the account's principal and the Lambda service principal in the repository policy)."""


def lifecycle_policy(untagged_expire_days: int, keep_release_images: int) -> dict:
    """The repository's lifecycle rules. None can select the cache tag. The first keeps protected images:
    ECR applies rules by priority and a rule never expires an image a higher-priority rule matched, so
    no later rule expires a protected image, whatever `keep_release_images` says (a second tag alone would
    not keep it: the release rule would still count and expire it)."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Keep images a function version within rollback reach runs (protected tags)",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": [f"{PROTECTED_TAG_PREFIX}*"],
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": PROTECTED_DAYS,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
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
                "rulePriority": 3,
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
    policy: aws.ecr.RepositoryPolicy | None
    """Who may pull (Lambda, for the stack's functions) and who may push; builds wait for it, so no push ever
    precedes the restriction."""

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

        self.policy = self._policy(name, args, repository)

        self.args = args
        self.repository = repository
        self.name = repository.name
        self.url = repository.repository_url
        self.arn = repository.arn
        self.registry_id = repository.registry_id
        self.register_outputs({"name": self.name, "url": self.url, "arn": self.arn, "registry_id": self.registry_id})


    def _policy(self, name: str, args: EcrRepositoryArgs, repository: aws.ecr.Repository) -> aws.ecr.RepositoryPolicy | None:
        """One policy for both statements (a repository has one policy). Renamed from `-lambda-pull` when it
        gained the push restriction: the alias keeps it the same resource."""
        document = repository_policy(args.lambda_source_arn, args.pushers, args.cross_account_pullers)
        if document is None:
            return None
        return aws.ecr.RepositoryPolicy(
            f"{name}-policy",
            repository=repository.name,
            policy=pulumi.Output.json_dumps(document),
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-lambda-pull")]),
        )


def repository_policy(
    lambda_source_arn: pulumi.Input[str] | None, pushers: tuple[pulumi.Input[str], ...], pullers: tuple[CrossAccountPuller, ...] = (),
) -> dict | None:
    """Lambda pulls for the stack's functions only (service principal, `aws:SourceArn`); nobody but the
    pushers writes. The deny names the pushers by `aws:PrincipalArn` rather than `NotPrincipal`: with
    NotPrincipal an assumed-role session must be listed by its session ARN too (IAM's NotPrincipal page)."""
    statements: list[dict] = _puller_statements(pullers)
    if lambda_source_arn is not None:
        statements.append({
            "Sid": "LambdaPullForOurFunctions",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {"StringLike": {"aws:sourceArn": lambda_source_arn}},
        })
    if pushers:
        statements.append({
            "Sid": "OnlyThePushersWrite",
            "Effect": "Deny",
            "Principal": "*",
            "Action": list(PUSH_ACTIONS),
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": list(pushers)}},
        })
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def _puller_statements(pullers: tuple[CrossAccountPuller, ...]) -> list[dict]:
    if not pullers:
        return []
    return [
        {
            "Sid": "LambdaPullForConsumerFunctions",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {"StringLike": {"aws:sourceArn": [puller.function_arns for puller in pullers]}},
        },
        {
            "Sid": "ConsumerDeployRolesReadAndKeepTheirTags",
            "Effect": "Allow",
            "Principal": {"AWS": [puller.deploy_role_arn for puller in pullers]},
            "Action": [*CONSUMER_READS, *CONSUMER_TAGGING],
        },
    ]


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
    for puller in args.cross_account_pullers:
        if not _ROLE_ARN.match(puller.deploy_role_arn) or not _FUNCTION_ARNS.match(puller.function_arns):
            raise RegistryError("puller", f"cross_account_pullers need a role ARN and a function ARN pattern, got {puller}")
        if puller.deploy_role_arn not in args.pushers:
            raise RegistryError(
                "puller-not-pusher",
                f"{puller.deploy_role_arn} pulls cross-account and keeps protected tags here: it must be among the pushers too")
    for pusher in args.pushers:
        if isinstance(pusher, str) and not _ROLE_ARN.match(pusher):
            raise RegistryError("pusher", f"pushers must be IAM role ARNs (arn:aws:iam::<account>:role/<path/><name>), got {pusher!r}")
