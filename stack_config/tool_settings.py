"""Settings only the operator tools read: the image vulnerability gate's (tools/scan_gate.py), rollback
reach (tools/reach.py, used by tools/rollback.py and tools/protect_images.py) and the cost estimate's
(tools/cost/). The program reads one of them: the gate's severity threshold and allow list also choose
which Inspector findings page (components/monitoring.py), so that what would block a deploy pages when
it appears on a running image."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Mapping

from common.contract import Knob as Range
from components.limits import MAX_IMAGE_MB, TIMEOUT_SECONDS
from components.monitoring import FINDING_SEVERITIES
from stack_config.reader import Doc, Reader, SettingsError, decode, doc_of

# What the cost estimate assumes where the program cannot know it.
EXPECTED_DURATION_SECONDS = Range(
    "expected_duration_seconds", 30, 1, TIMEOUT_SECONDS.maximum,
    "What one run is expected to take, seconds (at most the function's timeout); only `make cost` reads it.",
)
COST_LOG_KB_PER_RUN = Range("cost_log_kb_per_run", 20, 0, 1_000_000, "Log data one run writes, KB (only `make cost` reads the `cost_*` keys).")
COST_DATA_GB = Range("cost_data_gb", 1, 0, 1_000_000, "Data kept in the stack's bucket, GB.")
COST_CHANGED_MB_PER_RELEASE = Range("cost_changed_mb_per_release", 10, 0, 100_000, "New layer data each older kept release adds in ECR, MB.")
COST_PUSHES_PER_MONTH = Range(
    "cost_pushes_per_month", 4, 0, 1000,
    "New builds of each image pushed a month (base-image bumps, code changes): Inspector scans each once.")
COST_RESCANS_PER_IMAGE_MONTH = Range(
    "cost_rescans_per_image_month", 4, 0, 1000,
    "Inspector rescans of each kept image a month under continuous scanning (one per new CVE that affects it).")

ROLLBACK_VERSIONS = Range(
    "rollback_versions", 3, 2, 100,
    "Newest published versions of each function within rollback reach (with the version `live` is on and a pinned "
    "`live_version`): `tools/rollback` goes back only within it, and their images are never expired.",
)

SEVERITIES = FINDING_SEVERITIES
"""ECR finding severities, least to most severe (one list: the findings rule pages on the same ones)."""


@dataclass(frozen=True)
class AllowedFinding:
    """A reviewed finding the image gate lets through until `expires`."""

    id: str
    expires: date
    reason: str


@dataclass(frozen=True)
class ScanGateSettings:
    """What the image vulnerability gate blocks: findings at or above the threshold not allow-listed."""

    severity_threshold: str = "CRITICAL"
    """The least severe finding that blocks a rollout."""
    allow_list: tuple[AllowedFinding, ...] = ()
    """Reviewed findings let through until each one's `expires` date (see Guardrails)."""


@dataclass(frozen=True)
class RollbackSettings:
    """Rollback reach (tools/reach.py): which versions a rollback may pick, so whose images are kept."""

    versions: int = int(ROLLBACK_VERSIONS.default)
    """The newest published versions of each function within reach."""


@dataclass(frozen=True)
class CostSettings:
    """Usage the cost estimate (`tools.cost`) assumes where the program cannot know it."""

    log_kb_per_run: int = int(COST_LOG_KB_PER_RUN.default)
    data_gb: int = int(COST_DATA_GB.default)
    changed_mb_per_release: int = int(COST_CHANGED_MB_PER_RELEASE.default)
    pushes_per_month: int = int(COST_PUSHES_PER_MONTH.default)
    rescans_per_image_month: int = int(COST_RESCANS_PER_IMAGE_MONTH.default)
    image_mb: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Image → MB stored in ECR per build; an image not listed is measured by `make images`, else estimated
    at its Dockerfile's size budget."""


