"""Every scan status in botocore's ECR model is decided by the gate: judged (COMPLETE, ACTIVE), waited for
(IN_PROGRESS, PENDING), or final with its meaning at once (no 900-second wait). Against moto's ECR, whose
scan results are set through its API (the status an image's scan reports is whatever ECR would say), and
with botocore's Stubber for the one sequence moto cannot give: an expired image rescanned, then complete."""

from __future__ import annotations

import gzip
import io
import json
from datetime import date
from pathlib import Path

import boto3
import botocore
import pytest
import requests
from botocore.stub import Stubber
from moto import mock_aws

from stack_config import ScanGateSettings
from tools.scan_gate import _DONE, _WAITING, EXPIRED, UNDECIDABLE, run

REPOSITORY = "commodity-forecasts/dev/predictor"
TODAY = date(2026, 11, 23)


def model_statuses() -> set[str]:
    """ScanStatus as botocore's ECR service model defines it."""
    [model] = (Path(botocore.__file__).parent / "data" / "ecr").glob("*/service-2.json*")
    data = json.loads(gzip.decompress(model.read_bytes()) if model.suffix == ".gz" else model.read_text())
    return set(data["shapes"]["ScanStatus"]["enum"])


def test_every_status_of_the_model_is_decided():
    statuses = model_statuses()
    classified = _DONE | (_WAITING - {"not started"}) | set(UNDECIDABLE) | {EXPIRED}
    assert statuses == classified, f"unclassified: {sorted(statuses - classified)}; gone from the model: {sorted(classified - statuses)}"
    assert {"LIMIT_EXCEEDED", "IMAGE_ARCHIVED", "IMAGE_SIZE_EXCEEDED"} <= set(UNDECIDABLE), "final, so never waited for"


class Clock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def ecr():
    """moto's ECR with one pushed image, scanned on push."""
    with mock_aws():
        client = boto3.client("ecr", region_name="us-east-1")
        client.create_repository(repositoryName=REPOSITORY)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": "sha256:" + "ab" * 32},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 1, "digest": "sha256:" + "cd" * 32}]})
        digest = client.put_image(repositoryName=REPOSITORY, imageManifest=manifest, imageTag="release-arm64-1")["image"]["imageId"]["imageDigest"]
        client.start_image_scan(repositoryName=REPOSITORY, imageId={"imageDigest": digest})
        yield client, digest


def report(digest: str, status: str, description: str = "", **findings) -> None:
    """What moto's ECR answers for the image's scan (its static scan-result API)."""
    result = {"registryId": "123456789012", "repositoryName": REPOSITORY, "imageId": {"imageDigest": digest},
              "imageScanStatus": {"status": status, **({"description": description} if description else {})}}
    if findings:
        result["imageScanFindings"] = findings
    requests.post("http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results",
                  json={"results": [result], "region": "us-east-1"}, timeout=10).raise_for_status()


def gate(client, digest: str, timeout: float = 900) -> tuple[int, str, Clock]:
    clock, out = Clock(), io.StringIO()
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}@{digest}"
    status = run([uri], ScanGateSettings(), client_for=lambda region: client, today=TODAY, timeout_seconds=timeout,
                 poll_seconds=15, sleep=clock.sleep, clock=clock, out=out)
    return status, out.getvalue(), clock


@pytest.mark.parametrize("status", sorted(UNDECIDABLE))
def test_a_final_status_without_findings_cannot_decide_at_once(ecr, status):
    client, digest = ecr
    report(digest, status)
    code, said, clock = gate(client, digest)
    assert code == 2
    assert f"scan of 123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}@{digest} ended with {status}: {UNDECIDABLE[status]}" in said
    assert clock.slept == [], "a final status is never polled for"


def test_an_active_continuous_scan_is_judged(ecr):
    client, digest = ecr
    report(digest, "ACTIVE", enhancedFindings=[{
        "severity": "CRITICAL", "title": "CVE-2026-4444 - numpy",
        "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-4444", "vulnerablePackages": [{"name": "numpy", "version": "2.3.5"}]},
    }])
    code, said, _ = gate(client, digest)
    assert code == 1 and "CVE-2026-4444  CRITICAL  numpy 2.3.5  BLOCKING" in said


def test_a_clean_complete_scan_passes(ecr):
    client, digest = ecr
    report(digest, "COMPLETE", findings=[])
    assert gate(client, digest)[0] == 0


def test_an_expired_image_whose_rescan_ecr_refuses_says_why_and_what_to_do(ecr):
    """moto refuses a second scan of the same day (LimitExceededException), as basic scanning does; enhanced
    scanning refuses manual scans altogether."""
    client, digest = ecr
    report(digest, EXPIRED)
    code, said, clock = gate(client, digest)
    assert code == 2
    assert f"scan eligibility of 123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}@{digest} expired and ECR refused a rescan (LimitExceededException" in said
    assert "Rebuild it" in said and clock.slept == []


def test_a_pending_scan_is_waited_for_until_the_deadline(ecr):
    client, digest = ecr
    report(digest, "PENDING")
    code, said, clock = gate(client, digest, timeout=60)
    assert code == 2 and "did not complete within 60 s (last status: PENDING)" in said
    assert clock.slept == [15] * 4


def test_an_expired_image_is_rescanned_once_and_judged():
    """The sequence moto cannot give (its scan result stays what was set): expired, rescan accepted, in
    progress, complete. Every request and answer is checked against ECR's model."""
    client = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    digest = "sha256:" + "c0" * 32
    image = {"registryId": "123456789012", "repositoryName": REPOSITORY, "imageId": {"imageDigest": digest}}
    with Stubber(client) as stubber:
        stubber.add_response("describe_image_scan_findings", {"imageScanStatus": {"status": EXPIRED}}, image)
        stubber.add_response("start_image_scan", {**image, "imageScanStatus": {"status": "IN_PROGRESS"}}, image)
        stubber.add_response("describe_image_scan_findings", {"imageScanStatus": {"status": "IN_PROGRESS"}}, image)
        stubber.add_response("describe_image_scan_findings", {"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {"findings": []}}, image)
        code, said, clock = gate(client, digest)
        stubber.assert_no_pending_responses()
    assert code == 0 and clock.slept == [15, 15]


def test_an_image_still_expired_after_its_rescan_cannot_decide():
    client = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    digest = "sha256:" + "c0" * 32
    image = {"registryId": "123456789012", "repositoryName": REPOSITORY, "imageId": {"imageDigest": digest}}
    with Stubber(client) as stubber:
        stubber.add_response("describe_image_scan_findings", {"imageScanStatus": {"status": EXPIRED}}, image)
        stubber.add_response("start_image_scan", {**image, "imageScanStatus": {"status": "IN_PROGRESS"}}, image)
        stubber.add_response("describe_image_scan_findings", {"imageScanStatus": {"status": EXPIRED}}, image)
        code, said, _ = gate(client, digest)
    assert code == 2 and f"is still {EXPIRED} after a rescan" in said
