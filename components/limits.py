"""Every limit and default of a function, a schedule, a repository, a bucket and an alarm (Lambda's,
Scheduler's, ECR's, S3's and CloudWatch's, and this project's), defined once: the stack settings check
config against them (stack_config/), and the components check their Args against the same objects.
Change a ceiling here and both follow. What only the operator tools read (the cost estimate's
assumptions) is not here: stack_config/tool_settings.py."""

from __future__ import annotations

import re

# The contract's range type (name, default, minimum, maximum, description, `check`), reused: one way to
# define and check a bounded setting, whether a function's or a workload's.
from .contract import Knob as Range

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
ECR_KEEP_RELEASE_IMAGES = Range(
    "keep_release_images", 5, 2, 1000,
    "Newest release images kept, besides those a version within rollback reach runs (always kept: protected tags).",
)

# A bucket: S3's naming rules (3-63 lowercase letters, digits, dots and hyphens, starting and ending
# with a letter or digit).
S3_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# An alarm: the thresholds every function's alarms share (Monitoring's AlarmThresholds).
ALARM_ERRORS = Range("errors", 1, 1, 1000, "Errors in 5 minutes that page (at least).")
ALARM_THROTTLES = Range("throttles", 1, 1, 1000, "Throttled invocations in 5 minutes that page (at least).")
ALARM_DURATION_TIMEOUT_PERCENT = Range(
    "duration_timeout_percent", 80, 10, 100, "p99 duration above this share of the timeout pages before runs start timing out, %.")
ALARM_COLD_START_MS = Range("cold_start_ms", 2000, 100, 10000, "A cold start's init duration above this pages, ms.")
ALARM_MODEL_AGE_DAYS = Range("model_age_days", 10, 1, 365, "A serving model older than this pages (a weekly trainer plus three days of slack).")
ALARM_MISSED_RUN_SLACK_MINUTES = Range(
    "missed_run_slack_minutes", 60, 5, 1440, "Added to a schedule's longest gap before a run counts as missed, minutes.")
ALARM_RANGES = (
    ALARM_ERRORS, ALARM_THROTTLES, ALARM_DURATION_TIMEOUT_PERCENT, ALARM_COLD_START_MS, ALARM_MODEL_AGE_DAYS,
    ALARM_MISSED_RUN_SLACK_MINUTES,
)
"""What every AlarmThresholds is checked against, field by field (the field is the Range's name)."""
MAX_ALARM_WINDOW_MINUTES = 7 * 24 * 60
"""CloudWatch evaluates at most seven days (period × evaluation periods) for one alarm."""

ARCHITECTURES = ("arm64", "x86_64")
"""Lambda's two instruction set architectures."""
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
"""The only retention periods CloudWatch Logs accepts."""
PROVISIONED_CONCURRENCY_MODES = ("fixed", "schedule_aligned")
LOG_FORMATS = ("JSON", "Text")
