"""IAM policy documents built from exact ARNs, with wildcard actions refused at construction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import pulumi

from .errors import ComponentError

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
_PATH = re.compile(r"^/([\x21-\x7e]{1,510}/)?$")


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


@dataclass(frozen=True)
class RoleOptions:
    """Where a component's IAM roles live and what caps them: the project's path and permissions boundary,
    so that the identity deploying the stack may create roles only there, only with that boundary
    (tools/deployer_policy.py), and a role it creates can never hold more than the boundary allows."""

    path: str = "/"
    """IAM path, e.g. `/commodity-forecasts/dev/` (starts and ends with `/`)."""
    permissions_boundary: pulumi.Input[str] | None = None
    """ARN of the managed policy every role carries as its permissions boundary (the bootstrap creates it)."""

    def __post_init__(self) -> None:
        if not _PATH.match(self.path):
            raise PolicyError("role-path", f"role path must start and end with '/' (1-512 printable characters), got {self.path!r}")

    def role_arguments(self) -> dict[str, Any]:
        """The `aws.iam.Role` keyword arguments these options set."""
        arguments: dict[str, Any] = {"path": self.path}
        if self.permissions_boundary is not None:
            arguments["permissions_boundary"] = self.permissions_boundary
        return arguments


def policy_document(statements: Sequence[PolicyStatement]) -> pulumi.Output[str]:
    """A policy JSON string; resources may be Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s.document() for s in statements]})


def service_trust_policy(service: str, source_account: str | None = None) -> str:
    """Trust policy letting one AWS service assume a role (optionally only for one account)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
