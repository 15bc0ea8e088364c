"""`make serve`: the predictor and trainer images as long-lived containers against the embedded AWS emulator.

Starts moto on loopback with the dev stack's data plane, seeds price history, trains a model with the
trainer container, then keeps one container per image answering Lambda's invoke endpoint on a localhost
port until Ctrl-C (or SIGTERM), which stops and removes every container it started:

    curl -s -XPOST localhost:9100/2015-03-31/functions/function/invocations -d '{"commodity": "corn"}'
    curl -s -XPOST localhost:9101/2015-03-31/functions/function/invocations -d '{"commodity": "wheat"}'
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from common.environment import WorkloadEnvironment
from common.events import today_utc
from common.contract import COMMODITIES
from components.limits import TIMEOUT_SECONDS
from stack_config import settings_from_config, stack_config
from demo.emulator import Emulator, create_data_plane, seed_prices, stack_names
from tools.images import INVOKE_PATH, ROOT, LambdaContainer, build, host_architecture

LABEL = "org.commodity-forecasts.serve"


def names_for(stack: str) -> WorkloadEnvironment:
    return stack_names(settings_from_config(stack_config(ROOT, stack), stack=stack, project_dir=ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--predictor-port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument("--trainer-port", type=int, default=9101, help="0 picks a free port")
    parser.add_argument("--no-build", action="store_true", help="use the images `make images` already built")
    options = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    architecture = host_architecture()
    tags = {image: build(image, architecture) if not options.no_build else f"commodity-forecasts-local/{image}:{architecture}"
            for image in ("predictor", "trainer")}
    names = names_for("dev")
    containers: list[LambdaContainer] = []
    with Emulator() as emulator:
        create_data_plane(emulator, names)
        seed_prices(emulator, names, COMMODITIES, today_utc())
        environment = {
            **{key: value for key, value in emulator.environment.items()},
            **names.variables(service="serve"),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(TIMEOUT_SECONDS.maximum)),
        }
        try:
            for image, port in (("trainer", options.trainer_port), ("predictor", options.predictor_port)):
                container = LambdaContainer(tags[image], environment=environment, port=port or None, labels={LABEL: "1"})
                containers.append(container.start())
            print("training a model with the trainer container …", flush=True)
            trained = containers[0].invoke({}, timeout=1800)
            if trained.failed:
                print(f"training failed: {trained.payload}", file=sys.stderr)
                return 1
            print(f"AWS emulator on {emulator.endpoint}; dev stack names, prices through {today_utc()}, models trained.")
            for container, image in zip(containers, ("trainer", "predictor")):
                event = '{"commodity": "corn"}'
                print(f"{image:9} http://127.0.0.1:{container.port}{INVOKE_PATH}\n"
                      f"  curl -s -XPOST 127.0.0.1:{container.port}{INVOKE_PATH} -d '{event}'")
            print("serving; Ctrl-C stops and removes both containers", flush=True)
            stop.wait()
        finally:
            for container in containers:
                container.stop()
            print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
