"""Both images built by a real Docker engine for both Lambda architectures, and run the way Lambda's base
image runs them: a long-lived container per image, invoked only over Lambda's invoke endpoint
(`POST /2015-03-31/functions/function/invocations`), against the AWS emulator on loopback.

Nothing here knows whether the base image is the local stand-in or `public.ecr.aws/lambda/python`: the
container is started with the real image's RIE options and answered in Lambda's shapes. Skipped where no
engine is reachable; mandatory when REQUIRE_DOCKER=1 (`.ci/run` sets it after `make docker`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.images.conftest import MODEL_AS_OF, NAMES, get_json
from tools import images

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("common", "predictor", "trainer")
FORWARDED = (
    "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "DATA_BUCKET", "PREDICTIONS_TABLE", "LEGACY_BUCKET", "LEGACY_PREFIX", "PRICES_PREFIX",
    "MODELS_PREFIX", "PREDICTIONS_PREFIX", "POWERTOOLS_METRICS_NAMESPACE",
)
REPORT = re.compile(r"^REPORT RequestId: \S+\t(Init Duration: [\d.]+ ms\t)?Duration: [\d.]+ ms", re.MULTILINE)
ARCHITECTURES = ("x86_64", "arm64")


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine reachable (run `make docker`)"
    for architecture in ARCHITECTURES:
        base = images.base_image(architecture)
        if subprocess.run(["docker", "image", "inspect", base], capture_output=True).returncode != 0:
            return f"{base} is not available (run `make docker`)"
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
    """Each image for each architecture, built once per run with images/ as the context, as `pulumi up` does."""
    return {
        (image, architecture): images.build(image, architecture)
        for architecture in ARCHITECTURES
        for image in images.IMAGES
    }


def container(tag: str) -> images.LambdaContainer:
    environment = {key: os.environ[key] for key in FORWARDED if key in os.environ}
    environment.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME="container-test", AWS_LAMBDA_FUNCTION_TIMEOUT="900")
    return images.LambdaContainer(tag, environment=environment)


def inspect_files(tag: str, *command: str) -> str:
    return subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", command[0], tag, *command[1:]], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("image", images.IMAGES)
def test_image_is_one_architecture_runs_its_handler_and_holds_no_tests_or_build_caches(built, image, architecture):
    tag = built[(image, architecture)]
    assert images.image_architecture(tag) == architecture, f"{tag}: built for the wrong architecture"
    cmd = subprocess.run(["docker", "image", "inspect", "-f", "{{json .Config.Cmd}}", tag], capture_output=True, text=True, check=True)
    assert json.loads(cmd.stdout) == [f"{image}.handler.handler"]
    found = inspect_files(tag, "find", "/var/task", "-name", "tests", "-o", "-name", "__pycache__").split()
    assert not [p for p in found if p.endswith("/tests")], f"{tag}: test folders in the image: {found[:5]}"
    ours = [p for p in found if p.split("/")[3] in OUR_PACKAGES]
    assert not ours, f"{tag}: bytecode caches from the build context in the image: {ours}"
    compiled = inspect_files(tag, "find", "/var/task/numpy", "-name", "*.pyc")
    assert compiled.strip(), f"{tag}: dependencies were installed without compiled bytecode"


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("image", images.IMAGES)
def test_image_stays_within_the_size_budget_it_declares(built, image, architecture):
    tag = built[(image, architecture)]
    budget = subprocess.run(
        ["docker", "image", "inspect", "-f", '{{ index .Config.Labels "org.commodity-forecasts.size-budget-mb" }}', tag],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert budget.isdigit(), f"{image}/Dockerfile must declare LABEL org.commodity-forecasts.size-budget-mb"
    added = images.added_megabytes(tag)
    largest = ", ".join(f"{name} {mb:.1f} MB" for name, mb in images.largest_entries(tag, 6))
    assert added <= int(budget), f"{tag} adds {added:.1f} MB over its base, budget {budget} MB; largest: {largest}"


def test_predictor_image_has_no_training_libraries(built):
    present = set(inspect_files(built[("predictor", "arm64")], "ls", "/var/task").split())
    assert {"numpy", "common", "predictor"} <= present
    assert not {"pandas", "sklearn", "xgboost", "scipy", "trainer"} & present


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_predictor_answers_cold_then_warm_over_the_invoke_endpoint(built, published, today, architecture):
    with container(built[("predictor", architecture)]) as running:
        cold = running.invoke({"commodity": "corn"})
        warm = running.invoke({"commodity": "wheat"})
        logs = running.logs()
    assert cold.status == 200 and not cold.failed, cold.payload
    assert cold.payload["commodity"] == "corn" and cold.payload["effective_date"] == today.isoformat()
    assert not warm.failed and warm.payload["commodity"] == "wheat", warm.payload
    reports = REPORT.findall(logs)
    assert len(reports) == 2, f"one REPORT line per invocation expected:\n{logs[-3000:]}"
    assert reports[0] and not reports[1], "Init Duration belongs to the cold (first) invocation only"
    legacy = get_json(published, NAMES.legacy_bucket, "predictions/latest/corn.json")
    assert legacy["predicted_price"] == cold.payload["predicted_price"]


def test_a_handler_error_is_answered_in_lambdas_error_shape(built, plane):
    with container(built[("predictor", "arm64")]) as running:
        result = running.invoke({"commodity": "oats"})
        again = running.invoke({"commodity": "oats"})
    assert result.failed and result.function_error == "Unhandled"
    assert result.payload["errorType"] == "UnknownCommodity"
    assert "unknown commodity 'oats'" in result.payload["errorMessage"]
    assert isinstance(result.payload["stackTrace"], list)
    assert again.payload["errorType"] == "UnknownCommodity", "the runtime keeps serving after a handler error"


def test_trainer_trains_on_arm64_and_the_arm64_predictor_matches_xgboost(built, seeded, today, tmp_path):
    """Parity on the architecture that ships: the model the arm64 trainer published, evaluated by the arm64
    predictor's tree walker and by XGBoost in the arm64 trainer image, on the same feature rows."""
    with container(built[("trainer", "arm64")]) as running:
        trained = running.invoke({"commodity": "corn"}, timeout=1500)
        checked = running.invoke({"commodity": "corn", "dry_run": True}, timeout=600)
    assert not trained.failed, trained.payload
    assert trained.payload["models"][0]["commodity"] == "corn"
    pointer = get_json(seeded, NAMES.data_bucket, "models/corn/latest.json")
    assert pointer["version"].startswith(today.isoformat() + "-")
    assert not checked.failed and checked.payload["dry_run"] is True, checked.payload
    assert checked.payload["checks"]["corn: serving"] == f"passed: {pointer['method']} {pointer['version']}"

    from common.features import feature_matrix
    from demo.prices import generate

    # The model the run fitted (stored whether or not it serves: naive may, when it is not significantly better).
    model = seeded.client("s3").get_object(Bucket=NAMES.data_bucket, Key=trained.payload["models"][0]["model_key"])["Body"].read()
    rows = generate("corn", MODEL_AS_OF)[-400:]
    features = feature_matrix(np.array([r.date for r in rows], dtype="datetime64[D]"), np.array([r.close for r in rows]))
    features = features[~np.isnan(features).any(axis=1)]
    (tmp_path / "model.json").write_bytes(model)
    np.save(tmp_path / "features.npy", features)
    script = {
        "trainer": "import numpy as np, xgboost as xgb; b = xgb.Booster(); b.load_model('/data/model.json'); "
                   "np.save('/data/out.npy', b.inplace_predict(np.load('/data/features.npy')))",
        "predictor": "import numpy as np; from predictor.forest import Forest; "
                     "f = Forest.from_json(open('/data/model.json', 'rb').read()); np.save('/data/out.npy', f.predict(np.load('/data/features.npy')))",
    }
    outputs = {}
    for image, code in script.items():
        subprocess.run(
            ["docker", "run", "--rm", "-v", f"{tmp_path}:/data", "--entrypoint", "python3", built[(image, "arm64")], "-c", code],
            check=True, capture_output=True, text=True,
        )
        outputs[image] = np.load(tmp_path / "out.npy")
    assert len(outputs["predictor"]) == len(features) > 300
    assert np.max(np.abs(outputs["predictor"] - outputs["trainer"])) < 1e-5
