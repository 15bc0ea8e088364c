"""The one-time bootstrap an administrator runs outside every stack (tools/identities/bootstrap.py):

    python -m tools.bootstrap template --repository OWNER/NAME [STACK ...]   CloudFormation template (JSON)
    python -m tools.bootstrap trust --repository OWNER/NAME [STACK ...]      each role's trust policy

STACK defaults to every Pulumi.<stack>.yaml (one account and region: run it once per account, naming
that account's stacks). Deploy the template with
`aws cloudformation deploy --template-file bootstrap.json --stack-name commodity-forecasts-bootstrap
--capabilities CAPABILITY_NAMED_IAM` (README: First deployment).

Exit codes: 0 printed, 2 bad arguments, an unknown stack or invalid settings.
"""

from __future__ import annotations

import argparse
import json
import sys

from tools.cli import CannotDecide, exit_code, stack_settings


def stacks_for(names: list[str]):
    from tools.cost import stacks_in
    from tools.identities.bootstrap import Stack
    from tools.program_graph import run_stack

    found = []
    for name in names or stacks_in():
        settings = stack_settings(name)
        graph = run_stack(name)
        declared = frozenset(r.type for r in graph.resources if r.custom) | frozenset(graph.invokes)
        found.append(Stack(settings, declared, frozenset(graph.invokes)))
    return found


def trust_policies(names: list[str], repository: str) -> dict[str, dict]:
    from stack_config import identities
    from tools.identities import trust

    provider = "arn:aws:iam::<account>:oidc-provider/" + trust.ISSUER
    policies = {}
    for name in names:
        settings = stack_settings(name)
        role = identities.deploy_role_name(settings.project, settings.environment)
        policies[role] = trust.policy(provider, trust.environment_subject(repository, settings.environment))
    policies[identities.preview_role_name("commodity-forecasts")] = trust.policy(provider, trust.pull_request_subject(repository))
    return policies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bootstrap", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("what", choices=("template", "trust"))
    parser.add_argument("--repository", required=True, help="the GitHub repository, OWNER/NAME, whose workflows assume the roles")
    parser.add_argument("stacks", nargs="*", help="stack names (default: every Pulumi.<stack>.yaml)")
    options = parser.parse_intermixed_args(argv)

    def run() -> None:
        from tools.cost import stacks_in
        from tools.identities.bootstrap import render
        from tools.identities.trust import TrustError

        try:
            if options.what == "trust":
                print(json.dumps(trust_policies(options.stacks or stacks_in(), options.repository), indent=2))
            else:
                print(render(stacks_for(options.stacks), options.repository), end="")
        except (TrustError, ValueError) as error:
            raise CannotDecide(str(error)) from None

    return exit_code("bootstrap", run, refused=())


if __name__ == "__main__":
    sys.exit(main())
