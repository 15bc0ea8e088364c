"""Lambda's and CloudWatch's limits and this project's defaults for a function, defined once: the stack
settings check config against them (components/settings.py), and ContainerFunction checks its Args
against the same objects (components/function.py). Change a ceiling here and both follow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """A whole-number setting: its inclusive bounds and its default."""

    name: str
    minimum: int
    maximum: int
    default: int

    def check(self, value: int, *, where: str) -> int:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{where}: {self.name} must be between {self.minimum} and {self.maximum}, got {value}")
        return value


MEMORY_MB = Range("memory_mb", 128, 10240, 1024)
TIMEOUT_SECONDS = Range("timeout_seconds", 1, 900, 300)
EPHEMERAL_STORAGE_MB = Range("ephemeral_storage_mb", 512, 10240, 512)
MAX_RETRY_ATTEMPTS = Range("max_retry_attempts", 0, 2, 2)
"""Lambda's own retries of a failed asynchronous invocation."""
MAX_EVENT_AGE_SECONDS = Range("max_event_age_seconds", 60, 21600, 3600)
RESERVED_CONCURRENCY = Range("reserved_concurrency", 1, 10000, 0)
"""No default: unset leaves the function on the account's unreserved pool."""
PROVISIONED_CONCURRENCY = Range("provisioned_concurrency", 0, RESERVED_CONCURRENCY.maximum, 0)
PROVISIONED_CONCURRENCY_LEAD_MINUTES = Range("provisioned_concurrency_lead_minutes", 1, 120, 10)
FUNCTION_RANGES = (MEMORY_MB, TIMEOUT_SECONDS, EPHEMERAL_STORAGE_MB, MAX_RETRY_ATTEMPTS, MAX_EVENT_AGE_SECONDS)
"""What every function's Args are checked against, field by field (the field is the Range's name)."""

ARCHITECTURES = ("arm64", "x86_64")
"""Lambda's two instruction set architectures."""
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
"""The only retention periods CloudWatch Logs accepts."""
PROVISIONED_CONCURRENCY_MODES = ("fixed", "schedule_aligned")
LOG_FORMATS = ("JSON", "Text")
