"""Is every function, and the version its `live` alias runs, Active? `python -m tools.function_states STACK`
(tools/deploy.sh runs it last; run it on a schedule for the rest of the time).

Lambda publishes no metric of a function's state, and its state-change events to EventBridge cover changes
a customer's action causes (create, update, publish, delete: Lambda developer guide, "Lambda function
state events in Amazon EventBridge"), not a version going Inactive when idle. So nothing can alarm on it;
this check is the nearest honest thing. A version becomes Inactive after weeks without invocations; its
next invocation fails with ResourceConflictException while Lambda restores it, so a scheduled run on it
fails once (Scheduler retries it) and `tools/rollback` wakes one before its dry run.

Exit codes: 0 every function and live version Active (and the last update successful); 1 one is not
(each named, with Lambda's reason); 2 could not decide (unknown stack, no credentials, an AWS error).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from components.function import ALIAS
from stack_config import Settings
from tools.cli import exit_code, stack_settings


class NotActive(Exception):
    """A function or its live version is not Active, or its last update failed (exit 1)."""


@dataclass(frozen=True)
class FunctionState:
    function_name: str
    qualifier: str
    """`$LATEST` (the function) or the version number `live` points at."""
    state: str
    last_update: str
    reason: str

    @property
    def healthy(self) -> bool:
        return self.state == "Active" and self.last_update in ("Successful", "InProgress", "")


def state_of(lambda_client, function_name: str, qualifier: str) -> FunctionState:
    configuration = lambda_client.get_function_configuration(FunctionName=function_name, Qualifier=qualifier)
    reasons = [f"{configuration[code]}: {configuration.get(text, '')}".rstrip(": ")
               for code, text in (("StateReasonCode", "StateReason"), ("LastUpdateStatusReasonCode", "LastUpdateStatusReason"))
               if configuration.get(code)]
    return FunctionState(function_name, qualifier, configuration.get("State", "Active"), configuration.get("LastUpdateStatus", ""),
                         "; ".join(reasons))


def check(lambda_client, settings: Settings, out=sys.stdout) -> list[FunctionState]:
    """The state of each function and of its live version; raises NotActive naming those that are not."""
    states = []
    for spec in settings.all_functions:
        name = settings.function_name(spec)
        live = lambda_client.get_alias(FunctionName=name, Name=ALIAS)["FunctionVersion"]
        states += [state_of(lambda_client, name, "$LATEST"), state_of(lambda_client, name, live)]
    for state in states:
        label = "function" if state.qualifier == "$LATEST" else f"{ALIAS} (version {state.qualifier})"
        print(f"{state.function_name} {label}: {state.state}"
              + (f", last update {state.last_update}" if state.last_update else "") + (f" ({state.reason})" if state.reason else ""), file=out)
    unhealthy = [s for s in states if not s.healthy]
    if unhealthy:
        raise NotActive("; ".join(
            f"{s.function_name}:{s.qualifier} is {s.state}" + (f" (last update {s.last_update})" if s.last_update not in ("", "Successful") else "")
            + (f": {s.reason}" if s.reason else "") for s in unhealthy
        ) + ". An Inactive live version wakes on its next invocation (the first fails); a Failed one needs a new deployment")
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.function_states", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", help="stack name, e.g. dev (reads Pulumi.<stack>.yaml)")
    args = parser.parse_args(argv)

    def act() -> None:
        import boto3

        settings = stack_settings(args.stack)
        check(boto3.client("lambda", region_name=settings.region), settings)

    return exit_code("function_states", act, refused=(NotActive,))


if __name__ == "__main__":
    sys.exit(main())
