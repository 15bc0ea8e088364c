"""Dry runs: exercise a workload's whole path and write nothing that a user, the app or a later run reads.

Each check either passes (with what it saw) or is skipped because the data it needs do not exist yet
(a first deployment: no prices, no model); anything else that goes wrong raises, exactly as a real run
would. Write permissions are proven by writing and deleting one marker per destination, under
`<writable prefix>_dry-run/<request id>` and the table's `_dry-run` partition: the only places a
function may delete (components/data.py grants exactly that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from common.contract import DRY_RUN_ITEM, DRY_RUN_MARKERS
from common.errors import WriteAccessDenied

MARKER_BODY = b'{"dry_run": true}'


@dataclass
class DryRunReport:
    """What a dry run checked: name → "passed: …" or "skipped: …" (insertion order is check order)."""

    checks: dict[str, str] = field(default_factory=dict)

    def passed(self, name: str, detail: str) -> None:
        self.checks[name] = f"passed: {detail}"

    def skipped(self, name: str, reason: str) -> None:
        self.checks[name] = f"skipped: {reason}"

    @property
    def skipped_checks(self) -> list[str]:
        return [name for name, outcome in self.checks.items() if outcome.startswith("skipped")]

    def as_dict(self, **extra: Any) -> dict[str, Any]:
        return {"dry_run": True, **extra, "checks": dict(self.checks), "skipped": self.skipped_checks}


def marker_key(prefix: str, request_id: str) -> str:
    return f"{prefix}{DRY_RUN_MARKERS}{request_id}.json"


def prove_object_write(s3, bucket: str, prefix: str, request_id: str) -> str:
    """Write then delete one marker under `prefix`; a denial names the action, bucket and key."""
    key = marker_key(prefix, request_id)
    for action, call in (
        ("s3:PutObject", lambda: s3.put_object(Bucket=bucket, Key=key, Body=MARKER_BODY, ContentType="application/json")),
        ("s3:DeleteObject", lambda: s3.delete_object(Bucket=bucket, Key=key)),
    ):
        try:
            call()
        except (ClientError, BotoCoreError) as error:
            raise WriteAccessDenied(f"dry run: {action} on s3://{bucket}/{key} failed: {_reason(error)}") from None
    return key


def prove_item_write(dynamodb, table: str, request_id: str) -> None:
    """Write then delete the marker item (partition `_dry-run`); a denial names the action and table."""
    key = {"commodity": {"S": DRY_RUN_ITEM}, "effective_date": {"S": request_id}}
    for action, call in (
        ("dynamodb:PutItem", lambda: dynamodb.put_item(TableName=table, Item={**key, "dry_run": {"BOOL": True}})),
        ("dynamodb:DeleteItem", lambda: dynamodb.delete_item(TableName=table, Key=key)),
    ):
        try:
            call()
        except (ClientError, BotoCoreError) as error:
            raise WriteAccessDenied(f"dry run: {action} on table {table} (key {DRY_RUN_ITEM}/{request_id}) failed: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'error')}: {detail.get('Message', '')}".strip()
    return str(error)
