"""EcrRepository: scanning, immutability with one exclusion, KMS, lifecycle, force-delete."""

import json
import re

import pulumi
import pytest

from components.registry import CACHE_TAG, EcrRepository, EcrRepositoryArgs, lifecycle_policy
from tests.conftest import run_program

REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"


def build(**overrides):
    args = EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor", **overrides)
    return run_program(lambda: EcrRepository("predictor", args))


def rule_selects(rule: dict, tags: list[str]) -> bool:
    """ECR's matching for one lifecycle rule's tag selection (wildcard patterns, untagged)."""
    selection = rule["selection"]
    if selection["tagStatus"] == "untagged":
        return not tags
    if selection["tagStatus"] == "any":
        return True
    patterns = [re.compile("^" + re.escape(p).replace(r"\*", ".*") + "$") for p in selection.get("tagPatternList", [])]
    prefixes = selection.get("tagPrefixList", [])
    return any(p.match(tag) for p in patterns for tag in tags) or any(t.startswith(x) for x in prefixes for t in tags)


def test_repository_scans_on_push_is_immutable_except_cache_and_kms_encrypted():
    repo = build().named("predictor-repo")
    inputs = repo.inputs
    assert inputs["imageScanningConfiguration"] == {"scanOnPush": True}, f"{repo.urn}: ECR repository must scan on push"
    assert inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", f"{repo.urn}: tags must be immutable"
    assert inputs["imageTagMutabilityExclusionFilters"] == [{"filter": CACHE_TAG, "filterType": "WILDCARD"}], (
        f"{repo.urn}: only the registry-cache tag may be mutable"
    )
    assert inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}], f"{repo.urn}: must be KMS-encrypted"
    assert inputs["name"] == "commodity-forecasts/dev/predictor"


def test_children_are_parented_and_named_after_the_component():
    graph = build()
    component = graph.named("predictor")
    assert component.type == "commodity-forecasts:registry:EcrRepository"
    children = sorted((r.type, r.name) for r in graph.children(component))
    assert children == [(LIFECYCLE, "predictor-lifecycle"), (REPO, "predictor-repo")]


def test_force_delete_is_off_by_default_and_on_only_when_asked():
    assert build().named("predictor-repo").inputs["forceDelete"] is False
    assert build(force_delete=True).named("predictor-repo").inputs["forceDelete"] is True


def test_lifecycle_policy_attached_with_untagged_and_release_rules():
    graph = build(untagged_expire_days=2, keep_release_images=4)
    lifecycle = graph.named("predictor-lifecycle")
    assert lifecycle.inputs["repository"] == "commodity-forecasts/dev/predictor"
    rules = json.loads(lifecycle.inputs["policy"])["rules"]
    untagged = [r for r in rules if r["selection"]["tagStatus"] == "untagged"]
    assert untagged and untagged[0]["selection"]["countType"] == "sinceImagePushed"
    assert untagged[0]["selection"]["countNumber"] == 2
    releases = [r for r in rules if r["selection"]["countType"] == "imageCountMoreThan"]
    assert releases and releases[0]["selection"]["countNumber"] == 4
    assert sorted(r["rulePriority"] for r in rules) == list(range(1, len(rules) + 1))


def test_lifecycle_never_selects_the_cache_tag_but_selects_releases_and_untagged():
    rules = lifecycle_policy(1, 2)["rules"]
    assert not any(rule_selects(rule, [CACHE_TAG]) for rule in rules), "lifecycle must never expire the cache tag"
    assert any(rule_selects(rule, ["release-arm64-0123abcd"]) for rule in rules)
    assert any(rule_selects(rule, []) for rule in rules)


def test_outputs_name_url_and_arn():
    captured = {}

    def program():
        repo = EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor"))
        pulumi.Output.all(repo.name, repo.url, repo.arn).apply(lambda values: captured.update(values=values))

    run_program(program)
    name, url, arn = captured["values"]
    assert name == "commodity-forecasts/dev/predictor"
    assert url.endswith(".dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/dev/predictor")
    assert arn == "arn:aws:ecr:us-east-1:123456789012:repository/commodity-forecasts/dev/predictor"


@pytest.mark.parametrize("overrides, message", [
    ({"keep_release_images": 1}, "keep_release_images must be between 2 and 1000, got 1"),
    ({"untagged_expire_days": 0}, "untagged_expire_days must be between 1 and 3650, got 0"),
    ({"repository_name": "Commodity/Dev"}, "repository_name must be 2-256 lowercase letters"),
])
def test_refuses_bad_arguments(overrides, message):
    args = {"repository_name": "commodity-forecasts/dev/predictor", **overrides}
    with pytest.raises(ValueError) as raised:
        EcrRepository("predictor", EcrRepositoryArgs(**args))
    assert str(raised.value).startswith(message)
