"""What a stack costs a month: every line item priced from the stack's own settings and from the
resources its program really declares.

    python -m tools.cost dev            one stack, as a table
    python -m tools.cost --all          every Pulumi.<stack>.yaml (what `make cost` prints)
    python -m tools.cost dev --json     for machines
    python -m tools.cost --all --markdown --baseline main.json
                                        the pull request's comment: each stack and its change against main

Nothing here re-derives what the program decides. Run times come from the effective (staggered)
schedules of the stack's plan (stack_config/plan.py), the very Args the program deploys; schedule-aligned provisioned concurrency is
priced over exactly the windows `components.function.provisioned_windows` gives the program; alarms,
dashboards, KMS keys, queues and log groups are counted in the program's own resource graph, run under
Pulumi mocks (`tools/program_graph.py`: no engine, no cloud). Prices come from `tools/aws_prices.yaml`,
a dated table with each source named; a region it does not price is refused, never priced at zero.

What it cannot know is a setting with a documented default: each function's
`expected_duration_seconds`, and `cost_log_kb_per_run`, `cost_data_gb`, `cost_image_mb`,
`cost_changed_mb_per_release`. Free tiers and Savings Plans are not applied.

Exit codes: 0 printed, 2 could not decide (unknown stack, invalid settings, unpriced region, bad price table).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tools.cli import ROOT, exit_code
from tools.cost.estimate import estimate_stack, measured_sizes
from tools.cost.prices import PriceTable
from tools.cost.render import render, render_markdown


def stacks_in(root: Path = ROOT) -> list[str]:
    return sorted(path.name[len("Pulumi."):-len(".yaml")] for path in root.glob("Pulumi.*.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("stacks", nargs="*", help="stack names (Pulumi.<stack>.yaml)")
    parser.add_argument("--all", action="store_true", help="every stack file in the project")
    parser.add_argument("--json", action="store_true", help="one JSON object per stack, keyed by stack")
    parser.add_argument("--markdown", action="store_true", help="a pull-request comment")
    parser.add_argument("--baseline", type=Path, help="JSON from `--json` on the base branch, for the change column")
    options = parser.parse_args(argv)
    stacks = stacks_in() if options.all else options.stacks
    if not stacks:
        parser.error("name a stack or pass --all")

    def run() -> None:
        table = PriceTable.load()
        measured = measured_sizes()
        estimates = [estimate_stack(stack, table, measured) for stack in stacks]
        if options.json:
            print(json.dumps({e.stack: e.as_json() for e in estimates}, indent=2))
        elif options.markdown:
            baseline = json.loads(options.baseline.read_text()) if options.baseline and options.baseline.exists() else {}
            print(render_markdown(estimates, baseline))
        else:
            print("\n\n".join(render(e) for e in estimates))

    code = exit_code("cost", run, refused=())
    _close_event_loop()
    return code


def _close_event_loop() -> None:
    """The mocks leave an event loop open; closed here, it is not torn down noisily at interpreter exit."""
    import asyncio

    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    if not loop.is_closed():
        loop.close()
