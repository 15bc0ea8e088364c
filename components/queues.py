"""Dead-letter queues: encrypted, and kept long enough to notice and redrive what landed in them."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""SQS's maximum: two weeks to notice a failed run and redrive it."""


def dead_letter_queue(resource_name: str, parent: pulumi.Resource) -> aws.sqs.Queue:
    """An SSE-SQS encrypted queue (no KMS grants needed for Lambda or Scheduler to send to it)."""
    return aws.sqs.Queue(
        resource_name,
        sqs_managed_sse_enabled=True,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        opts=pulumi.ResourceOptions(parent=parent),
    )
