"""The image vulnerability gate, driven by botocore's Stubber: every verdict and every way to fail."""

from __future__ import annotations

import io
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber

from stack_config import AllowedFinding, ScanGateSettings
from tools.scan_gate import main, run

DIGEST = "sha256:" + "c0" * 32
URI = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/prod/predictor@{DIGEST}"
TODAY = date(2026, 11, 23)
REQUEST = {"registryId": "123456789012", "repositoryName": "commodity-forecasts/prod/predictor", "imageId": {"imageDigest": DIGEST}}


def finding(cve: str, severity: str, package: str = "openssl", version: str = "3.0.7") -> dict:
    return {"name": cve, "severity": severity, "uri": f"https://nvd.nist.gov/vuln/detail/{cve}",
            "attributes": [{"key": "package_name", "value": package}, {"key": "package_version", "value": version}]}


def complete(*findings: dict, next_token: str | None = None) -> dict:
    page = {"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {"findings": list(findings)}}
    if next_token:
        page["nextToken"] = next_token
    return page


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def gate(responses: list, settings: ScanGateSettings = ScanGateSettings(), timeout: float = 60):
    client = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    clock = FakeClock()
    out = io.StringIO()
    with Stubber(client) as stubber:
        for response in responses:
            if isinstance(response, str):
                stubber.add_client_error("describe_image_scan_findings", service_error_code=response, expected_params=REQUEST)
            else:
                expected = dict(REQUEST, **({"nextToken": response.pop("_token")} if "_token" in response else {}))
                stubber.add_response("describe_image_scan_findings", response, expected)
        status = run([URI], settings, client_for=lambda region: client, today=TODAY, timeout_seconds=timeout,
                     poll_seconds=10, sleep=clock.sleep, clock=clock, out=out)
        stubber.assert_no_pending_responses()
    return status, out.getvalue(), clock


def test_clean_image_passes():
    status, output, _ = gate([complete()])
    assert status == 0
    assert "scan gate: pass" in output


def test_critical_finding_fails_with_a_table():
    status, output, _ = gate([complete(finding("CVE-2026-1111", "CRITICAL"), finding("CVE-2026-2222", "HIGH", "zlib", "1.2.13"))])
    assert status == 1
    lines = output.splitlines()
    assert lines[0].split() == ["image", "finding", "severity", "package", "verdict"]
    assert "CVE-2026-1111  CRITICAL  openssl 3.0.7  BLOCKING" in output
    assert "CVE-2026-2222  HIGH      zlib 1.2.13    below threshold" in output
    assert "FAIL - 1 finding(s) at or above CRITICAL are not allow-listed" in output


def test_allow_listed_critical_finding_passes_until_it_expires():
    settings = ScanGateSettings(allow_list=(AllowedFinding("CVE-2026-1111", date(2026, 12, 31), "openssl not reachable"),))
    status, output, _ = gate([complete(finding("CVE-2026-1111", "CRITICAL"))], settings)
    assert status == 0
    assert "allowed until 2026-12-31" in output


def test_expired_allow_list_entry_blocks_again():
    settings = ScanGateSettings(allow_list=(AllowedFinding("CVE-2026-1111", date(2026, 11, 1), "was waiting for a fix"),))
    status, output, _ = gate([complete(finding("CVE-2026-1111", "CRITICAL"))], settings)
    assert status == 1
    assert "EXPIRED allow-list (2026-11-01)" in output


def test_lower_threshold_blocks_high_findings():
    status, output, _ = gate([complete(finding("CVE-2026-2222", "HIGH"))], ScanGateSettings(severity_threshold="HIGH"))
    assert status == 1 and "BLOCKING" in output


def test_scan_failed_cannot_decide():
    failed = {"imageScanStatus": {"status": "FAILED", "description": "UnsupportedImageError: unsupported OS"}}
    status, output, _ = gate([failed])
    assert status == 2
    assert "ended with FAILED: UnsupportedImageError: unsupported OS" in output


def test_scan_that_never_completes_times_out_with_a_clear_error():
    in_progress = {"imageScanStatus": {"status": "IN_PROGRESS"}}
    status, output, clock = gate([dict(in_progress) for _ in range(7)], timeout=60)
    assert status == 2
    assert f"scan of {URI} did not complete within 60 s (last status: IN_PROGRESS)" in output
    assert clock.slept == [10] * 6, "polls every 10 s until the deadline, never sleeping past it"


def test_waits_for_a_scan_that_has_not_started_yet():
    status, output, clock = gate(["ScanNotFoundException", {"imageScanStatus": {"status": "IN_PROGRESS"}}, complete()])
    assert status == 0
    assert clock.slept == [10, 10]


def test_reads_every_page_of_findings():
    second = complete(finding("CVE-2026-3333", "CRITICAL"))
    second["_token"] = "page-2"
    status, output, _ = gate([complete(finding("CVE-2026-0001", "LOW"), next_token="page-2"), second])
    assert status == 1 and "CVE-2026-3333" in output


def test_understands_enhanced_scanning_findings():
    enhanced = {
        "imageScanStatus": {"status": "ACTIVE"},
        "imageScanFindings": {"enhancedFindings": [{
            "severity": "CRITICAL", "title": "CVE-2026-4444 - glibc",
            "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-4444",
                                            "vulnerablePackages": [{"name": "glibc", "version": "2.34"}]},
        }]},
    }
    status, output, _ = gate([enhanced])
    assert status == 1 and "CVE-2026-4444  CRITICAL  glibc 2.34" in output


