"""Policy documents as data: statements grouped by scope, IAM's size limit, and the reviewed list of
actions that may be allowed on `Resource: "*"` (each because AWS allows nothing narrower)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tools.identities.table import action, sar_pages

MANAGED_POLICY_CHARACTERS = 6144
"""IAM's limit on a managed policy, counting every character but white space (IAM User Guide,
IAM and AWS STS quotas: "Managed policy size")."""
MANAGED_POLICIES_PER_ROLE = 10
"""Managed policies attached to one role (the default quota, IAM and AWS STS quotas)."""

ANY_RESOURCE_ALLOWED: dict[str, str] = {
    "logs:DescribeLogGroups": "the provider reads a log group by listing the name as a prefix",
    "application-autoscaling:DescribeScalableTargets": "the provider reads scalable targets",
    "application-autoscaling:DescribeScheduledActions": "the provider reads scheduled actions",
    "sns:Unsubscribe": "the provider deletes an email subscription",
    "sns:GetSubscriptionAttributes": "the provider reads an email subscription",
    "sns:SetSubscriptionAttributes": "the provider updates an email subscription",
    "ecr:GetAuthorizationToken": "the deploy job's registry login (tools/ecr_login.py)",
    "lambda:GetAccountSettings": "the deploy's concurrency preflight (tools/preflight.py)",
    "ecr:GetRegistryScanningConfiguration": "the registry owner's scanning configuration (one per account and region)",
    "ecr:PutRegistryScanningConfiguration": "the registry owner's scanning configuration (one per account and region)",
    "inspector2:Enable": "ECR enhanced scanning turns Inspector on for ECR (ECR User Guide, image-scanning-enhanced-iam)",
    "inspector2:Disable": "ECR enhanced scanning turned back to basic (ECR User Guide, image-scanning-enhanced-iam)",
    "inspector2:ListAccountPermissions": "ECR enhanced scanning (ECR User Guide, image-scanning-enhanced-iam)",
    "inspector2:ListCoverage": "ECR enhanced scanning (ECR User Guide, image-scanning-enhanced-iam)",
    "inspector2:ListFindings": "the scan gate's enhanced findings (tools/scan_gate.py)",
    "ecr:PutReplicationConfiguration": "the source registry owner's replication configuration (one per account and region)",
    "ecr:DescribeRegistry": "the source registry owner's replication configuration (one per account and region)",
    "ecr:PutRegistryPolicy": "the promoting registry owner's registry policy, letting the source replicate in (one per account and region)",
    "ecr:GetRegistryPolicy": "the promoting registry owner's registry policy (one per account and region)",
    "ecr:DeleteRegistryPolicy": "the promoting registry owner's registry policy (one per account and region)",
}
"""Every action a policy here allows on `Resource: "*"`, and what needs it. Each is one whose Resource
types column is empty in its service's Service Authorization Reference page (`citation`): AWS evaluates
it against no resource, so no ARN can narrow it. tests/test_identities.py checks both halves."""


def citation(name: str) -> str:
    """The AWS page that says `name` supports no resource-level permission."""
    service = name.split(":", 1)[0]
    if not action(name).any_resource_only:
        raise ValueError(f"{name} authorises against {', '.join(action(name).resource_types)}: scope it to ARNs, not '*'")
    return f"{sar_pages()[service]} ({name}: no resource types)"


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, Any] = field(default_factory=dict)
    effect: str = "Allow"

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Sid": self.sid, "Effect": self.effect, "Action": sorted(self.actions)}
        body["Resource"] = list(self.resources) if len(self.resources) != 1 else self.resources[0]
        if self.condition:
            body["Condition"] = self.condition
        return body


def size(document: dict[str, Any]) -> int:
    """Characters IAM counts: everything but white space."""
    return sum(1 for character in json.dumps(document, separators=(",", ":")) if not character.isspace())


def document(statements: list[Statement]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s.document() for s in statements]}


def split(statements: list[Statement], limit: int = MANAGED_POLICY_CHARACTERS) -> list[dict[str, Any]]:
    """Statements packed, in order, into as few documents as IAM's size limit allows."""
    documents: list[list[Statement]] = [[]]
    for statement in statements:
        if size(document([statement])) > limit:
            raise ValueError(f"statement {statement.sid} alone exceeds IAM's {limit} characters: split its resources")
        if size(document(documents[-1] + [statement])) > limit:
            documents.append([])
        documents[-1].append(statement)
    if len(documents) > MANAGED_POLICIES_PER_ROLE:
        raise ValueError(f"{len(documents)} managed policies exceed the {MANAGED_POLICIES_PER_ROLE} a role may carry")
    return [document(group) for group in documents]
