"""Before a stack's functions change: will the account still have room for them?
`python -m tools.preflight STACK`

Lambda keeps at least 100 of an account's concurrency unreserved and refuses a PutFunctionConcurrency
that would go below it ("decreases account's UnreservedConcurrentExecution below its minimum value of
[100]", Lambda API reference, PutFunctionConcurrency). New accounts may have a quota far below the
usual 1,000, so a deploy that reserves concurrency can fail half-way. This reads the account's
unreserved concurrency and what the stack's functions reserve today, and refuses, naming the settings
to lower, when the stack's reserved_concurrency would leave less than 100.

Exit codes: 0 room enough, 1 refused (too little room), 2 could not decide (unknown stack, no
credentials, an AWS error).
"""

from __future__ import annotations

import argparse
import sys

from tools.cli import exit_code, stack_settings

MINIMUM_UNRESERVED = 100


class NoRoom(Exception):
    """The stack would leave the account less than Lambda's minimum unreserved concurrency (exit 1)."""


def check(stack: str, client=None) -> str:
    import boto3

    settings = stack_settings(stack)
    client = client or boto3.client("lambda", region_name=settings.region)
    unreserved = client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    wanted = {f.args.function_name: f.args.reserved_concurrency or 0 for f in settings.functions}
    now = {name: _reserved_now(client, name) for name in wanted}
    after = unreserved + sum(now.values()) - sum(wanted.values())
    if after < MINIMUM_UNRESERVED:
        heavy = ", ".join(f"functions[{f.name}].reserved_concurrency ({wanted[f.args.function_name]})"
                          for f in settings.functions if wanted[f.args.function_name])
        raise NoRoom(
            f"stack {stack!r} reserves {sum(wanted.values())} concurrent executions; the account would keep {after} unreserved, "
            f"and Lambda requires at least {MINIMUM_UNRESERVED}: lower {heavy}, or ask AWS to raise the account's "
            "concurrent executions quota"
        )
    return f"preflight: {stack} leaves {after} of the account's concurrency unreserved (at least {MINIMUM_UNRESERVED})"


def _reserved_now(client, name: str) -> int:
    try:
        return client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0
    except client.exceptions.ResourceNotFoundException:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preflight", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("stack", help="the stack (Pulumi.<stack>.yaml)")
    options = parser.parse_args(argv)
    return exit_code("preflight", lambda: print(check(options.stack)), refused=(NoRoom,))


if __name__ == "__main__":
    sys.exit(main())
