"""Who may do what to a stack's registry: the names of the identities the stacks trust, defined once.

The deploy role is created by the bootstrap (one per environment, under its own IAM path) before any
stack is deployed, so its ARN is known from the account id and the environment alone; a stack file can
name another one with `deploy_role_arn`.
"""

from __future__ import annotations

import re

from stack_config.model import PROJECT, Settings

BOOTSTRAP_ROLE_PATH = f"/{PROJECT}-bootstrap/"
"""The IAM path of the roles the bootstrap creates (outside the path of the roles the stacks create)."""
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
ROLE_ARN_TEXT = "an IAM role ARN (arn:aws:iam::<account>:role/<path/><name>)"


def deploy_role_name(environment: str) -> str:
    """`commodity-forecasts-<environment>-deploy`: the role a stack's deployments run as."""
    return f"{PROJECT}-{environment}-deploy"


def deploy_role_arn(account_id: str, environment: str) -> str:
    """`arn:aws:iam::<account>:role/commodity-forecasts-bootstrap/commodity-forecasts-<environment>-deploy`."""
    return f"arn:aws:iam::{account_id}:role{BOOTSTRAP_ROLE_PATH}{deploy_role_name(environment)}"


def stack_deploy_role(settings: Settings, account_id: str) -> str:
    """The deploy role of one stack: its `deploy_role_arn`, else the bootstrap's for its environment."""
    return settings.deploy_role_arn or deploy_role_arn(account_id, settings.environment)
