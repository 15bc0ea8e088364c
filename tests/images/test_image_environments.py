"""Each image's locked set alone is enough: install its exported requirements into a fresh venv the way the
image build does (uv, hash-verified, wheels only; nothing from the dev environment), check the closure is
exactly what is locked, then import and invoke the handler there against the emulator. Catches a
dependency missing from an image before any Docker build."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.images.conftest import NAMES, get_json
from tests.images.test_requirements import image_pins
from tools.image_env import python_for, uv

ROOT = Path(__file__).resolve().parents[2]
INVOKE = """
import json, sys, uuid
from importlib import import_module
module_name, _, function_name = sys.argv[1].rpartition(".")
class Context:
    function_name = "env-test"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:env-test"
    aws_request_id = str(uuid.uuid4())
    def get_remaining_time_in_millis(self):
        return 60000
handler = getattr(import_module(module_name), function_name)
print("RESULT " + json.dumps(handler(json.loads(sys.argv[2]), Context())))
print("MODULES " + json.dumps(sorted(m for m in sys.modules if "." not in m)))
"""


def image_python(image: str) -> Path:
    return python_for(ROOT / "images" / image / "requirements.txt", image)


def run_handler(image: str, handler: str, event: dict) -> dict:
    python = image_python(image)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = str(ROOT / "images")
    completed = subprocess.run(
        [str(python), "-s", "-c", INVOKE, handler, json.dumps(event)],
        capture_output=True, text=True, env=env, cwd=str(ROOT / "images"),
    )
    assert completed.returncode == 0, f"{image} handler failed in its own environment:\n{completed.stderr[-4000:]}"
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in completed.stdout.splitlines() if line.startswith(("RESULT ", "MODULES "))}
    return {"result": json.loads(lines["RESULT"]), "modules": json.loads(lines["MODULES"])}


@pytest.mark.parametrize("image", ["predictor", "trainer"])
def test_image_requirements_install_exactly_the_pinned_closure(image):
    python = image_python(image)
    frozen = subprocess.run([uv(), "pip", "freeze", "--python", str(python)], capture_output=True, text=True, check=True).stdout
    installed = {}
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        installed[name.lower().replace("_", "-")] = version
    assert installed == image_pins(image), f"{image}: the venv must hold exactly the locked closure"


def test_predictor_runs_from_its_own_requirements(published, today):
    run = run_handler("predictor", "predictor.handler.handler", {"commodity": "soybeans"})
    assert run["result"]["effective_date"] == today.isoformat()
    assert not {"pandas", "sklearn", "xgboost", "scipy"} & set(run["modules"]), "inference imports no training libraries"
    legacy = get_json(published, NAMES.legacy_bucket, "predictions/latest/soybeans.json")
    assert legacy["predicted_price"] == run["result"]["predicted_price"]


def test_trainer_runs_from_its_own_requirements(seeded, today):
    run = run_handler("trainer", "trainer.handler.handler", {"commodity": "wheat"})
    assert run["result"]["models"][0]["commodity"] == "wheat"
    assert get_json(seeded, NAMES.data_bucket, "models/wheat/latest.json")["version"].startswith(today.isoformat() + "-")
