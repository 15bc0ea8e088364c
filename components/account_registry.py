"""AccountRegistry: the registry-level ECR configuration of one account and region, which exactly one
stack owns (`registry_owner`): enhanced, continuous scanning of the project's repositories. The promotion
issue adds replication here, the same kind of singleton."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.errors import ComponentError

SCAN_FREQUENCIES = ("CONTINUOUS_SCAN", "SCAN_ON_PUSH")
"""What enhanced scanning offers (botocore's ECR model, ScanFrequency; MANUAL is basic scanning's)."""
_FILTER = re.compile(r"^[0-9a-z*](?:[0-9a-z_./*-]?[0-9a-z*]+)*$")
"""ECR's repository filter syntax (terraform-provider-aws, ecr/registry_scanning_configuration.go)."""


class AccountRegistryError(ComponentError):
    """An AccountRegistry's inputs were refused."""


@dataclass(frozen=True)
class AccountRegistryArgs:
    repository_filters: tuple[str, ...]
    """Wildcard filters of the repositories enhanced scanning covers, e.g. `commodity-forecasts/*`. ECR scans
    no repository outside them at all: the registry's scan type is ENHANCED, and basic scanning is gone."""
    scan_frequency: str = "CONTINUOUS_SCAN"
    """CONTINUOUS_SCAN: Inspector rescans whenever a new CVE affects an image, not only on push."""


class AccountRegistry(pulumi.ComponentResource):
    """The account and region's registry configuration: ENHANCED (Amazon Inspector) scanning, which covers
    language packages (numpy, pandas, scikit-learn, XGBoost, boto3) as well as the operating system's."""

    scanning: aws.ecr.RegistryScanningConfiguration
    """The registry scanning configuration (one per account and region)."""

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
        self.register_outputs({"scan_type": self.scanning.scan_type})


def _validate(args: AccountRegistryArgs) -> None:
    if not args.repository_filters:
        raise AccountRegistryError("no-filters", "repository_filters must name at least one filter, e.g. 'commodity-forecasts/*'")
    for repository_filter in args.repository_filters:
        if not (1 <= len(repository_filter) <= 256 and _FILTER.match(repository_filter)):
            raise AccountRegistryError(
                "filter",
                f"repository_filters entries must be 1-256 lowercase letters, digits, '.', '_', '/', '-' and '*', got {repository_filter!r}",
            )
    if args.scan_frequency not in SCAN_FREQUENCIES:
        raise AccountRegistryError("scan-frequency", f"scan_frequency must be one of {', '.join(SCAN_FREQUENCIES)}, got {args.scan_frequency!r}")
