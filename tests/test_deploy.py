"""tools/deploy.sh end to end with a fake `pulumi` on PATH (tests/fake_pulumi: records its arguments,
replays preview JSON as the CLI emits it, `same` steps only with --show-sames) and the real scan gate
against the emulator's ECR. The preview's steps are the real dev program's URNs (run under mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from common.contract import PRICE_FEED
from demo.emulator import Emulator
from tests.conftest import ROOT, logical_name

FAKE = ROOT / "tests" / "fake_pulumi"
IMAGE_RESOURCES = sorted([
    "predictor", "predictor-repo", "predictor-lifecycle", "predictor-policy",
    "trainer", "trainer-repo", "trainer-lifecycle", "trainer-policy", "registry", "registry-scanning",
    "predictor-arm64", "predictor-arm64-build", "trainer-arm64", "trainer-arm64-build",
])
STACK_URN = "urn:pulumi:dev::commodity-forecasts::pulumi:pulumi:Stack::commodity-forecasts-dev"


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as running:
        yield running


@pytest.fixture
def registry(emulator):
    """The dev stack's two repositories in the emulator's ECR with one pushed, scanned image each, and its
    functions deployed on them (version 1, `live` on it), as the full update leaves them."""
    emulator.reset()
    ecr = emulator.client("ecr")
    uris = {}
    for image in ("predictor", "trainer"):
        repository = f"commodity-forecasts/dev/{image}"
        ecr.create_repository(repositoryName=repository)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": "sha256:" + "ab" * 32},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1, "digest": f"sha256:{image[0] * 64}"}],
        })
        digest = ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=f"release-arm64-{image}")["image"]["imageId"]["imageDigest"]
        ecr.start_image_scan(repositoryName=repository, imageId={"imageDigest": digest})
        uris[f"{image}-arm64"] = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{repository}@{digest}"
    role = emulator.client("iam").create_role(RoleName="function", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = emulator.client("lambda")
    for name, image in (("corn", "predictor"), ("wheat", "predictor"), ("soybeans", "predictor"), ("trainer", "trainer"), ("price-feed", "predictor")):
        lam.create_function(FunctionName=f"commodity-forecasts-dev-{name}", Role=role, PackageType="Image", Publish=True,
                            Code={"ImageUri": uris[f"{image}-arm64"]})
        lam.create_alias(FunctionName=f"commodity-forecasts-dev-{name}", Name="live", FunctionVersion="1")
    return uris


def preview(dev_graph, op_for) -> dict:
    steps = [{"op": "same", "urn": STACK_URN}]
    steps += [{"op": op_for(r), "urn": r.urn, "newState": {"type": r.type, "urn": r.urn}} for r in dev_graph.resources]
    return {"steps": steps, "diagnostics": [], "changeSummary": {}}


def deploy(tmp_path, emulator, images: dict, plan: dict | None, **extra_env) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    (tmp_path / "preview.json").write_text(json.dumps(plan or {}))
    (tmp_path / "images.json").write_text(json.dumps(images))
    env = {
        **os.environ, **emulator.environment,
        "PATH": f"{FAKE}{os.pathsep}{os.environ['PATH']}", "PYTHON": sys.executable,
        "FAKE_PULUMI_LOG": str(tmp_path / "calls.jsonl"), "FAKE_PULUMI_PREVIEW": str(tmp_path / "preview.json"),
        "FAKE_PULUMI_IMAGES": str(tmp_path / "images.json"), **extra_env,
    }
    done = subprocess.run(["bash", str(ROOT / "tools" / "deploy.sh"), "dev"], env=env, capture_output=True, text=True, timeout=300)
    log = tmp_path / "calls.jsonl"
    logged = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    # Docker's calls (the registry login) are logged among the CLI's; the login comes before any push.
    logins = [i for i, call in enumerate(logged) if call[0] == "docker"]
    first_up = next((i for i, call in enumerate(logged) if call[0] == "up"), len(logged))
    assert all(i < first_up for i in logins), "docker logs in before images are pushed"
    for i in logins:
        assert logged[i][1:5] == ["login", "--username", "AWS", "--password-stdin"] and not logged[i][-1].startswith("<stdin: 0 "), logged[i]
    return done, [call for call in logged if call[0] != "docker"]


def targets(call: list[str]) -> list[str]:
    return sorted(logical_name(call[i + 1].rsplit("::", 1)[1]) for i, arg in enumerate(call) if arg == "--target")


def assert_full_rollout(done, calls) -> None:
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert [call[:1] for call in calls] == [["preview"], ["up"], ["stack"], ["up"]]
    assert "--show-sames" in calls[0] and "--policy-pack" in calls[0]
    assert targets(calls[1]) == IMAGE_RESOURCES, "step 1 moves the repositories and image builds only"
    assert "--target" not in calls[3] and calls[3][calls[3].index("--policy-pack") + 1] == "policy"
    assert "scan gate: pass" in done.stdout
    assert "protected images: 2 in 2 repository(ies)" in done.stdout, "step 4 tags what the functions run"
    assert "commodity-forecasts-dev-trainer live (version 1): Active" in done.stdout, "step 5 checks every function"


@pytest.mark.parametrize("case, op_for", [
    ("images changed", lambda r: "update" if "-build-" in r.name else "same"),
    ("images unchanged", lambda r: "same"),
    ("first deployment", lambda r: "create"),
])
def test_a_rollout_builds_scans_then_updates(case, op_for, dev_graph, registry, emulator, tmp_path):
    done, calls = deploy(tmp_path, emulator, registry, preview(dev_graph, op_for))
    assert_full_rollout(done, calls)


def test_a_failed_preview_shows_the_clis_error_and_changes_nothing(registry, emulator, tmp_path):
    message = "configuring AWS: no valid credential sources for Terraform AWS Provider found"
    done, calls = deploy(tmp_path, emulator, registry, None, FAKE_PULUMI_PREVIEW_FAILS=message)
    assert done.returncode == 1
    assert "the preview of dev failed; nothing was changed" in done.stderr and message in done.stderr
    assert calls == [calls[0]] and calls[0][0] == "preview", "no up after a failed preview"


def test_blocking_findings_stop_the_rollout_before_any_function_moves(dev_graph, registry, emulator, tmp_path):
    repository, digest = registry["predictor-arm64"].split("/", 1)[1].split("@")
    critical = {
        "registryId": "123456789012", "repositoryName": repository, "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findings": [{
            "name": "CVE-2026-0001", "severity": "CRITICAL", "uri": "https://nvd.nist.gov/vuln/detail/CVE-2026-0001",
            "attributes": [{"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "3.0.7"}],
        }]},
    }
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/static/ecr/scan-finding-results",
        data=json.dumps({"results": [critical], "region": "us-east-1"}).encode(), headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    done, calls = deploy(tmp_path, emulator, registry, preview(dev_graph, lambda r: "update" if "-build-" in r.name else "same"))
    assert done.returncode == 1
    assert "scan gate: FAIL" in done.stdout and "CVE-2026-0001" in done.stdout
    assert [call[:1] for call in calls] == [["preview"], ["up"], ["stack"]], "the full update never runs"
    assert "protect" not in done.stdout


def test_without_show_sames_an_unchanged_stack_would_look_imageless(dev_graph, tmp_path):
    """Why the flag is there: the CLI's JSON without it (as the fake replays it) has no image URNs."""
    (tmp_path / "preview.json").write_text(json.dumps(preview(dev_graph, lambda r: "same")))
    env = {**os.environ, "FAKE_PULUMI_LOG": str(tmp_path / "calls.jsonl"), "FAKE_PULUMI_PREVIEW": str(tmp_path / "preview.json")}
    for flags, expected in (([], 0), (["--show-sames"], len(IMAGE_RESOURCES))):
        shown = subprocess.run([str(FAKE / "pulumi"), "preview", "--json", *flags], env=env, capture_output=True, text=True, check=True).stdout
        found = subprocess.run([sys.executable, "-m", "tools.image_targets"], input=shown, capture_output=True, text=True, cwd=ROOT, check=True)
        assert len(found.stdout.split()) == expected


