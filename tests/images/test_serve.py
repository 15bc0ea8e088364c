"""`make serve`: both images as long-lived containers on localhost ports, invoked cold then warm over Lambda's
invoke endpoint; Ctrl-C stops everything and leaves no container behind."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

from tests.images.test_containers import engine  # noqa: F401 (the fixture: mandatory where REQUIRE_DOCKER=1)
from tools.images import INVOKE_PATH, ROOT, free_port
from tools.serve import LABEL


def _invoke(port: int, event: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{INVOKE_PATH}", data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def _our_containers() -> list[str]:
    listed = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={LABEL}"], capture_output=True, text=True, check=True)
    return listed.stdout.split()


def test_serve_answers_each_image_cold_and_warm_and_leaves_nothing_behind(engine):  # noqa: F811
    assert not _our_containers(), "containers from an earlier serve are still there"
    ports = {"predictor": free_port(), "trainer": free_port()}
    server = subprocess.Popen(
        [sys.executable, "-m", "tools.serve", "--predictor-port", str(ports["predictor"]), "--trainer-port", str(ports["trainer"])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 1500
        for line in server.stdout:
            output.append(line)
            if line.startswith("serving;") or time.monotonic() > deadline:
                break
        assert output and output[-1].startswith("serving;"), "".join(output)[-3000:]
        assert re.search(rf"curl -s -XPOST 127.0.0.1:{ports['predictor']}{INVOKE_PATH}", "".join(output))
        assert len(_our_containers()) == 2

        for commodity in ("corn", "corn"):
            prediction = _invoke(ports["predictor"], {"commodity": commodity})
            assert prediction["commodity"] == "corn" and "predicted_price" in prediction, prediction
        for _ in range(2):
            training = _invoke(ports["trainer"], {"commodity": "wheat"})
            assert training["models"][0]["commodity"] == "wheat", training
    finally:
        server.send_signal(signal.SIGINT)
        rest, _ = server.communicate(timeout=120)
    assert server.returncode == 0, "".join(output) + rest
    assert "stopped" in rest
    assert not _our_containers(), "serve left containers behind"
