"""Image vulnerability gate: wait for ECR's scan of each pushed digest, then fail on findings at or
above the stack's severity threshold that are not allow-listed (or whose allow-listing expired).

    pulumi stack output images --json | python -m tools.scan_gate --stack prod --images-json -
    python -m tools.scan_gate --stack prod --image-uri <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>

With --verdict-file FILE it also writes its verdict on each image it judged, by image URI (pass, blocked
with the blocking finding ids, or undecided with the reason): the release record carries the verdict on
each digest it releases (tools/release.py), so a promoting stack runs only what passed.

Exit status: 0 the images may ship; 1 blocking findings (table printed); 2 the gate could not decide
(the scan ended without findings to judge: failed, unsupported or archived image, limit or size exceeded,
findings unavailable, or eligibility expired and a rescan refused; no result before --timeout; bad
arguments, malformed --images-json, unknown stack or invalid stack file, no AWS credentials, any AWS error).

Every scan status in botocore's ECR model (ScanStatus) is decided: COMPLETE (basic) and ACTIVE (enhanced,
continuous) have findings to judge; IN_PROGRESS and PENDING are waited for; every other status ends the
wait at once with its meaning. SCAN_ELIGIBILITY_EXPIRED (continuous scanning lapses some time after an
image was pushed, so an unchanged image reaches it) asks ECR for a new scan once (StartImageScan) and
waits for it; when ECR refuses (enhanced scanning has no manual scans), the gate says why and what to do.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterable, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from stack_config import SEVERITIES, AllowedFinding, ScanGateSettings, SettingsError, settings_from_config, stack_config
from stack_config.release import ScanVerdict
from tools.reach import IMAGE_URI

ROOT = Path(__file__).resolve().parent.parent

_DONE = {"COMPLETE", "ACTIVE"}
"""A scan whose findings can be judged: basic scanning's COMPLETE, enhanced scanning's ACTIVE."""
_WAITING = {"IN_PROGRESS", "PENDING", "not started"}
EXPIRED = "SCAN_ELIGIBILITY_EXPIRED"
UNDECIDABLE = {
    "FAILED": "the scan failed",
    "UNSUPPORTED_IMAGE": "ECR cannot scan this image (its operating system or media type)",
    "FINDINGS_UNAVAILABLE": "its findings are unavailable (Inspector closes them when an image leaves continuous scanning)",
    "LIMIT_EXCEEDED": "a scan limit was exceeded (basic scanning scans an image at most once a day)",
    "IMAGE_ARCHIVED": "the image is archived; restore it before it can be scanned or run",
    "IMAGE_SIZE_EXCEEDED": "the image is larger than the scanner accepts",
}
"""Final statuses without findings to judge, and what each means (botocore's ECR model, ScanStatus)."""


class GateError(Exception):
    """The gate cannot reach a verdict for an image."""


@dataclass(frozen=True)
class Image:
    uri: str
    registry_id: str
    region: str
    repository: str
    digest: str

    @classmethod
    def parse(cls, uri: str) -> "Image":
        match = IMAGE_URI.match(uri)
        if not match:
            raise GateError(f"{uri!r} is not an ECR image pinned by digest (<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>)")
        return cls(uri, *match.groups())


@dataclass(frozen=True)
class Finding:
    image: str
    id: str
    severity: str
    package: str
    verdict: str
    """`BLOCKING`, `allowed until <date>`, `EXPIRED allow-list (<date>)` (blocking), or `below threshold`."""

    @property
    def blocking(self) -> bool:
        return self.verdict == "BLOCKING" or self.verdict.startswith("EXPIRED")


def wait_for_findings(
    client, image: Image, *, timeout_seconds: float, poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
) -> list[dict]:
    """All findings of the completed scan of `image` (basic or enhanced scanning)."""
    deadline = clock() + timeout_seconds
    status, rescanned = "not started", False
    while True:
        page = _scan(client, image)
        status = page.get("imageScanStatus", {}).get("status", "UNKNOWN") if page is not None else "not started"
        if status in _DONE:
            return _all_findings(client, image, page)
        if status == EXPIRED:
            if rescanned:
                raise GateError(f"scan of {image.uri} is still {EXPIRED} after a rescan; {_EXPIRED_FIX}")
            _rescan(client, image)
            rescanned = True
        elif status in UNDECIDABLE:
            reason = page.get("imageScanStatus", {}).get("description", "")
            meaning = UNDECIDABLE[status]
            raise GateError(f"scan of {image.uri} ended with {status}: " + (f"{reason} ({meaning})" if reason else meaning))
        elif status not in _WAITING:
            raise GateError(f"scan of {image.uri} has status {status}, which botocore's ECR model does not know")
        if clock() >= deadline:
            raise GateError(f"scan of {image.uri} did not complete within {timeout_seconds:.0f} s (last status: {status})")
        sleep(poll_seconds)


def _scan(client, image: Image) -> dict | None:
    try:
        return client.describe_image_scan_findings(
            registryId=image.registry_id, repositoryName=image.repository, imageId={"imageDigest": image.digest}
        )
    except client.exceptions.ScanNotFoundException:
        return None


_EXPIRED_FIX = (
    "continuous scanning stopped watching this unchanged image. Rebuild it (a base-image bump or any change under "
    "images/ pushes a new digest), or lengthen Amazon Inspector's ECR re-scan duration"
)


def _rescan(client, image: Image) -> None:
    """Ask for a new scan of an image whose scan eligibility expired; refusal is the gate's verdict."""
    try:
        client.start_image_scan(registryId=image.registry_id, repositoryName=image.repository, imageId={"imageDigest": image.digest})
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", type(error).__name__)
        message = error.response.get("Error", {}).get("Message", "")
        raise GateError(f"scan eligibility of {image.uri} expired and ECR refused a rescan ({code}: {message}); {_EXPIRED_FIX}") from None


def _all_findings(client, image: Image, page: dict) -> list[dict]:
    findings = []
    while True:
        result = page.get("imageScanFindings", {})
        for finding in result.get("findings", []):
            attributes = {a["key"]: a.get("value", "") for a in finding.get("attributes", [])}
            package = " ".join(filter(None, (attributes.get("package_name"), attributes.get("package_version"))))
            findings.append({"id": finding.get("name", "?"), "severity": finding.get("severity", "UNDEFINED"), "package": package})
        for finding in result.get("enhancedFindings", []):
            details = finding.get("packageVulnerabilityDetails", {})
            packages = details.get("vulnerablePackages", [])
            package = " ".join(filter(None, (packages[0].get("name"), packages[0].get("version")))) if packages else ""
            findings.append({
                "id": details.get("vulnerabilityId") or finding.get("title", "?"),
                "severity": finding.get("severity", "UNDEFINED"),
                "package": package,
            })
        token = page.get("nextToken")
        if not token:
            return findings
        page = client.describe_image_scan_findings(
            registryId=image.registry_id, repositoryName=image.repository,
            imageId={"imageDigest": image.digest}, nextToken=token,
        )


def judge(image: Image, findings: Iterable[dict], gate: ScanGateSettings, today: date) -> list[Finding]:
    threshold = SEVERITIES.index(gate.severity_threshold)
    allowed: dict[str, AllowedFinding] = {entry.id: entry for entry in gate.allow_list}
    judged = []
    for finding in findings:
        rank = SEVERITIES.index(finding["severity"]) if finding["severity"] in SEVERITIES else -1
        if rank < threshold:
            verdict = "below threshold"
        elif finding["id"] in allowed and allowed[finding["id"]].expires >= today:
            verdict = f"allowed until {allowed[finding['id']].expires.isoformat()}"
        elif finding["id"] in allowed:
            verdict = f"EXPIRED allow-list ({allowed[finding['id']].expires.isoformat()})"
        else:
            verdict = "BLOCKING"
        judged.append(Finding(image.uri.rsplit("/", 1)[-1], finding["id"], finding["severity"], finding["package"], verdict))
    return judged


def render(findings: list[Finding]) -> str:
    if not findings:
        return "no findings"
    order = {severity: index for index, severity in enumerate(reversed(SEVERITIES))}
    rows = sorted(findings, key=lambda f: (not f.blocking, order.get(f.severity, 99), f.id))
    headers = ("image", "finding", "severity", "package", "verdict")
    table = [headers] + [(f.image[:40], f.id, f.severity, f.package, f.verdict) for f in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


SCAN_TIMEOUT_SECONDS = 900.0
"""How long the gate waits for ECR's scan of one image before it cannot decide (exit 2)."""


def run(
    uris: list[str], gate: ScanGateSettings, *, client_for: Callable[[str], object], today: date,
    timeout_seconds: float = SCAN_TIMEOUT_SECONDS, poll_seconds: float = 15,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic, out: TextIO | None = None,
    verdicts: dict[str, ScanVerdict] | None = None,
) -> int:
    """Judge every image; `verdicts` (when given) receives the verdict on each image judged, by URI."""
    out = out or sys.stdout
    verdicts = {} if verdicts is None else verdicts
    judged: list[Finding] = []
    uri = ""
    try:
        for uri in uris:
            image = Image.parse(uri)
            findings = wait_for_findings(
                client_for(image.region), image, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds, sleep=sleep, clock=clock
            )
            mine = judge(image, findings, gate, today)
            judged += mine
            blocking = tuple(sorted({f.id for f in mine if f.blocking}))
            verdicts[uri] = ScanVerdict("blocked" if blocking else "pass", gate.severity_threshold, blocking, checked=today.isoformat())
    except (GateError, ClientError, BotoCoreError) as error:  # BotoCoreError includes NoCredentialsError
        reason = str(error) if isinstance(error, GateError) else f"{type(error).__name__}: {error}"
        verdicts[uri] = ScanVerdict("undecided", gate.severity_threshold, reason=reason, checked=today.isoformat())
        print(f"scan gate: cannot decide: {reason}", file=out)
        return 2
    print(render(judged), file=out)
    blocking = [f for f in judged if f.blocking]
    if blocking:
        print(f"\nscan gate: FAIL - {len(blocking)} finding(s) at or above {gate.severity_threshold} are not allow-listed", file=out)
        return 1
    print(f"\nscan gate: pass - {len(uris)} image(s), nothing at or above {gate.severity_threshold} outside the allow-list", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.scan_gate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", required=True, help="stack whose threshold and allow-list apply (Pulumi.<stack>.yaml)")
    parser.add_argument("--image-uri", action="append", default=[], help="repo@sha256:digest to check; repeatable")
    parser.add_argument("--images-json", help="file (or - for stdin) with `pulumi stack output images --json`: an object of name to image URI")
    parser.add_argument("--timeout", type=float, default=SCAN_TIMEOUT_SECONDS, help=f"seconds to wait for each scan (default {SCAN_TIMEOUT_SECONDS:g})")
    parser.add_argument("--poll", type=float, default=15, help="seconds between polls (default 15)")
    parser.add_argument("--verdict-file", help="write the verdict on each image judged here (JSON: image URI to verdict)")
    args = parser.parse_args(argv)  # bad arguments: argparse exits 2
    try:
        uris = list(args.image_uri) + (_images_json(args.images_json) if args.images_json else [])
        if not uris:
            raise GateError("give --image-uri or --images-json")
        settings = settings_from_config(stack_config(ROOT, args.stack), stack=args.stack, project_dir=ROOT)
    except FileNotFoundError as error:
        print(f"scan gate: cannot decide: {error.filename} does not exist (unknown stack or file)", file=sys.stdout)
        return 2
    except (GateError, SettingsError) as error:
        print(f"scan gate: cannot decide: {error}", file=sys.stdout)
        return 2

    import boto3

    verdicts: dict[str, ScanVerdict] = {}
    try:
        return run(
            uris, settings.scan_gate, client_for=lambda region: boto3.client("ecr", region_name=region),
            today=date.today(), timeout_seconds=args.timeout, poll_seconds=args.poll, verdicts=verdicts,
        )
    finally:
        if args.verdict_file:
            write_verdicts(Path(args.verdict_file), verdicts)


VERDICTS_FORMAT = 1


def write_verdicts(path: Path, verdicts: dict[str, ScanVerdict]) -> None:
    """Merged into what the file holds already: one file can gather the verdicts of several runs of the gate."""
    known = read_verdicts(path) if path.exists() else {}
    document = {"format": VERDICTS_FORMAT, "verdicts": {uri: asdict(v) for uri, v in sorted({**known, **verdicts}.items())}}
    path.write_text(json.dumps(document, indent=2) + "\n")


def read_verdicts(path: Path) -> dict[str, ScanVerdict]:
    document = json.loads(path.read_text())
    if document.get("format") != VERDICTS_FORMAT:
        raise GateError(f"{path} is not a verdict file of format {VERDICTS_FORMAT} (python -m tools.scan_gate --verdict-file)")
    return {uri: ScanVerdict(**{**body, "blocking": tuple(body.get("blocking") or ())}) for uri, body in document["verdicts"].items()}


def _images_json(source: str) -> list[str]:
    """Image URIs from `pulumi stack output images --json` (an object of name → URI)."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise GateError(f"--images-json is not JSON ({error.msg} at line {error.lineno}): {text[:80]!r}") from None
    if not isinstance(document, dict) or not document or not all(isinstance(v, str) for v in document.values()):
        raise GateError(f"--images-json must be a non-empty object of image name to URI, got {text[:80]!r}")
    return list(document.values())


if __name__ == "__main__":
    sys.exit(main())
