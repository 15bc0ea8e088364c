"""Registry-level ECR configuration (scanning today, replication with the promotion issue) is one per
account and region and applies to every repository there, so exactly one stack may own it: the one whose
file sets `registry_owner: true`. A stack's account is unknown before it deploys; what a stack file can
say is `aws:allowedAccountIds` (the AWS provider refuses to run in any other account). So two owners
conflict when they share a region, unless both list allowed accounts and the lists do not overlap: stacks
that do not say which account they run in are taken to share one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from stack_config.model import PROJECT
from stack_config.reader import SettingsError, decode

OWNER_KEY = "registry_owner"
ACCOUNTS_KEY = "aws:allowedAccountIds"


def stack_files(project_dir: str | Path) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in the project folder."""
    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in Path(project_dir).glob("Pulumi.*.yaml"))


def check_registry_owners(configs: Mapping[str, Mapping[str, Any]], project: str = PROJECT) -> None:
    """Refuse two stacks owning the registry configuration of what may be one account and region."""
    owners = []
    for stack, config in sorted(configs.items()):
        if decode(f"{stack}: {project}:{OWNER_KEY}", config.get(f"{project}:{OWNER_KEY}", False), bool):
            owners.append((stack, str(config.get("aws:region")), _accounts(stack, config.get(ACCOUNTS_KEY))))
    for index, (stack, region, accounts) in enumerate(owners):
        for other, other_region, other_accounts in owners[index + 1:]:
            if region != other_region:
                continue
            if accounts is None or other_accounts is None or accounts & other_accounts:
                shared = f"accounts {sorted(accounts & other_accounts)}" if accounts and other_accounts else "an account (not both say which)"
                raise SettingsError(
                    f"stacks {stack!r} and {other!r} both set {project}:{OWNER_KEY} in {region} and may share {shared}; "
                    f"one account and region has one registry configuration: unset {OWNER_KEY} in one of them, or give "
                    f"both {ACCOUNTS_KEY} with different accounts"
                )


def _accounts(stack: str, value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise SettingsError(f"{stack}: {ACCOUNTS_KEY} must be a list of account ids, got {value!r}")
    return frozenset(str(v) for v in value)
