"""The account's registry configuration: enhanced continuous scanning of the project's repositories, owned
by exactly one stack per account and region (checked over every stack file)."""

from __future__ import annotations

import pytest

from components.account_registry import AccountRegistry, AccountRegistryArgs, AccountRegistryError
from stack_config import SettingsError, stack_config
from stack_config.ownership import check_registry_owners, stack_files
from tests.conftest import ROOT, run_program

SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"


def test_enhanced_continuous_scanning_of_the_projects_repositories():
    graph = run_program(lambda: AccountRegistry("registry", AccountRegistryArgs(repository_filters=("commodity-forecasts/*",))))
    [scanning] = graph.of_type(SCANNING)
    assert scanning.name == "registry-scanning" and scanning.parent_type == "commodity-forecasts:account_registry:AccountRegistry"
    assert scanning.inputs["scanType"] == "ENHANCED", f"{scanning.urn}: language packages need Inspector's enhanced scanning"
    assert scanning.inputs["rules"] == [{
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "commodity-forecasts/*", "filterType": "WILDCARD"}],
    }], f"{scanning.urn}: rescanned as CVEs are published, and only the project's repositories"


@pytest.mark.parametrize("overrides, message", [
    ({"repository_filters": ()}, "repository_filters must name at least one filter"),
    ({"repository_filters": ("Commodity/*",)}, "repository_filters entries must be 1-256 lowercase letters"),
    ({"scan_frequency": "MANUAL"}, "scan_frequency must be one of CONTINUOUS_SCAN, SCAN_ON_PUSH, got 'MANUAL'"),
])
def test_refuses_bad_arguments(overrides, message):
    with pytest.raises(AccountRegistryError, match=message):
        AccountRegistry("registry", AccountRegistryArgs(**{"repository_filters": ("commodity-forecasts/*",), **overrides}))


def test_every_stack_file_leaves_one_owner_per_account_and_region():
    stacks = stack_files(ROOT)
    assert {"dev", "prod"} <= set(stacks)
    configs = {stack: stack_config(ROOT, stack) for stack in stacks}
    check_registry_owners(configs)
    owners = [stack for stack, config in configs.items() if config.get("commodity-forecasts:registry_owner") == "true"]
    assert owners == ["dev"], "dev owns the shared account's registry configuration; prod, in the same account, does not"


def owner(region: str = "us-east-1", accounts: list[str] | None = None) -> dict:
    config = {"aws:region": region, "commodity-forecasts:registry_owner": "true"}
    if accounts is not None:
        config["aws:allowedAccountIds"] = str(accounts).replace("'", '"')
    return config


@pytest.mark.parametrize("other, conflict", [
    (owner(), True),
    (owner(accounts=["111111111111"]), True),
    (owner(region="eu-west-1"), False),
    ({"aws:region": "us-east-1"}, False),
], ids=["same region, no account said", "one says its account, the other not", "another region", "not an owner"])
def test_two_owners_conflict_unless_region_or_accounts_set_them_apart(other, conflict):
    configs = {"a": owner(), "b": other}
    if conflict:
        with pytest.raises(SettingsError, match=r"stacks 'a' and 'b' both set commodity-forecasts:registry_owner in us-east-1"):
            check_registry_owners(configs)
    else:
        check_registry_owners(configs)


def test_owners_in_distinct_accounts_do_not_conflict_and_shared_ones_do():
    check_registry_owners({"a": owner(accounts=["111111111111"]), "b": owner(accounts=["222222222222"])})
    with pytest.raises(SettingsError, match=r"may share accounts \['111111111111'\]"):
        check_registry_owners({"a": owner(accounts=["111111111111"]), "b": owner(accounts=["111111111111", "333333333333"])})
