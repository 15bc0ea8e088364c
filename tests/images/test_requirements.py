"""Each image installs exactly its locked set: exported from uv.lock, every package pinned with hashes,
the export current, no training libraries in the predictor, and one resolution for both images."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tools.image_env import uv

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[a-z,]+\])?==([0-9][A-Za-z0-9.+-]*)(\s*;[^\\]*)?\s*\\$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}( \\)?$")
EXPORTS = {
    "images/predictor/requirements.txt": ["--only-group", "predictor"],
    "images/trainer/requirements.txt": ["--only-group", "trainer"],
    "images/build-requirements.txt": ["--only-group", "image-build"],
    "tools/lambda-base/requirements.txt": ["--only-group", "lambda-runtime"],
    "bench/xray/requirements.txt": ["--only-group", "bench-xray-sdk"],
    "requirements.txt": ["--no-default-groups"],
}
"""Every file exported from uv.lock, with the selection `make exports` gives `uv export`."""


def pins(path: Path) -> dict[str, str]:
    """name → version of an exported requirements file; every requirement must carry its hashes."""
    found: dict[str, str] = {}
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#") or HASH.match(line):
            continue
        match = PIN.match(line)
        assert match, f"{path.relative_to(ROOT)}:{index + 1}: {line!r} is not an exact pin followed by hashes"
        assert index + 1 < len(lines) and HASH.match(lines[index + 1]), f"{path.relative_to(ROOT)}: {match.group(1)} has no --hash"
        found[match.group(1).lower().replace("_", "-")] = match.group(3)
    return found


def image_pins(image: str) -> dict[str, str]:
    return pins(IMAGES / image / "requirements.txt")


@pytest.mark.parametrize("path", sorted(EXPORTS))
def test_every_export_is_current_with_the_lock(path, tmp_path):
    exported = tmp_path / "export.txt"
    subprocess.run(
        [uv(), "export", "--frozen", "--quiet", *EXPORTS[path], "--no-emit-project", "--output-file", str(exported)],
        cwd=ROOT, check=True,
    )
    body = lambda text: [line for line in text.splitlines() if not line.startswith("#")]  # noqa: E731
    assert body((ROOT / path).read_text()) == body(exported.read_text()), f"{path} is stale: run `make exports`"
    assert pins(ROOT / path), f"{path} pins nothing"


def test_lockfile_is_current_with_pyproject():
    completed = subprocess.run([uv(), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, f"uv.lock is out of date with pyproject.toml (run `make lock`): {completed.stderr}"


def test_predictor_is_inference_only():
    predictor = image_pins("predictor")
    for training_only in ("pandas", "scikit-learn", "xgboost", "xgboost-cpu", "scipy"):
        assert training_only not in predictor, f"the predictor image must not carry {training_only}"


def test_a_model_loads_where_it_is_served():
    """The trainer's XGBoost writes a model format the predictor's evaluator reads (parity-tested in
    test_forest.py), and packages both images carry are the same versions."""
    from predictor.forest import SUPPORTED_XGBOOST_MAJORS

    predictor, trainer = image_pins("predictor"), image_pins("trainer")
    assert int(trainer["xgboost-cpu"].split(".")[0]) in SUPPORTED_XGBOOST_MAJORS
    disagreeing = {name: (version, trainer[name]) for name, version in predictor.items() if name in trainer and trainer[name] != version}
    assert not disagreeing, f"packages pinned differently in the two images: {disagreeing}"


def test_make_refuses_a_lockfile_out_of_date_with_pyproject(tmp_path):
    """`make` stops before installing anything, and says what to run."""
    import shutil

    for name in ("Makefile", "pyproject.toml", "uv.lock", *EXPORTS):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "images" / "common").mkdir(parents=True)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('    "pulumi-docker-build",\n', '    "pulumi-docker-build",\n    "requests",\n'))
    completed = subprocess.run(["make", ".venv/.synced"], cwd=tmp_path, capture_output=True, text=True)
    assert completed.returncode != 0
    assert "uv.lock is out of date with pyproject.toml: run 'make lock'" in completed.stderr
    assert not (tmp_path / ".venv").exists(), "nothing may be installed from a stale lock"


def copy_make_inputs(tmp_path: Path) -> None:
    """The files `make .venv/.synced` reads, and a fake uv that records its calls."""
    import shutil

    for name in ("Makefile", "pyproject.toml", "uv.lock", *EXPORTS):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    fake = tmp_path / "fake-uv"
    fake.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/uv-calls"\nif [ "$1" = sync ]; then mkdir -p .venv/bin; fi\n')
    fake.chmod(0o755)


def make_in_copy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", f"UV={tmp_path / 'fake-uv'}", *args], cwd=tmp_path, capture_output=True, text=True)


def test_make_recreates_a_venv_built_by_another_interpreter(tmp_path):
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / ".python-2.7-0000000000").touch()  # what another interpreter's build leaves
    (tmp_path / ".venv" / "sentinel").touch()
    copy_make_inputs(tmp_path)
    first = make_in_copy(tmp_path, ".venv/.synced")
    assert first.returncode == 0, first.stderr
    assert "was not built by" in first.stderr and "recreating it" in first.stderr
    assert not (tmp_path / ".venv" / "sentinel").exists(), "the old venv is gone"
    assert "sync --frozen --quiet" in (tmp_path / "uv-calls").read_text()

    (tmp_path / "uv-calls").unlink()
    again = make_in_copy(tmp_path, ".venv/.synced")
    assert again.returncode == 0 and not (tmp_path / "uv-calls").exists(), "same interpreter, nothing changed: no sync"

    image_requirements = tmp_path / "images" / "trainer" / "requirements.txt"
    image_requirements.write_text(image_requirements.read_text() + "\n")
    changed = make_in_copy(tmp_path, ".venv/.synced")
    assert changed.returncode == 0 and "sync --frozen" in (tmp_path / "uv-calls").read_text(), "an image's declaration changed: re-sync"
