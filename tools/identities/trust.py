"""Who may assume each delivery role: GitHub's OIDC provider, for exactly one subject.

A job that references a GitHub environment is issued `sub = repo:<owner>/<repo>:environment:<name>`,
also inside a reusable workflow; a pull_request job without an environment, `repo:<owner>/<repo>:pull_request`
(GitHub docs, "About security hardening with OpenID Connect", example subject claims). The audience is
`sts.amazonaws.com` (aws-actions/configure-aws-credentials' default).
"""

from __future__ import annotations

import re
from typing import Any

ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


class TrustError(ValueError):
    """The repository or environment cannot name an OIDC subject."""


def check_repository(repository: str) -> str:
    if not _REPOSITORY.match(repository):
        raise TrustError(f"--repository must be <owner>/<name> as GitHub spells it, got {repository!r}")
    return repository


def environment_subject(repository: str, environment: str) -> str:
    return f"repo:{check_repository(repository)}:environment:{environment}"


def pull_request_subject(repository: str) -> str:
    return f"repo:{check_repository(repository)}:pull_request"


def policy(provider_arn: Any, subject: str) -> dict[str, Any]:
    """Trust for one subject of GitHub's OIDC provider (`provider_arn` may be a CloudFormation reference)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubOidcOneSubject",
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{ISSUER}:aud": AUDIENCE, f"{ISSUER}:sub": subject}},
        }],
    }
