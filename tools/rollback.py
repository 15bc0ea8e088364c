"""Point a function's `live` alias back at an earlier published version, after proving that version
still runs: `python -m tools.rollback STACK FUNCTION [--to VERSION]`.

1. Reads the stack file for the function's physical name, region and dry-run event (the same event the
   pre-traffic gate sends).
2. Finds the version `live` points at and the one to go back to: `--to`, or the newest published
   version older than the current one. It must be within rollback reach (tools/reach.py: `live`, a pinned
   `live_version`, the newest `rollback_versions` published versions), whose images are never expired.
3. If that version is Inactive (idle for weeks), wakes it and waits until it is Active (Lambda fails the
   first invocation of an Inactive version with ResourceConflictException and then restores it).
4. Invokes that version (synchronously, by number) with the dry-run event; a function error stops here
   and `live` is not touched.
5. Moves `live`, conditional on it still pointing where step 2 saw it (Lambda's RevisionId), and says
   what it did — including the one line to add to the stack file so that the next `pulumi up` keeps
   the rollback (`live_version`) instead of moving `live` again.

Exit codes: 0 rolled back (or already there), 1 the candidate failed its dry run, is beyond reach, is
Failed, or there is nothing to roll back to; 2 could not decide (unknown stack or function, no
credentials, the version did not become Active in time, an AWS error).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError, WaiterError

from components.function import ALIAS
from stack_config.tool_settings import ROLLBACK_VERSIONS
from tools.cli import ROOT, CannotDecide, exit_code, stack_settings
from tools.reach import published_versions, reach

ACTIVE_WAIT = {"Delay": 5, "MaxAttempts": 60}
"""How long a woken version may take to become Active: five minutes, polled every five seconds."""


class RollbackRefused(Exception):
    """Nothing safe to roll back to: no earlier version, or it failed its dry run (exit 1)."""


@dataclass(frozen=True)
class Target:
    stack: str
    function_name: str
    region: str
    dry_run_event: dict
    pinned: int | None = None
    """The stack file's `live_version` (within reach)."""
    reach_versions: int = int(ROLLBACK_VERSIONS.default)
    """The stack's `rollback_versions`."""


def target(stack: str, function: str, root: Path = ROOT) -> Target:
    settings = stack_settings(stack, root)
    names = [f.name for f in settings.all_functions]
    if function not in names:
        raise CannotDecide(f"stack {stack!r} has no function {function!r} (it has: {', '.join(names)})")
    spec = next(f for f in settings.all_functions if f.name == function)
    return Target(stack, settings.function_name(spec), settings.region, spec.dry_run_event,
                  spec.args.pinned_version, settings.rollback.versions)


def rollback(lambda_client, goal: Target, *, to: int | None = None, out=sys.stdout, active_wait: dict = ACTIVE_WAIT) -> int:
    """Verify and move `live`; returns the version it points at afterwards."""
    name = goal.function_name
    alias = lambda_client.get_alias(FunctionName=name, Name=ALIAS)
    current = int(alias["FunctionVersion"])
    published = published_versions(lambda_client, name)
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
    within = reach(name, published, current, goal.pinned, goal.reach_versions)
    if to not in within:
        raise RollbackRefused(
            f"{name}: version {to} is beyond rollback reach ({within.describe()}): its image is not kept and may be gone; "
            f"raise rollback_versions in Pulumi.{goal.stack}.yaml before the versions you may need leave it"
        )
    ensure_active(lambda_client, goal, to, out=out, active_wait=active_wait)
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


def ensure_active(lambda_client, goal: Target, version: int, *, out, active_wait: dict) -> None:
    """An Inactive version (idle for weeks) is woken by an invocation, which Lambda refuses with
    ResourceConflictException while it restores it; then wait until it is Active (waiter function_active_v2)."""
    name, qualifier = goal.function_name, str(version)
    configuration = lambda_client.get_function_configuration(FunctionName=name, Qualifier=qualifier)
    state = configuration.get("State", "Active")
    if state == "Failed":
        raise RollbackRefused(f"{name}: version {version} is Failed ({configuration.get('StateReasonCode')}: "
                              f"{configuration.get('StateReason')}); it cannot run")
    if state == "Active":
        return
    if state == "Inactive":
        print(f"{name}: version {version} is Inactive (idle); waking it and waiting until it is Active …", file=out)
        try:
            lambda_client.invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps(goal.dry_run_event).encode())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceConflictException":
                raise
    try:
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier=qualifier, WaiterConfig=active_wait)
    except WaiterError as error:
        last = (error.last_response or {}).get("Configuration", {})
        if last.get("State") == "Failed":
            raise RollbackRefused(f"{name}: version {version} failed to become Active ({last.get('StateReasonCode')}: "
                                  f"{last.get('StateReason')})") from None
        waited = active_wait["Delay"] * active_wait["MaxAttempts"]
        raise CannotDecide(f"{name}: version {version} did not become Active within {waited} s "
                           f"(last state: {last.get('State', 'unknown')}); try again later") from None
    print(f"{name}: version {version} is Active", file=out)


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
