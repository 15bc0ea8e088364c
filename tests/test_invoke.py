"""tools.invoke: one function's real handler on the embedded emulator with the caller's event."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.invoke", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_predictors_dry_run_with_the_callers_event_passes_every_check():
    done = run("dev", "corn", "--event", '{"commodity": "corn", "dry_run": true}')
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["dry_run"] is True and result["commodity"] == "corn"
    assert all(check.startswith("passed") for check in result["checks"].values()), result["checks"]
    assert '"service":"commodity-forecasts-dev-corn"' in done.stderr, "the handler's logs go to stderr"


def test_bad_input_is_refused_in_one_line():
    for args, message in ((("dev", "corn", "--event", "{not json"), "the event is not JSON"),
                          (("dev", "barley"), "stack 'dev' has no function 'barley' (it has corn, wheat, soybeans, trainer, price-feed)"),
                          (("dev", "corn", "--event", "[1]"), "the event must be a JSON object")):
        done = run(*args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
