"""The policies of one stack's delivery identities, for review or for attaching by hand:

    python -m tools.deployer_policy STACK --account ID             the deploy role's managed policies (a JSON list)
    python -m tools.deployer_policy STACK --account ID --boundary  the environment's permissions boundary
    python -m tools.deployer_policy STACK --account ID --preview   the preview role's policy (this stack only)

Derived from tools/identities/provider_calls.yaml for the resource types the stack's program declares
(run under mocks), each action on exactly the stack's ARNs (tools/identities/). The bootstrap template
(`python -m tools.bootstrap template`) attaches the same documents. Each printed document fits IAM's
6,144-character limit for a managed policy.

Exit codes: 0 printed, 2 bad arguments, an unknown stack or invalid settings.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from tools.cli import CannotDecide, exit_code, stack_settings


def documents(stack: str, account: str, what: str = "deploy") -> list[dict] | dict:
    from tools.identities import boundary, deployer, preview, state
    from tools.identities.scopes import Target
    from tools.program_graph import run_stack

    target = Target(stack_settings(stack), account)
    graph = run_stack(stack)
    key = f"arn:{target.partition}:kms:{target.region}:{account}:key/<{state.key_alias(target).removeprefix('alias/')} key id>"
    if what == "boundary":
        return boundary.policy(target)
    if what == "preview":
        return preview.policy([(target, graph.invokes)], [key])
    declared = {r.type for r in graph.resources if r.custom} | graph.invokes
    from tools.identities.policy import document

    return deployer.documents(target, declared) + [document(state.deploy_statements(target, key))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deployer_policy", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("stack", help="the stack (Pulumi.<stack>.yaml)")
    parser.add_argument("--account", required=True, help="the 12-digit AWS account the stack deploys to")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--boundary", action="store_true", help="the permissions boundary instead")
    which.add_argument("--preview", action="store_true", help="the preview role's policy instead")
    options = parser.parse_args(argv)
    if not re.fullmatch(r"\d{12}", options.account):
        parser.error(f"--account must be a 12-digit AWS account id, got {options.account!r}")

    def run() -> None:
        what = "boundary" if options.boundary else "preview" if options.preview else "deploy"
        try:
            print(json.dumps(documents(options.stack, options.account, what), indent=2))
        except (KeyError, ValueError) as error:
            raise CannotDecide(str(error)) from None

    return exit_code("deployer_policy", run, refused=())


if __name__ == "__main__":
    sys.exit(main())
