"""Each image's requirements: exact pins, no training libraries in the predictor, shared pins agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

IMAGES = Path(__file__).resolve().parents[2] / "images"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[a-z,]+\])?==([0-9][A-Za-z0-9.+-]*)$")


def pins(image: str) -> dict[str, str]:
    found = {}
    for line in (IMAGES / image / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"images/{image}/requirements.txt: {line!r} is not pinned exactly (name==version)"
        found[match.group(1).lower().replace("_", "-")] = match.group(3)
    return found


@pytest.mark.parametrize("image", ["predictor", "trainer"])
def test_every_requirement_is_pinned_exactly(image):
    assert pins(image)


def test_predictor_is_inference_only():
    predictor = pins("predictor")
    for training_only in ("pandas", "scikit-learn", "xgboost", "xgboost-cpu", "scipy"):
        assert training_only not in predictor, f"the predictor image must not carry {training_only}"


def test_a_model_loads_where_it_is_served():
    """The trainer's XGBoost writes a model format the predictor's evaluator reads (parity-tested in
    test_forest.py), and packages both images carry are pinned alike."""
    from predictor.forest import SUPPORTED_XGBOOST_MAJORS

    predictor, trainer = pins("predictor"), pins("trainer")
    assert int(trainer["xgboost-cpu"].split(".")[0]) in SUPPORTED_XGBOOST_MAJORS
    disagreeing = {name: (version, trainer[name]) for name, version in predictor.items() if name in trainer and trainer[name] != version}
    assert not disagreeing, f"packages pinned differently in the two images: {disagreeing}"
