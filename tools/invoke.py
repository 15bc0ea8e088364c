"""Run one function's real handler on the embedded emulator with an event of your own, the way `sam
local invoke` runs a function, without Docker or an account:

    python -m tools.invoke dev corn                                   the event its schedule sends
    python -m tools.invoke dev corn --event '{"commodity": "corn", "dry_run": true}'
    python -m tools.invoke dev trainer --event-file event.json

The emulator gets the stack's data plane (its names) and the demo's synthetic price history; a
predictor's run is preceded by one training run, so it has a version to serve. The handler's result is
printed as JSON on stdout; its logs and metrics go to stderr.

Exit codes: 0 the handler returned, 1 it raised (the error is printed in one line), 2 bad arguments,
an unknown stack or function, or invalid settings or event JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from tools.cli import CannotDecide, stack_settings


class HandlerFailed(Exception):
    """The handler raised: its error, in one line (exit 1)."""


def _event(options: argparse.Namespace, default: dict[str, Any]) -> dict[str, Any]:
    text = options.event if options.event is not None else Path(options.event_file).read_text() if options.event_file else None
    if text is None:
        return dict(default)
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise CannotDecide(f"the event is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise CannotDecide(f"the event must be a JSON object, got {type(event).__name__}")
    return event


def invoke(stack: str, function: str, event: dict[str, Any] | None = None) -> Any:
    """The handler's result for `event` (default: the function's scheduled event)."""
    from common.contract import COMMODITIES
    from common.events import today_utc
    from demo.__main__ import Context
    from demo.emulator import Emulator, apply_environment, create_data_plane, seed_prices, stack_names

    settings = stack_settings(stack)
    specs = {f.name: f for f in settings.all_functions}
    if function not in specs:
        raise CannotDecide(f"stack {stack!r} has no function {function!r} (it has {', '.join(specs)})")
    spec, names = specs[function], stack_names(settings)
    with Emulator(region=settings.region) as emulator, contextlib.redirect_stdout(sys.stderr):
        apply_environment({**emulator.environment, "POWERTOOLS_TRACE_DISABLED": "true"})
        create_data_plane(emulator, names)
        seed_prices(emulator, names, COMMODITIES, today_utc())
        trainers = [f for f in settings.functions if f.image == "trainer"]
        if spec.image != "trainer" and trainers:
            _run(trainers[0], dict(trainers[0].event), names, settings, Context)
        return _run(spec, dict(spec.event) if event is None else event, names, settings, Context)


def _run(spec, event: dict[str, Any], names, settings, context_type) -> Any:
    """The image's handler, imported after its environment is set (Powertools reads it at import)."""
    import importlib

    from demo.emulator import apply_environment

    apply_environment({**names.variables(service=settings.function_name(spec)), **spec.environment})
    handler = importlib.import_module(f"{spec.image}.handler").handler
    try:
        return handler(event, context_type(settings.function_name(spec), spec.args.memory_mb, spec.args.timeout_seconds))
    except Exception as error:  # the handler's own failure: reported, not a traceback of this tool
        raise HandlerFailed(f"{spec.name} raised {type(error).__name__}: {error}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.invoke", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("stack", help="the stack (Pulumi.<stack>.yaml)")
    parser.add_argument("function", help="a function's name in the stack file, e.g. corn")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--event", help="the event, as JSON (default: the function's scheduled event)")
    source.add_argument("--event-file", help="a file holding the event's JSON")
    options = parser.parse_args(argv)
    try:
        result = invoke(options.stack, options.function, _event(options, {}) if (options.event or options.event_file) else None)
    except HandlerFailed as error:
        print(f"invoke: {error}", file=sys.stderr)
        return 1
    except (CannotDecide, FileNotFoundError) as error:
        print(f"invoke could not decide: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
