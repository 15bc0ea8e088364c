"""parliament's findings on a policy, less the two it reports here wrongly, each exception checked
against the policy itself rather than trusted:

- `UNKNOWN_CONDITION_FOR_ACTION` for `iam:PermissionsBoundary` on an action whose Service
  Authorization Reference entry lists that key (tools/identities/actions.yaml): parliament's own action
  table predates AWS adding it to DeleteRole, UpdateAssumeRolePolicy and UpdateRoleDescription.
- `RESOURCE_POLICY_PRIVILEGE_ESCALATION` (the policy may write a bucket policy but not the object actions
  it could grant itself) on a bucket for which this same policy explicitly denies those object actions:
  an identity policy's explicit Deny overrides any bucket policy's Allow (IAM User Guide, policy
  evaluation logic), and parliament does not evaluate Deny statements, nor a role's other policies.
- `MISMATCHED_TYPE_BUT_USABLE` for `iam:PermissionsBoundary` with StringEquals/StringNotEquals: the key is
  a String (Service Authorization Reference) and the IAM User Guide's own permissions-boundary examples
  compare it with StringEquals to the policy's ARN.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

from tools.identities.evaluate import Request, decide
from tools.identities.table import sar

_UNKNOWN = re.compile(r"Unknown condition (\S+) for action (\S+)")
_ESCALATION = re.compile(r"on (\S+) due to s3:(\w+) not being allowed")


def _reviewed(issue: str, detail: str, policy: dict[str, Any], together: list[dict[str, Any]]) -> bool:
    if issue == "UNKNOWN_CONDITION_FOR_ACTION":
        match = _UNKNOWN.search(detail)
        return bool(match) and match.group(2) in sar() and match.group(1) in sar()[match.group(2)].condition_keys
    if issue == "RESOURCE_POLICY_PRIVILEGE_ESCALATION":
        match = _ESCALATION.search(detail)
        if not match:
            return False
        bucket, object_action = match.groups()
        allowed, why = decide(together, Request(f"s3:{object_action}", f"{bucket}/any/key"))
        return not allowed and why.startswith("denied by")
    if issue == "MISMATCHED_TYPE_BUT_USABLE":
        return "iam:PermissionsBoundary" in json.dumps(policy) and bool(re.search(r"String(Not)?Equals requires a value of type String but given Arn", detail))
    return False


def parliament_findings(policy: dict[str, Any], together: list[dict[str, Any]] | None = None) -> list[str]:
    """Every finding parliament reports on `policy` that is not one of the reviewed ones above; `together`:
    every policy of the same role (IAM evaluates them as one; parliament reads one document)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources, which warns of its own deprecation
        from parliament import analyze_policy_string

        analyzed = analyze_policy_string(json.dumps(policy))
    return [f"{f.issue}: {f.detail}" for f in analyzed.findings if not _reviewed(f.issue, str(f.detail), policy, together or [policy])]
