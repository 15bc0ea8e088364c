"""Where the delivery identities and the stacks' roles live, by name: the one place the bootstrap
(tools/bootstrap.py), the deployer policy (tools/deployer_policy.py) and the program agree on.

The bootstrap's own identities (deploy and preview roles, the permissions boundaries, their policies)
live under `BOOTSTRAP_PATH`, which no stack identity may write; the roles a stack creates live under
`/<project>/<environment>/` and carry that environment's boundary.
"""

from __future__ import annotations

import re

BOOTSTRAP_PATH = "/commodity-forecasts-bootstrap/"
"""IAM path of what the one-time bootstrap creates (administrator-owned, outside every stack)."""


def partition(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_path(project: str, environment: str) -> str:
    """Where every role a stack creates lives: the deployer may create and change roles only here."""
    return f"/{project}/{environment}/"


def boundary_name(project: str, environment: str) -> str:
    return f"{project}-{environment}-boundary"


def boundary_arn(region: str, account: str, project: str, environment: str) -> str:
    """The managed policy every role of the environment's stack must carry as its permissions boundary."""
    return f"arn:{partition(region)}:iam::{account}:policy{BOOTSTRAP_PATH}{boundary_name(project, environment)}"


def deploy_role_name(project: str, environment: str) -> str:
    return f"{project}-{environment}-deploy"


def deploy_role_arn(region: str, account: str, project: str, environment: str) -> str:
    """The role the environment's deploy job assumes (trusted for `repo:<owner>/<repo>:environment:<environment>`)."""
    return f"arn:{partition(region)}:iam::{account}:role{BOOTSTRAP_PATH}{deploy_role_name(project, environment)}"


def preview_role_name(project: str) -> str:
    return f"{project}-preview"


def preview_role_arn(region: str, account: str, project: str) -> str:
    """The role pull-request previews assume (trusted for `repo:<owner>/<repo>:pull_request`): reads only."""
    return f"arn:{partition(region)}:iam::{account}:role{BOOTSTRAP_PATH}{preview_role_name(project)}"


def alarm_key_alias(project: str, environment: str) -> str:
    """The bootstrap's KMS key encrypting the environment's alarm topic (its policy lets CloudWatch use
    it); a stack references it and never writes a key policy."""
    return f"alias/{project}-{environment}-alarms"


ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
ROLE_ARN_TEXT = "an IAM role ARN (arn:aws:iam::<account>:role/<path/><name>)"
