"""AccountRegistry: the registry-level ECR configuration of one account and region, which exactly one
stack owns (`registry_owner`): enhanced, continuous scanning of the project's repositories, and for promotion
across accounts the replication configuration (source side) and the registry policy that lets the source
replicate in (destination side). Each is one per account and region, so each has the same one owner."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .errors import ComponentError

SCAN_FREQUENCIES = ("CONTINUOUS_SCAN", "SCAN_ON_PUSH")
"""What enhanced scanning offers (botocore's ECR model, ScanFrequency; MANUAL is basic scanning's)."""
_FILTER = re.compile(r"^[0-9a-z*](?:[0-9a-z_./*-]?[0-9a-z*]+)*$")
"""ECR's repository filter syntax (terraform-provider-aws, ecr/registry_scanning_configuration.go)."""


class AccountRegistryError(ComponentError):
    """An AccountRegistry's inputs were refused."""


@dataclass(frozen=True)
class Replication:
    """Replicate every repository under `prefix` to the same region of other accounts."""

    prefix: str
    """A repository-name prefix, e.g. `commodity-forecasts/dev/`: ECR's PREFIX_MATCH filter."""
    accounts: tuple[str, ...]
    region: str


@dataclass(frozen=True)
class ReplicationSource:
    """Another account whose registry may replicate into this one, only into repositories under `prefix`."""

    account: str
    prefix: str
    repository_arns: str
    """This registry's repositories it may write: `arn:aws:ecr:<region>:<this account>:repository/<prefix>*`."""


@dataclass(frozen=True)
class AccountRegistryArgs:
    repository_filters: tuple[str, ...]
    """Wildcard filters of the repositories enhanced scanning covers, e.g. `commodity-forecasts/*`. ECR scans
    no repository outside them at all: the registry's scan type is ENHANCED, and basic scanning is gone."""
    scan_frequency: str = "CONTINUOUS_SCAN"
    """CONTINUOUS_SCAN: Inspector rescans whenever a new CVE affects an image, not only on push."""
    replication: Replication | None = None
    """Push-time replication of a promoting stack's source repositories into the promoting accounts."""
    replication_sources: tuple[ReplicationSource, ...] = ()
    """Accounts that replicate into this registry (its registry policy; ECR User Guide, "Private registry
    permissions": cross-account replication needs `ecr:CreateRepository` and `ecr:ReplicateImage` for the source)."""


class AccountRegistry(pulumi.ComponentResource):
    """The account and region's registry configuration: ENHANCED (Amazon Inspector) scanning, which covers
    language packages (numpy, pandas, scikit-learn, XGBoost, boto3) as well as the operating system's."""

    scanning: aws.ecr.RegistryScanningConfiguration
    """The registry scanning configuration (one per account and region)."""
    replication: aws.ecr.ReplicationConfiguration | None
    """The replication configuration (one per account and region), when a stack elsewhere promotes by replication."""
    policy: aws.ecr.RegistryPolicy | None
    """The registry policy (one per account and region), when another account replicates into this one."""

    def __init__(self, name: str, args: AccountRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(args)
        super().__init__("commodity-forecasts:account_registry:AccountRegistry", name, None, opts)
        self.scanning = aws.ecr.RegistryScanningConfiguration(
            f"{name}-scanning",
            scan_type="ENHANCED",
            rules=[{
                "scan_frequency": args.scan_frequency,
                "repository_filters": [{"filter": f, "filter_type": "WILDCARD"} for f in args.repository_filters],
            }],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.replication = self._replication(name, args.replication)
        self.policy = None
        if args.replication_sources:
            self.policy = aws.ecr.RegistryPolicy(
                f"{name}-policy", policy=json.dumps(registry_policy(args.replication_sources)), opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"scan_type": self.scanning.scan_type})

    def _replication(self, name: str, replication: Replication | None) -> aws.ecr.ReplicationConfiguration | None:
        if replication is None:
            return None
        return aws.ecr.ReplicationConfiguration(
            f"{name}-replication",
            replication_configuration={"rules": [{
                "destinations": [{"region": replication.region, "registry_id": account} for account in replication.accounts],
                "repository_filters": [{"filter": replication.prefix, "filter_type": "PREFIX_MATCH"}],
            }]},
            opts=pulumi.ResourceOptions(parent=self),
        )


def registry_policy(sources: tuple[ReplicationSource, ...]) -> dict:
    """Each source account may replicate into this registry's repositories under its prefix, and nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        {
            "Sid": f"ReplicationFrom{source.account}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{source.repository_arns.split(':')[1]}:iam::{source.account}:root"},
            "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
            "Resource": source.repository_arns,
        }
        for source in sources
    ]}


def _validate(args: AccountRegistryArgs) -> None:
    if not args.repository_filters:
        raise AccountRegistryError("no-filters", "repository_filters must name at least one filter, e.g. 'commodity-forecasts/*'")
    for repository_filter in args.repository_filters:
        if not (1 <= len(repository_filter) <= 256 and _FILTER.match(repository_filter)):
            raise AccountRegistryError(
                "filter",
                f"repository_filters entries must be 1-256 lowercase letters, digits, '.', '_', '/', '-' and '*', got {repository_filter!r}",
            )
    _validate_replication(args)
    if args.scan_frequency not in SCAN_FREQUENCIES:
        raise AccountRegistryError("scan-frequency", f"scan_frequency must be one of {', '.join(SCAN_FREQUENCIES)}, got {args.scan_frequency!r}")


_ACCOUNT = re.compile(r"^\d{12}$")
_PREFIX = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*/$")


def _validate_replication(args: AccountRegistryArgs) -> None:
    replication = args.replication
    if replication is not None:
        if not replication.accounts or not all(_ACCOUNT.match(a) for a in replication.accounts):
            raise AccountRegistryError("replication-accounts", f"replication.accounts must be 12-digit account ids, got {replication.accounts}")
        if not _PREFIX.match(replication.prefix):
            raise AccountRegistryError("replication-prefix", f"replication.prefix must be a repository-name prefix ending in '/', got {replication.prefix!r}")
    for source in args.replication_sources:
        if not _ACCOUNT.match(source.account) or not source.repository_arns.endswith(f"repository/{source.prefix}*"):
            raise AccountRegistryError("replication-source", f"replication_sources entries need an account id and its repositories' ARN pattern, got {source}")
