"""The permissions boundary of one environment: the most any role its stack creates may ever do. A role
the deployer creates carries it (the deployer may create no other), so even a role policy the deployer
wrote itself cannot reach past the environment's own logs, queues, bucket, table, functions and traces."""

from __future__ import annotations

from typing import Any

from tools.identities.policy import Statement, document
from tools.identities.scopes import Target

WORKLOAD_ACTIONS = {
    "log-group": ("logs:CreateLogStream", "logs:PutLogEvents"),
    "queue": ("sqs:SendMessage",),
    "bucket": ("s3:ListBucket",),
    "object": ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
    "table": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"),
    "function": ("lambda:InvokeFunction",),
}
"""What the stack's roles use (components/function.py, components/schedule.py, components/data.py
`statements`), by the IAM resource type it acts on; each role's own policy narrows it further."""
TRACES = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
"""X-Ray supports no resource-level permission (Service Authorization Reference, AWS X-Ray: no resource types)."""


def statements(target: Target) -> list[Statement]:
    found = [
        Statement(f"Workload{resource_type.title().replace('-', '')}", actions, target.scope(resource_type))
        for resource_type, actions in WORKLOAD_ACTIONS.items()
    ]
    # The mobile app's bucket: its one prefix (the dry run's marker delete included); nothing without one.
    if target.settings.legacy_bucket is not None:
        legacy = f"{target.legacy_bucket_arn}/{target.settings.legacy_prefix}*"
        found.append(Statement("WorkloadLegacyPrefix", ("s3:PutObject", "s3:DeleteObject"), (legacy,)))
    found.append(Statement("WorkloadTraces", TRACES, ("*",)))
    return found


def policy(target: Target) -> dict[str, Any]:
    return document(statements(target))
