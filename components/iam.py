"""IAM policy documents built from exact ARNs, with wildcard actions refused at construction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import pulumi

from components.errors import ComponentError

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")


class PolicyError(ComponentError):
    """A policy statement was refused (a wildcard action, no actions, no resources)."""


@dataclass(frozen=True)
class PolicyStatement:
    """One Allow statement. Actions are named one by one: `s3:*` or `*` is refused."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[pulumi.Input[str], ...]
    condition: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9]+", self.sid):
            raise PolicyError("sid", f"statement sid must be alphanumeric, got {self.sid!r}")
        if not self.actions:
            raise PolicyError("no-actions", f"statement {self.sid} has no actions")
        for action in self.actions:
            if not _ACTION.match(action):
                raise PolicyError(
                    "wildcard-action",
                    f"statement {self.sid}: action {action!r} must name one action (service:Action); wildcards are refused"
                )
        if not self.resources:
            raise PolicyError("no-resources", f"statement {self.sid} has no resources")

    def document(self) -> dict[str, Any]:
        statement: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": list(self.resources),
        }
        if self.condition:
            statement["Condition"] = dict(self.condition)
        return statement


def policy_document(statements: Sequence[PolicyStatement]) -> pulumi.Output[str]:
    """A policy JSON string; resources may be Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s.document() for s in statements]})


def service_trust_policy(service: str, source_account: str | None = None) -> str:
    """Trust policy letting one AWS service assume a role (optionally only for one account)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
