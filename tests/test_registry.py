"""EcrRepository: scanning, immutability with one exclusion, KMS, lifecycle, force-delete."""

import json
import re

import pulumi
import pytest

from components.registry import CACHE_TAG, PROTECTED_TAG_PREFIX, PUSH_ACTIONS, EcrRepository, EcrRepositoryArgs, lifecycle_policy
from tests.conftest import run_program
from tests.ecr_lifecycle import StoredImage, expired

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


# --- who may write ------------------------------------------------------------------------------

DEPLOYER = "arn:aws:iam::123456789012:role/commodity-forecasts-bootstrap/commodity-forecasts-dev-deploy"


def repository_statements(**overrides) -> dict[str, dict]:
    graph = build(**overrides)
    [policy] = graph.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert policy.name == "predictor-policy" and policy.parent_type == "commodity-forecasts:registry:EcrRepository"
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_only_the_pushers_may_push_tag_untag_or_delete():
    statements = repository_statements(pushers=(DEPLOYER,), lambda_source_arn="arn:aws:lambda:us-east-1:123456789012:function:cf-dev-*")
    deny = statements["OnlyThePushersWrite"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*", "the restriction applies to every principal"
    assert set(deny["Action"]) == set(PUSH_ACTIONS) >= {
        "ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchDeleteImage"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [DEPLOYER]}}, "everyone but the deploy role is denied"
    pull = statements["LambdaPullForOurFunctions"]
    assert pull["Effect"] == "Allow" and pull["Principal"] == {"Service": "lambda.amazonaws.com"}, "Lambda still pulls"
    assert not set(pull["Action"]) & set(PUSH_ACTIONS)


def test_the_promotion_can_add_a_pusher():
    copier = "arn:aws:iam::210987654321:role/commodity-forecasts-bootstrap/commodity-forecasts-prod-promote"
    deny = repository_statements(pushers=(DEPLOYER, copier))["OnlyThePushersWrite"]
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [DEPLOYER, copier]


def test_builds_wait_for_the_push_restriction():
    from components.image import LambdaImage, LambdaImageArgs

    def program():
        repository = EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor", pushers=(DEPLOYER,)))
        LambdaImage("predictor-arm64", LambdaImageArgs(image="predictor", architecture="arm64", repository=repository,
                                                        context_dir="images", push_id="1"))

    graph = run_program(program)
    [build_resource] = graph.of_type("docker-build:index:Image")
    [policy] = graph.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert policy.urn in build_resource.depends_on, "no push may precede the restriction"


def test_without_pushers_or_lambda_there_is_no_repository_policy():
    assert build().of_type("aws:ecr/repositoryPolicy:RepositoryPolicy") == []


def test_the_policy_keeps_its_former_name_as_an_alias():
    """It was `<name>-lambda-pull` before it gained the push restriction: the alias keeps it one resource."""
    from pulumi.runtime.mocks import MockMonitor

    recorded = []
    original = MockMonitor.RegisterResource

    def spy(self, request):
        recorded.append(request)
        return original(self, request)

    MockMonitor.RegisterResource = spy
    try:
        build(pushers=(DEPLOYER,))
    finally:
        MockMonitor.RegisterResource = original
    [policy] = [r for r in recorded if r.type == "aws:ecr/repositoryPolicy:RepositoryPolicy"]
    assert any("predictor-lambda-pull" in (alias.spec.name if alias.HasField("spec") else alias.urn) for alias in policy.aliases)


def test_refuses_a_pusher_that_is_not_a_role_arn():
    with pytest.raises(ValueError, match=r"pushers must be IAM role ARNs .*got 'arn:aws:iam::123456789012:user/ci'"):
        EcrRepository("predictor", EcrRepositoryArgs(repository_name="commodity-forecasts/dev/predictor",
                                                     pushers=("arn:aws:iam::123456789012:user/ci",)))


# --- what the lifecycle keeps (ECR's documented rule semantics: tests/ecr_lifecycle.py) -------------

def release(index: int, *extra: str) -> StoredImage:
    return StoredImage(f"sha256:{index:064x}", pushed_day=index, tags=frozenset({f"release-arm64-{index:020x}-push{index}", *extra}))


def test_a_protected_image_outlives_any_number_of_newer_releases():
    keep, newer = 3, 7  # N kept, and N + k newer releases after the protected one
    policy = lifecycle_policy(untagged_expire_days=1, keep_release_images=keep)
    protected = release(1, f"{PROTECTED_TAG_PREFIX}{1:064x}")
    unprotected = release(2)
    later = [release(10 + i) for i in range(keep + newer)]
    gone = expired(policy, [protected, unprotected, *later], now=100)
    assert protected.digest not in gone, "a version within rollback reach runs it: the priority-1 rule keeps it"
    assert unprotected.digest in gone, "an older release nobody can roll back to is expired"
    kept_releases = [image for image in later if image.digest not in gone]
    assert [image.pushed_day for image in kept_releases] == [10 + keep + newer - i for i in range(keep, 0, -1)], (
        "the newest N releases stay"
    )


def test_a_protected_image_counts_among_the_newest_releases():
    """ECR counts, but never expires, what a higher-priority rule matched: a protected image among the newest
    N takes one of the N places, so one fewer unprotected release is kept."""
    policy = lifecycle_policy(untagged_expire_days=1, keep_release_images=2)
    newest = release(3, f"{PROTECTED_TAG_PREFIX}{3:064x}")
    gone = expired(policy, [release(1), release(2), newest], now=10)
    assert gone == {release(1).digest}


def test_a_second_tag_alone_does_not_keep_an_image():
    """Why the protected prefix has its own priority-1 rule: without a rule matching it, the release rule counts and expires the image."""
    policy = lifecycle_policy(untagged_expire_days=1, keep_release_images=2)
    tagged_twice = release(1, "keep-me")
    gone = expired(policy, [tagged_twice, release(2), release(3)], now=10)
    assert tagged_twice.digest in gone


def test_untagged_images_expire_and_the_cache_never_does():
    policy = lifecycle_policy(untagged_expire_days=2, keep_release_images=2)
    cache = StoredImage("sha256:" + "c" * 64, pushed_day=0, tags=frozenset({CACHE_TAG}))
    old_untagged = StoredImage("sha256:" + "a" * 64, pushed_day=0)
    new_untagged = StoredImage("sha256:" + "b" * 64, pushed_day=9)
    gone = expired(policy, [cache, old_untagged, new_untagged, release(3), release(4), release(5)], now=10)
    assert old_untagged.digest in gone and new_untagged.digest not in gone
    assert cache.digest not in gone, "the registry cache is never selected"
    assert release(3).digest in gone and release(5).digest not in gone


def test_the_protected_rule_comes_first_and_selects_only_protected_tags():
    rules = lifecycle_policy(1, 2)["rules"]
    first = min(rules, key=lambda rule: rule["rulePriority"])
    assert first["selection"]["tagPatternList"] == [f"{PROTECTED_TAG_PREFIX}*"]
    assert not rule_selects(first, ["release-arm64-0123abcd"]) and not rule_selects(first, [CACHE_TAG])
