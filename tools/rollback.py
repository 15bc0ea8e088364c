"""Point a function's `live` alias back at an earlier published version, after proving that version
still runs: `python -m tools.rollback STACK FUNCTION [--to VERSION]`.

1. Reads the stack file for the function's physical name, region and dry-run event (the same event the
   pre-traffic gate sends).
2. Finds the version `live` points at and the one to go back to: `--to`, or the newest published
   version older than the current one.
3. Invokes that version (synchronously, by number) with the dry-run event; a function error stops here
   and `live` is not touched.
4. Moves `live`, conditional on it still pointing where step 2 saw it (Lambda's RevisionId), and says
   what it did — including the one line to add to the stack file so that the next `pulumi up` keeps
   the rollback (`live_version`) instead of moving `live` again.

Exit codes: 0 rolled back (or already there), 1 the candidate failed its dry run or nothing to roll back
to, 2 could not decide (unknown stack or function, no credentials, an AWS error).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from components.function import ALIAS
from tools.cli import ROOT, CannotDecide, exit_code, stack_settings


class RollbackRefused(Exception):
    """Nothing safe to roll back to: no earlier version, or it failed its dry run (exit 1)."""


@dataclass(frozen=True)
class Target:
    stack: str
    function_name: str
    region: str
    dry_run_event: dict


def target(stack: str, function: str, root: Path = ROOT) -> Target:
    settings = stack_settings(stack, root)
    names = [f.name for f in settings.functions]
    if function not in names:
        raise CannotDecide(f"stack {stack!r} has no function {function!r} (it has: {', '.join(names)})")
    spec = next(f for f in settings.functions if f.name == function)
    return Target(stack, settings.function_name(spec), settings.region, spec.dry_run_event)


def rollback(lambda_client, goal: Target, *, to: int | None = None, out=sys.stdout) -> int:
    """Verify and move `live`; returns the version it points at afterwards."""
    name = goal.function_name
    alias = lambda_client.get_alias(FunctionName=name, Name=ALIAS)
    current = int(alias["FunctionVersion"])
    published = sorted(
        int(v["Version"])
        for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=name)
        for v in page["Versions"]
        if v["Version"] != "$LATEST"
    )
    if to is None:
        earlier = [v for v in published if v < current]
        if not earlier:
            raise RollbackRefused(f"{name}: {ALIAS} is on version {current}, the oldest published; nothing to roll back to")
        to = earlier[-1]
    elif to not in published:
        raise RollbackRefused(f"{name}: version {to} is not published (published: {', '.join(map(str, published))})")
    if to == current:
        print(f"{name}: {ALIAS} already points at version {to}; nothing changed", file=out)
        return to
    print(f"{name}: {ALIAS} is on version {current}; dry-running version {to} with {json.dumps(goal.dry_run_event)} …", file=out)
    response = lambda_client.invoke(FunctionName=name, Qualifier=str(to), Payload=json.dumps(goal.dry_run_event).encode())
    payload = response["Payload"].read().decode("utf-8", "replace")
    if response.get("FunctionError"):
        raise RollbackRefused(f"{name}: version {to} failed its dry run, {ALIAS} stays on {current}: {payload[:2000]}")
    report = json.loads(payload) if payload else {}
    lambda_client.update_alias(
        FunctionName=name, Name=ALIAS, FunctionVersion=str(to), RevisionId=alias["RevisionId"],
        Description=f"Rolled back from version {current} by tools.rollback",
    )
    skipped = report.get("skipped") or []
    print(f"{name}: {ALIAS} moved from version {current} to {to} (dry run passed" + (f"; skipped: {', '.join(skipped)})" if skipped else ")"), file=out)
    print(
        f"to keep it on the next `pulumi up -s {goal.stack}`, add `live_version: {to}` to this function's entry in "
        f"Pulumi.{goal.stack}.yaml (remove it to follow deployments again); without it, `pulumi up --refresh` "
        f"shows and makes the move back to version {current}, and the next new version moves {ALIAS} on after its own gate.",
        file=out,
    )
    return to


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.rollback",
        description="Point a function's live alias at an earlier published version after a passing dry run.",
        epilog="Exit codes: 0 rolled back (or already there); 1 nothing to roll back to, or the version failed its dry run; "
        "2 could not decide (unknown stack or function, no credentials, an AWS error).",
    )
    parser.add_argument("stack", help="stack name, e.g. dev (reads Pulumi.<stack>.yaml)")
    parser.add_argument("function", help="function name as in the stack file, e.g. corn or trainer")
    parser.add_argument("--to", type=int, help="version to go back to (default: the newest published version older than live's)")
    args = parser.parse_args(argv)

    def act() -> None:
        import boto3

        goal = target(args.stack, args.function)
        rollback(boto3.client("lambda", region_name=goal.region), goal, to=args.to)

    return exit_code("rollback", act, refused=(RollbackRefused,))


if __name__ == "__main__":
    sys.exit(main())
