"""One-shot invoker for cold starts on the host (no container): the benchmark's host variants.

Reads one JSON event from stdin, imports the handler named on the command line (e.g.
``predictor.handler.handler``), calls it with a Lambda-like context, writes the JSON response to stdout
and a REPORT line in Lambda's format to stderr (Init Duration: interpreter start to handler imported;
Duration: the first invocation). A handler exception is written in Lambda's error shape and exits 1.
Containers are timed by their own runtime interface emulator's REPORT line instead (bench/cold_start.py).
"""

import importlib
import json
import os
import sys
import time
import traceback
import uuid

_started = time.perf_counter()


class Context:
    """The subset of LambdaContext that handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "standin"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> int:
    if len(sys.argv) != 2 or "." not in sys.argv[1]:
        print("usage: invoke.py <module.function>", file=sys.stderr)
        return 2
    module_name, _, function_name = sys.argv[1].rpartition(".")
    event = json.loads(sys.stdin.read() or "{}")
    context = Context(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "standin"),
        int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")),
        int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "900")),
    )
    status = 0
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        init_ms = (time.perf_counter() - _started) * 1000
        invoke_started = time.perf_counter()
        response = handler(event, context)
        print(json.dumps(response, default=str))
    except Exception as exc:  # the runtime's job: report any handler failure in Lambda's shape
        init_ms = locals().get("init_ms", (time.perf_counter() - _started) * 1000)
        invoke_started = locals().get("invoke_started", time.perf_counter())
        print(json.dumps({
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(exc),
        }))
        status = 1
    duration_ms = (time.perf_counter() - invoke_started) * 1000
    print(
        f"REPORT RequestId: {context.aws_request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Memory Size: {context.memory_limit_in_mb} MB\tInit Duration: {init_ms:.2f} ms",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
