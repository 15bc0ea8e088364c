"""The real `__main__.py` under mocks, once per stack file: what each stack declares and how they differ."""

import json
import re

import pytest

REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker-build:index:Image"


@pytest.fixture(params=["dev", "prod"])
def graph(request):
    return request.getfixturevalue(f"{request.param}_graph")


def test_every_repository_is_scanned_immutable_encrypted_and_has_a_lifecycle(graph):
    repositories = graph.of_type(REPO)
    assert sorted(r.name for r in repositories) == ["predictor-repo", "trainer-repo"]
    policies = {r.inputs["repository"]: json.loads(r.inputs["policy"]) for r in graph.of_type(LIFECYCLE)}
    for repo in repositories:
        assert repo.inputs["imageScanningConfiguration"]["scanOnPush"], f"{repo.urn}: must scan on push"
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", f"{repo.urn}: tags must be immutable"
        assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS", f"{repo.urn}: must use KMS"
        rules = policies[repo.inputs["name"]]["rules"]
        assert any(rule["selection"]["tagStatus"] == "untagged" for rule in rules), f"{repo.urn}: needs an untagged rule"


def test_every_image_has_one_platform_is_pushed_and_exported_by_digest(graph):
    builds = graph.of_type(IMAGE)
    assert sorted(b.name for b in builds) == ["predictor-arm64-build", "trainer-arm64-build"]
    for build in builds:
        assert build.inputs["platforms"] == ["linux/arm64"], f"{build.urn}: exactly one platform"
        assert build.inputs["push"] is True, f"{build.urn}: must push"
    exported = graph.outputs["images"]
    assert set(exported) == {"predictor-arm64", "trainer-arm64"}
    for name, uri in exported.items():
        assert re.fullmatch(r"\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com/[a-z0-9/-]+@sha256:[0-9a-f]{64}", uri), (
            f"{name}: image URI must be pinned by digest, got {uri}"
        )


def test_repositories_are_exported(graph):
    assert set(graph.outputs["repositories"]) == {"predictor", "trainer"}


def test_stacks_share_images_between_functions_of_one_architecture(dev_graph):
    # Three predictor functions and one trainer: two builds, not four.
    assert len(dev_graph.of_type(IMAGE)) == 2


def _differences(left, right, path=""):
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right)):
            found += _differences(left.get(key), right.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [d for i, (a, b) in enumerate(zip(left, right)) for d in _differences(a, b, f"{path}[{i}]")]
    return [] if left == right else [path]


def _normalized(resource, environment):
    """Inputs with the environment name and content digests blanked, parsed where they are JSON."""
    text = json.dumps(resource.inputs, sort_keys=True)
    text = text.replace(f"/{environment}/", "/ENV/")
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:DIGEST", text)
    inputs = json.loads(text)
    if "policy" in inputs:
        inputs["policy"] = json.loads(inputs["policy"])
    return inputs


def test_dev_and_prod_differ_exactly_as_configured(dev_graph, prod_graph):
    dev = {r.name: r for r in dev_graph.resources}
    prod = {r.name: r for r in prod_graph.resources}
    assert set(dev) == set(prod), "both stacks must declare the same resources"
    differences = {
        name: _differences(_normalized(dev[name], "dev"), _normalized(prod[name], "prod"))
        for name in dev
    }
    differences = {name: paths for name, paths in differences.items() if paths}
    keep = "policy.rules[1].selection.countNumber"
    keep_description = "policy.rules[1].description"
    assert differences == {
        "predictor-repo": ["forceDelete"],
        "trainer-repo": ["forceDelete"],
        "predictor-lifecycle": [keep_description, keep],
        "trainer-lifecycle": [keep_description, keep],
    }
    assert dev["predictor-repo"].inputs["forceDelete"] is True, "dev repositories may be force-deleted"
    assert prod["predictor-repo"].inputs["forceDelete"] is False, "prod repositories must never be force-deleted"
    assert json.loads(dev["predictor-lifecycle"].inputs["policy"])["rules"][1]["selection"]["countNumber"] == 3
    assert json.loads(prod["predictor-lifecycle"].inputs["policy"])["rules"][1]["selection"]["countNumber"] == 10
