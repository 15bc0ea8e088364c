"""tools/protect_images.py: the protected tags of the stack's repositories become exactly the images a
version within rollback reach runs. ECR is moto's (its tagging, untagging and immutability); Lambda is
botocore's Stubber, which checks every call against Lambda's model (moto's Lambda gives every published
version the image of the newest, so it cannot tell versions apart)."""

from __future__ import annotations

import hashlib
import io
import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stack_config import settings_from_config, stack_config
from tests.conftest import ROOT
from tools import protect_images
from tools.protect_images import ImageMissing, protect, protected_tag

ACCOUNT, REGION = "123456789012", "us-east-1"
# Without the price feed: its function runs the predictor's image too, and these cases are about the declared ones.
SETTINGS = settings_from_config({**stack_config(ROOT, "dev"), "commodity-forecasts:price_feed": "false"}, stack="dev")
REPOSITORIES = {"predictor": "commodity-forecasts/dev/predictor", "trainer": "commodity-forecasts/dev/trainer"}


@pytest.fixture
def ecr():
    with mock_aws():
        client = boto3.client("ecr", region_name=REGION)
        for repository in REPOSITORIES.values():
            client.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                     imageTagMutabilityExclusionFilters=[{"filter": "buildcache", "filterType": "WILDCARD"}])
        yield client


def push(ecr, image: str, n: int) -> str:
    """A release of `image` (its own layer, so its own digest: moto's digest hashes the layers), as a build pushes it."""
    layer = "sha256:" + hashlib.sha256(f"{image}-{n}".encode()).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": f"sha256:{n:064x}"},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1, "digest": layer}],
    })
    pushed = ecr.put_image(repositoryName=REPOSITORIES[image], imageManifest=manifest, imageTag=f"release-arm64-{image}-{n}")
    return pushed["image"]["imageId"]["imageDigest"]


def lambda_deployments(deployed: dict[str, tuple[int, dict[int, str]]]):
    """A stubbed Lambda whose functions (short name → (live version, version → image digest)) answer the
    tool's calls in the order it makes them."""
    client = boto3.client("lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for spec in SETTINGS.functions:
        name = SETTINGS.function_name(spec)
        live, versions = deployed[spec.name]
        stubber.add_response("get_alias", {"Name": "live", "FunctionVersion": str(live)}, {"FunctionName": name, "Name": "live"})
        stubber.add_response("list_versions_by_function", {"Versions": [{"Version": "$LATEST"}, *({"Version": str(v)} for v in versions)]},
                             {"FunctionName": name})
        newest = sorted(versions)[-SETTINGS.rollback.versions:]
        for version in sorted({live, *newest}):
            uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORIES[spec.image]}@{versions[version]}"
            stubber.add_response("get_function", {"Code": {"RepositoryType": "ECR", "ImageUri": uri}},
                                 {"FunctionName": name, "Qualifier": str(version)})
    stubber.activate()
    return client, stubber


def protected(ecr) -> dict[str, set[str]]:
    """repository → digests carrying their protected tag."""
    found = {}
    for repository in REPOSITORIES.values():
        details = ecr.describe_images(repositoryName=repository)["imageDetails"]
        found[repository] = {d["imageDigest"] for d in details if protected_tag(d["imageDigest"]) in d.get("imageTags", [])}
    return found


def releases(ecr, count_predictor: int, count_trainer: int) -> tuple[list[str], list[str]]:
    return [push(ecr, "predictor", n) for n in range(1, count_predictor + 1)], [push(ecr, "trainer", n) for n in range(1, count_trainer + 1)]


def deployments(predictor: list[str], trainer: list[str], corn_live: int | None = None) -> dict:
    by_version = {v: digest for v, digest in enumerate(predictor, start=1)}
    deployed = {name: (len(predictor), by_version) for name in ("corn", "wheat", "soybeans")}
    if corn_live is not None:
        deployed["corn"] = (corn_live, by_version)
    deployed["trainer"] = (len(trainer), {v: digest for v, digest in enumerate(trainer, start=1)})
    return deployed


