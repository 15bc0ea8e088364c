"""Both Dockerfiles built by a real Docker engine, and each handler run inside its image against the
emulator (host network). Skipped where no engine is reachable; mandatory when REQUIRE_DOCKER=1
(`.ci/run` sets it after starting an engine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.images.conftest import NAMES, get_json

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
OUR_PACKAGES = ("common", "predictor", "trainer")


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine reachable (run `make docker`)"
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        return f"{BASE_IMAGE} is not available (run `make docker`)"
    return None


@pytest.fixture(scope="module")
def engine():
    problem = _engine_problem()
    if problem:
        if os.environ.get("REQUIRE_DOCKER") == "1":
            pytest.fail(f"container tests are mandatory here but {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def built(engine):
    """Build each image once per run, exactly as `pulumi up` would: images/ is the context."""
    tags = {}
    for image in ("predictor", "trainer"):
        tag = f"commodity-forecasts-test/{image}:latest"
        completed = subprocess.run(
            ["docker", "build", "--network", "host", "-t", tag, "-f", f"images/{image}/Dockerfile", "images"],
            cwd=ROOT, capture_output=True, text=True,
        )
        assert completed.returncode == 0, f"{image} image failed to build:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        tags[image] = tag
    return tags


def run_in_image(tag: str, event: dict, *, entrypoint: list[str] | None = None) -> subprocess.CompletedProcess:
    env_args = []
    for key in (
        "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "DATA_BUCKET", "PREDICTIONS_TABLE", "LEGACY_BUCKET", "LEGACY_PREFIX", "PRICES_PREFIX",
        "MODELS_PREFIX", "PREDICTIONS_PREFIX", "POWERTOOLS_METRICS_NAMESPACE",
    ):
        if key in os.environ:
            env_args += ["-e", f"{key}={os.environ[key]}"]
    env_args += ["-e", "POWERTOOLS_TRACE_DISABLED=true", "-e", "POWERTOOLS_SERVICE_NAME=container-test"]
    command = ["docker", "run", "--rm", "-i", "--network", "host", *env_args]
    if entrypoint:
        command += ["--entrypoint", entrypoint[0], tag, *entrypoint[1:]]
    else:
        command.append(tag)
    return subprocess.run(command, input=json.dumps(event), capture_output=True, text=True, timeout=600)


def response(completed: subprocess.CompletedProcess) -> dict:
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{") and '"_aws"' not in line and '"level"' not in line]
    return json.loads(lines[-1])


@pytest.mark.parametrize("image", ["predictor", "trainer"])
def test_image_runs_its_handler_by_default_and_holds_no_tests_or_build_caches(built, image):
    cmd = subprocess.run(["docker", "image", "inspect", "-f", "{{json .Config.Cmd}}", built[image]], capture_output=True, text=True, check=True)
    assert json.loads(cmd.stdout) == [f"{image}.handler.handler"]
    listing = run_in_image(built[image], {}, entrypoint=["find", "/var/task", "-name", "tests", "-o", "-name", "__pycache__"])
    found = listing.stdout.split()
    assert not [p for p in found if p.endswith("/tests")], f"{image}: test folders in the image: {found[:5]}"
    ours = [p for p in found if p.split("/")[3] in OUR_PACKAGES]
    assert not ours, f"{image}: bytecode caches from the build context in the image: {ours}"


def test_predictor_image_has_no_training_libraries(built):
    listing = run_in_image(built["predictor"], {}, entrypoint=["ls", "/var/task"])
    assert listing.returncode == 0
    present = set(listing.stdout.split())
    assert {"numpy", "common", "predictor"} <= present
    assert not {"pandas", "sklearn", "xgboost", "scipy", "trainer"} & present


def test_predictor_runs_inside_its_container(built, published, today):
    completed = run_in_image(built["predictor"], {"commodity": "corn"})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = response(completed)
    assert result["commodity"] == "corn" and result["effective_date"] == today.isoformat()
    assert "Init Duration:" in completed.stderr
    legacy = get_json(published, NAMES.legacy_bucket, "predictions/latest/corn.json")
    assert legacy["predicted_price"] == result["predicted_price"]


def test_predictor_failure_inside_the_container_is_reported_as_an_error(built, plane):
    completed = run_in_image(built["predictor"], {"commodity": "oats"})
    assert completed.returncode == 1
    error = response(completed)
    assert error["errorType"] == "UnknownCommodity"
    assert "unknown commodity 'oats'" in error["errorMessage"]


def test_trainer_runs_inside_its_container(built, seeded, today):
    completed = run_in_image(built["trainer"], {"commodity": "corn"})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    result = response(completed)
    assert result["models"][0]["commodity"] == "corn"
    pointer = get_json(seeded, NAMES.data_bucket, "models/corn/latest.json")
    assert pointer["version"] == today.isoformat()
