"""Dead-letter queues: encrypted, and kept long enough to notice and redrive what landed in them."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

DLQ_RETENTION_SECONDS = 14 * 24 * 3600
"""SQS's maximum: two weeks to notice a failed run and redrive it."""


def dead_letter_queue(resource_name: str, parent: pulumi.Resource, *, name: str | None = None, retain: bool = False) -> aws.sqs.Queue:
    """An SSE-SQS encrypted queue (no KMS grants needed for Lambda or Scheduler to send to it).

    `name`: its physical name (an unnamed queue gets a random one, which an identity scoped to the stack's
    names cannot manage). `retain`: a queue the program stops declaring (or renames) is left in place
    with what it holds, never deleted with undelivered runs in it (production)."""
    return aws.sqs.Queue(
        resource_name,
        name=name,
        sqs_managed_sse_enabled=True,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=retain),
    )
