"""Where one stack's delivery happens, from its stack file: `python -m tools.delivery STACK`.

Prints `key=value` lines for a workflow's `$GITHUB_OUTPUT`: the account and region, the deploy and
preview roles the bootstrap created there (no role ARN is configured anywhere: each role is trusted
for one GitHub subject, so knowing its name grants nothing), the state backend and the stack's secrets
provider. Read from `aws:region` and `aws:allowedAccountIds` in Pulumi.<stack>.yaml.

Exit codes: 0 printed, 2 bad arguments, an unknown stack, invalid settings or no `aws:allowedAccountIds`.
"""

from __future__ import annotations

import argparse
import sys

from stack_config import identities
from tools.cli import CannotDecide, exit_code, stack_settings


def coordinates(stack: str) -> dict[str, str]:
    from tools.identities import state
    from tools.identities.scopes import Target

    settings = stack_settings(stack)
    if settings.account_id is None:
        raise CannotDecide(f"stack {stack!r}: set aws:allowedAccountIds to the one account it deploys to")
    target = Target(settings, settings.account_id)
    region, account, project = settings.region, settings.account_id, settings.project
    return {
        "account": account,
        "region": region,
        "deploy_role": identities.deploy_role_arn(region, account, project, settings.environment),
        "preview_role": identities.preview_role_arn(region, account, project),
        "backend": state.backend_url(target),
        "secrets_provider": state.secrets_provider(target),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.delivery", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("stack", help="the stack (Pulumi.<stack>.yaml)")
    options = parser.parse_args(argv)
    return exit_code("delivery", lambda: print("\n".join(f"{k}={v}" for k, v in coordinates(options.stack).items())), refused=())


if __name__ == "__main__":
    sys.exit(main())
