"""Every limit and default of a function, a schedule and a repository (Lambda's, Scheduler's, ECR's and
CloudWatch's, and this project's), defined once: the stack settings check config against them
(components/settings.py), and the components check their Args against the same objects. Change a
ceiling here and both follow."""

from __future__ import annotations

import re

# The contract's range type (name, default, minimum, maximum, description, `check`), reused: one way to
# define and check a bounded setting, whether a function's or a workload's.
from common.contract import Knob as Range

# A function: Lambda's limits on its size and asynchronous invocations.
MEMORY_MB = Range("memory_mb", 1024, 128, 10240, "Lambda memory (and CPU share), MB.")
TIMEOUT_SECONDS = Range("timeout_seconds", 300, 1, 900, "Lambda timeout, seconds.")
EPHEMERAL_STORAGE_MB = Range("ephemeral_storage_mb", 512, 512, 10240, "/tmp size, MB.")
MAX_RETRY_ATTEMPTS = Range("max_retry_attempts", 2, 0, 2, "Lambda's own retries of a failed asynchronous invocation.")
MAX_EVENT_AGE_SECONDS = Range("max_event_age_seconds", 3600, 60, 21600, "Oldest asynchronous event Lambda still runs, seconds.")
FUNCTION_RANGES = (MEMORY_MB, TIMEOUT_SECONDS, EPHEMERAL_STORAGE_MB, MAX_RETRY_ATTEMPTS, MAX_EVENT_AGE_SECONDS)
"""What every function's Args are checked against, field by field (the field is the Range's name)."""

# Its concurrency.
RESERVED_CONCURRENCY = Range("reserved_concurrency", 0, 1, 10000, "Reserved concurrency; unset leaves the function on the unreserved pool.")
PROVISIONED_CONCURRENCY = Range("provisioned_concurrency", 0, 0, RESERVED_CONCURRENCY.maximum, "Warm environments on the alias.")
PROVISIONED_CONCURRENCY_LEAD_MINUTES = Range("provisioned_concurrency_lead_minutes", 10, 1, 120, "Minutes before a run that aligned concurrency warms up.")

# Its name, environment and logs.
MAX_FUNCTION_NAME = 64
"""Lambda's longest function name."""
FUNCTION_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_FUNCTION_NAME}}}$")
RESERVED_ENVIRONMENT = re.compile(r"^(AWS_|LAMBDA_|_HANDLER$|_X_AMZN_TRACE_ID$|TZ$)")
"""Environment variable names Lambda reserves: a function may not set them."""
LOG_RETENTION_DAYS_DEFAULT = 30
"""Days a function's logs are kept unless the stack says otherwise."""

# A schedule: EventBridge Scheduler's retry policy.
SCHEDULE_RETRY_ATTEMPTS = Range("retry_attempts", 3, 0, 185, "EventBridge Scheduler's retries of a failed delivery.")
SCHEDULE_MAX_EVENT_AGE_SECONDS = Range("max_event_age_seconds", 3600, 60, 86400, "How long Scheduler keeps retrying one run, seconds.")
SCHEDULE_RANGES = (SCHEDULE_RETRY_ATTEMPTS, SCHEDULE_MAX_EVENT_AGE_SECONDS)
"""What every ScheduleArgs is checked against."""

# An image, and a repository's lifecycle.
MAX_IMAGE_MB = 10240
"""Lambda's largest container image, uncompressed, MB."""
ECR_UNTAGGED_EXPIRE_DAYS = Range("untagged_expire_days", 1, 1, 3650, "Days after push an untagged image expires.")
ECR_KEEP_RELEASE_IMAGES = Range("keep_release_images", 5, 2, 1000, "Newest release images kept (the live one and one to roll back to).")

# What the cost estimate (tools/cost.py) assumes; nothing deployed reads these.
EXPECTED_DURATION_SECONDS = Range("expected_duration_seconds", 30, 1, TIMEOUT_SECONDS.maximum, "What one run is expected to take (at most the timeout).")
COST_LOG_KB_PER_RUN = Range("cost_log_kb_per_run", 20, 0, 1_000_000, "Log data one run writes, KB.")
COST_DATA_GB = Range("cost_data_gb", 1, 0, 1_000_000, "Data kept in the stack's bucket, GB.")
COST_CHANGED_MB_PER_RELEASE = Range("cost_changed_mb_per_release", 10, 0, 100_000, "New layer data an older kept release adds in ECR, MB.")

ARCHITECTURES = ("arm64", "x86_64")
"""Lambda's two instruction set architectures."""
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
"""The only retention periods CloudWatch Logs accepts."""
PROVISIONED_CONCURRENCY_MODES = ("fixed", "schedule_aligned")
LOG_FORMATS = ("JSON", "Text")