def test_protects_exactly_the_images_within_reach(ecr):
    predictor, trainer = releases(ecr, 6, 2)
    client, stubber = lambda_deployments(deployments(predictor, trainer, corn_live=2))
    protect(client, ecr, SETTINGS, out=io.StringIO())
    stubber.assert_no_pending_responses()
    assert protected(ecr) == {
        REPOSITORIES["predictor"]: {predictor[1], predictor[3], predictor[4], predictor[5]},  # corn's live 2, and versions 4-6
        REPOSITORIES["trainer"]: set(trainer),
    }
    [detail] = ecr.describe_images(repositoryName=REPOSITORIES["predictor"], imageIds=[{"imageDigest": predictor[3]}])["imageDetails"]
    assert "release-arm64-predictor-4" in detail["imageTags"], "the image keeps its release tag: the same image, one more tag"


def test_a_version_leaving_reach_loses_protection_and_a_new_one_gains_it(ecr):
    predictor, trainer = releases(ecr, 4, 1)
    client, _ = lambda_deployments(deployments(predictor, trainer))
    protect(client, ecr, SETTINGS, out=io.StringIO())
    predictor.append(push(ecr, "predictor", 5))
    client, _ = lambda_deployments(deployments(predictor, trainer))
    out = io.StringIO()
    protect(client, ecr, SETTINGS, out=out)
    assert protected(ecr)[REPOSITORIES["predictor"]] == set(predictor[2:])
    assert f"{REPOSITORIES['predictor']}@{predictor[1]}: no version within reach runs it any more; protection removed" in out.getvalue()
    assert predictor[1] in {d["imageDigest"] for d in ecr.describe_images(repositoryName=REPOSITORIES["predictor"])["imageDetails"]}, (
        "untagging leaves the image to the lifecycle (it keeps its release tag)")


def test_a_second_run_changes_nothing(ecr):
    predictor, trainer = releases(ecr, 3, 1)
    protect(lambda_deployments(deployments(predictor, trainer))[0], ecr, SETTINGS, out=io.StringIO())
    before = protected(ecr)
    out = io.StringIO()
    protect(lambda_deployments(deployments(predictor, trainer))[0], ecr, SETTINGS, out=out)
    assert protected(ecr) == before
    assert "protected (" not in out.getvalue() and "removed" not in out.getvalue(), "nothing to add, nothing to remove"


def test_a_run_interrupted_half_way_is_finished_by_the_next(ecr, monkeypatch):
    predictor, trainer = releases(ecr, 4, 1)
    protect(lambda_deployments(deployments(predictor, trainer))[0], ecr, SETTINGS, out=io.StringIO())
    predictor += [push(ecr, "predictor", 5), push(ecr, "predictor", 6)]
    calls = {"n": 0}
    real_put = ecr.put_image

    def crash_on_second_tag(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("the runner was cancelled")
        return real_put(**kwargs)

    monkeypatch.setattr(ecr, "put_image", crash_on_second_tag)
    with pytest.raises(KeyboardInterrupt):
        protect(lambda_deployments(deployments(predictor, trainer))[0], ecr, SETTINGS, out=io.StringIO())
    half = protected(ecr)[REPOSITORIES["predictor"]]
    assert set(predictor[1:4]) <= half, "nothing was removed before every addition: interrupted, it protects more, never less"
    monkeypatch.setattr(ecr, "put_image", real_put)
    protect(lambda_deployments(deployments(predictor, trainer))[0], ecr, SETTINGS, out=io.StringIO())
    assert protected(ecr)[REPOSITORIES["predictor"]] == set(predictor[3:])


def test_a_version_whose_image_is_gone_is_named_and_the_rest_protected(ecr):
    predictor, trainer = releases(ecr, 3, 1)
    gone = "sha256:" + "de" * 32
    deployed = deployments(predictor, trainer)
    deployed["corn"] = (4, {**deployed["corn"][1], 4: gone})
    client, _ = lambda_deployments(deployed)
    with pytest.raises(ImageMissing, match=(
            rf"commodity-forecasts-dev-corn version 4 runs {ACCOUNT}\.dkr\.ecr\.{REGION}\.amazonaws\.com/commodity-forecasts/dev/predictor@{gone}, "
            r"which commodity-forecasts/dev/predictor no longer holds")):
        protect(client, ecr, SETTINGS, out=io.StringIO())
    assert protected(ecr)[REPOSITORIES["predictor"]] == set(predictor), "everything else within reach is still protected"


def test_command_line_exit_codes(capsys):
    assert protect_images.main(["staging"]) == 2
    assert "unknown stack 'staging'" in capsys.readouterr().err