# --- build once, promote the tested digests: dev writes its release record, prod copies and runs it ---------

PROD_STACK_URN = "urn:pulumi:prod::commodity-forecasts::pulumi:pulumi:Stack::commodity-forecasts-prod"


@pytest.fixture
def released(emulator):
    """dev's images pushed as a build pushes them (real blobs, scanned), dev's functions on them, and prod's
    repositories and functions as prod's targeted and full updates leave them (functions on prod's copies)."""
    from tests.ecr_images import push

    emulator.reset()
    ecr, lam = emulator.client("ecr"), emulator.client("lambda")
    role = emulator.client("iam").create_role(RoleName="function", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    digests = {}
    for environment in ("dev", "prod"):
        for image in ("predictor", "trainer"):
            ecr.create_repository(repositoryName=f"commodity-forecasts/{environment}/{image}", imageScanningConfiguration={"scanOnPush": True})
    for image in ("predictor", "trainer"):
        digests[image] = push(ecr, f"commodity-forecasts/dev/{image}", image)[0]
    for environment in ("dev", "prod"):
        for name, image in (("corn", "predictor"), ("wheat", "predictor"), ("soybeans", "predictor"), ("trainer", "trainer"),
                            (PRICE_FEED, "predictor")):
            function = f"commodity-forecasts-{environment}-{name}"
            uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/{environment}/{image}@{digests[image]}"
            lam.create_function(FunctionName=function, Role=role, PackageType="Image", Publish=True, Architectures=["arm64"], Code={"ImageUri": uri})
            lam.create_alias(FunctionName=function, Name="live", FunctionVersion="1")
    return digests


def run_deploy(stack: str, tmp_path, emulator, plan: dict, **extra_env) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    (tmp_path / f"{stack}-preview.json").write_text(json.dumps(plan))
    env = {
        **os.environ, **emulator.environment, "PATH": f"{FAKE}{os.pathsep}{os.environ['PATH']}", "PYTHON": sys.executable,
        "FAKE_PULUMI_LOG": str(tmp_path / f"{stack}-calls.jsonl"), "FAKE_PULUMI_PREVIEW": str(tmp_path / f"{stack}-preview.json"),
        "FAKE_PULUMI_IMAGES": str(tmp_path / "images.json"), **extra_env,
    }
    done = subprocess.run(["bash", str(ROOT / "tools" / "deploy.sh"), stack], env=env, capture_output=True, text=True, timeout=300)
    log = tmp_path / f"{stack}-calls.jsonl"
    return done, [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def prod_preview(prod_graph) -> dict:
    steps = [{"op": "same", "urn": PROD_STACK_URN}]
    steps += [{"op": "same", "urn": r.urn, "newState": {"type": r.type, "urn": r.urn}} for r in prod_graph.resources]
    return {"steps": steps, "diagnostics": [], "changeSummary": {}}


def test_dev_records_its_release_and_prod_promotes_it_without_building(dev_graph, prod_graph, released, emulator, tmp_path):
    (tmp_path / "images.json").write_text(json.dumps({
        f"{image}-arm64": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/dev/{image}@{digest}"
        for image, digest in released.items()}))
    record = tmp_path / "release.json"
    done, calls = run_deploy("dev", tmp_path, emulator, preview(dev_graph, lambda r: "same"), COMMODITY_FORECASTS_RELEASE=str(record))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "deploy: 6/6 release record" in done.stdout
    written = json.loads(record.read_text())
    assert {i["image"]: i["digest"] for i in written["images"]} == released
    assert {i["scan"]["verdict"] for i in written["images"]} == {"pass"}

    done, calls = run_deploy("prod", tmp_path, emulator, prod_preview(prod_graph), COMMODITY_FORECASTS_RELEASE=str(record))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert [call[:1] for call in calls] == [["preview"], ["up"], ["up"]], "no stack output read: the record says what prod runs"
    assert not [call for call in calls if call[0] == "docker"], "prod builds nothing: no registry login"
    assert targets(calls[1]) == sorted([
        "predictor", "predictor-repo", "predictor-lifecycle", "predictor-policy", "trainer", "trainer-repo", "trainer-lifecycle",
        "trainer-policy", "predictor-arm64", "trainer-arm64"]), "step 1 creates prod's repositories; no build exists"
    assert done.stdout.count("copied into commodity-forecasts/prod/") == 2
    assert "scan gate: pass - 2 image(s)" in done.stdout, "the gate judges prod's copies"
    assert "protected images: 2 in 2 repository(ies)" in done.stdout and "commodity-forecasts-prod-trainer live (version 1): Active" in done.stdout
    assert "6/6" not in done.stdout, "a promoting stack writes no release record"
    ecr = emulator.client("ecr")
    for image, digest in released.items():
        [detail] = ecr.describe_images(repositoryName=f"commodity-forecasts/prod/{image}", imageIds=[{"imageDigest": digest}])["imageDetails"]
        assert f"release-arm64-promoted-{digest.removeprefix('sha256:')}" in detail["imageTags"]


def test_prod_without_a_record_changes_nothing(released, emulator, tmp_path):
    done, calls = run_deploy("prod", tmp_path, emulator, {"steps": []})
    assert done.returncode == 1 and calls == []
    assert "prod promotes (copy) and builds nothing: set COMMODITY_FORECASTS_RELEASE" in done.stderr


def test_a_record_whose_digest_did_not_pass_stops_prod_before_any_function_moves(prod_graph, released, emulator, tmp_path):
    from tools.program_graph import release_of

    record = json.loads(release_of(run_stack_dev(), "dev").to_json())
    for image in record["images"]:
        image["digest"] = released[image["image"]]
        image["scan"] = {**image["scan"], "verdict": "blocked", "blocking": ["CVE-2026-0001"]}
    for function in record["functions"]:
        function["digest"] = released[function["image"]]
    (tmp_path / "release.json").write_text(json.dumps(record))
    done, calls = run_deploy("prod", tmp_path, emulator, prod_preview(prod_graph), COMMODITY_FORECASTS_RELEASE=str(tmp_path / "release.json"))
    assert done.returncode == 1
    assert "did not pass dev's scan gate (blocked: CVE-2026-0001)" in done.stderr
    assert [call[:1] for call in calls] == [["preview"], ["up"]], "the full update never runs"
    assert not emulator.client("ecr").describe_images(repositoryName="commodity-forecasts/prod/predictor")["imageDetails"], "nothing copied"


def run_stack_dev():
    from tools.program_graph import run_stack

    return run_stack("dev")