@dataclass(frozen=True)
class DeliverySettings:
    """What the delivery identities of this stack may do (the bootstrap reads these; tools/identities/)."""

    break_glass_data_changes: bool = False
    """A protected stack's deploy role may then also delete objects and versions, change versioning,
    lifecycle and point-in-time recovery, and delete the table and log groups: needed once, for the first
    deployment of a protected stack, and for any deliberate change to those. Set it, re-run the bootstrap
    as an administrator, deploy, then remove it and re-run the bootstrap."""


def delivery(top: Reader) -> DeliverySettings:
    return DeliverySettings(
        break_glass_data_changes=top.boolean(
            "break_glass_data_changes", DeliverySettings.break_glass_data_changes, doc=doc_of(DeliverySettings, "break_glass_data_changes"),
        ),
    )


def scan_gate(top: Reader) -> ScanGateSettings:
    return ScanGateSettings(
        severity_threshold=top.string(
            "scan_severity_threshold", ScanGateSettings.severity_threshold, choices=SEVERITIES,
            doc=Doc("The least severe ECR finding that blocks a rollout (tools/scan_gate.py)."),
        ),
        allow_list=_allow_list(top),
    )


def _allow_list(top: Reader) -> tuple[AllowedFinding, ...]:
    entries = []
    bodies = top.object_list("scan_allow_list", doc=Doc("Reviewed findings the gate lets through until they expire (see Guardrails).",
                                                         allowed="`{id, expires: YYYY-MM-DD, reason}` entries"))
    for index, body in enumerate(bodies):
        reader = Reader(f"scan_allow_list[{index}]", body)
        finding_id = reader.string("id", pattern=re.compile(r"^\S{3,128}$"), pattern_text="a finding id such as CVE-2024-12345")
        raw_expiry = reader.string("expires")
        try:
            expires = date.fromisoformat(raw_expiry)
        except ValueError:
            raise SettingsError(f"{reader.key('expires')} must be a YYYY-MM-DD date, got {raw_expiry!r}") from None
        reason = reader.string("reason", max_length=500)
        if not reason.strip():
            raise SettingsError(f"{reader.key('reason')} must say why the finding is accepted")
        reader.finish()
        entries.append(AllowedFinding(finding_id, expires, reason))
    return tuple(entries)


def cost(top: Reader) -> CostSettings:
    image_mb = {}
    for image, value in top.object("cost_image_mb", doc=Doc(
        "MB each image stores in ECR per build, for `make cost`.", default="each image's measured size, else its size budget",
        allowed="`{<image>: MB}`",
    )).items():
        image_mb[image] = decode(f"cost_image_mb.{image}", value, int)
        if not 1 <= image_mb[image] <= MAX_IMAGE_MB:
            raise SettingsError(f"cost_image_mb.{image} must be between 1 and {MAX_IMAGE_MB}, got {image_mb[image]}")
    return CostSettings(
        log_kb_per_run=top.ranged(COST_LOG_KB_PER_RUN),
        data_gb=top.ranged(COST_DATA_GB),
        changed_mb_per_release=top.ranged(COST_CHANGED_MB_PER_RELEASE),
        pushes_per_month=top.ranged(COST_PUSHES_PER_MONTH),
        rescans_per_image_month=top.ranged(COST_RESCANS_PER_IMAGE_MONTH),
        image_mb=MappingProxyType(image_mb),
    )


def rollback(top: Reader) -> RollbackSettings:
    return RollbackSettings(versions=top.ranged(ROLLBACK_VERSIONS))


def expected_duration(reader: Reader, timeout_seconds: int) -> int:
    seconds = reader.ranged(EXPECTED_DURATION_SECONDS, doc=Doc(EXPECTED_DURATION_SECONDS.description, allowed="1 – `timeout_seconds`"))
    if seconds > timeout_seconds:
        raise SettingsError(
            f"{reader.key('expected_duration_seconds')} ({seconds}) must not exceed timeout_seconds ({timeout_seconds})"
        )
    return seconds