def test_image_not_pinned_by_digest_is_refused():
    out = io.StringIO()
    status = run(["123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:latest"], ScanGateSettings(),
                 client_for=lambda region: None, today=TODAY, out=out)
    assert status == 2 and "is not an ECR image pinned by digest" in out.getvalue()


def test_command_line_requires_images(capsys):
    assert main(["--stack", "prod"]) == 2
    assert "give --image-uri or --images-json" in capsys.readouterr().out


@pytest.mark.parametrize("argv, stdin, message", [
    (["--stack", "staging", "--image-uri", URI], "", "Pulumi.staging.yaml does not exist"),
    (["--stack", "prod", "--images-json", "-"], "{not json", "--images-json is not JSON"),
    (["--stack", "prod", "--images-json", "-"], '["a"]', "--images-json must be a non-empty object"),
    (["--stack", "prod", "--images-json", "-"], "{}", "--images-json must be a non-empty object"),
    (["--stack", "prod", "--image-uri", "predictor:latest"], "", "is not an ECR image pinned by digest"),
], ids=["unknown stack", "malformed JSON", "not an object", "no images", "not a digest"])
def test_what_the_gate_cannot_decide_exits_2(argv, stdin, message, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(argv) == 2
    assert message in capsys.readouterr().out


def test_missing_credentials_exit_2(capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # boto3's default session caches the credentials it first resolved (other tests' emulator): start afresh.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    assert main(["--stack", "prod", "--image-uri", URI, "--timeout", "0"]) == 2
    assert "cannot decide: NoCredentialsError" in capsys.readouterr().out


def test_help_documents_every_exit_code(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    text = capsys.readouterr().out
    for phrase in ("0 the images may ship", "1 blocking findings", "2 the gate could not decide", "no AWS credentials", "--images-json"):
        assert phrase in " ".join(text.split()), phrase


def test_the_verdict_on_each_image_is_kept_for_the_release_record(tmp_path):
    """pass, blocked (with the finding ids) and undecided (with the reason), by image URI, merged into the file."""
    from tools.scan_gate import read_verdicts, write_verdicts

    outcomes = {}
    for responses in ([complete(finding("CVE-1", "LOW"))], [complete(finding("CVE-2", "CRITICAL"))], ["ServerException"]):
        client = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        verdicts: dict = {}
        with Stubber(client) as stubber:
            for response in responses:
                if isinstance(response, str):
                    stubber.add_client_error("describe_image_scan_findings", service_error_code=response, expected_params=REQUEST)
                else:
                    stubber.add_response("describe_image_scan_findings", response, REQUEST)
            status = run([URI], ScanGateSettings(), client_for=lambda region: client, today=TODAY, out=io.StringIO(), verdicts=verdicts)
        outcomes[status] = verdicts[URI]
    assert (outcomes[0].verdict, outcomes[0].blocking) == ("pass", ())
    assert (outcomes[1].verdict, outcomes[1].blocking) == ("blocked", ("CVE-2",))
    assert outcomes[2].verdict == "undecided" and "ServerException" in outcomes[2].reason
    path = tmp_path / "verdicts.json"
    write_verdicts(path, {URI: outcomes[1]})
    other = URI.replace("predictor", "trainer")
    write_verdicts(path, {other: outcomes[0]})
    assert read_verdicts(path) == {URI: outcomes[1], other: outcomes[0]}
    assert all(v.checked == TODAY.isoformat() and v.severity_threshold == "CRITICAL" for v in outcomes.values())
