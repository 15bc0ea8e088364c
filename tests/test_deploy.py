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
