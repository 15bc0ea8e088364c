"""The layers (pyproject.toml's import-linter contracts, run by `make test`): they hold today, they fail
on an upward import, and `__main__.py`, which no linter can import, imports only from the layers below it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT = str(Path(sys.executable).with_name("lint-imports"))
PACKAGES = {"tools": "tools", "demo": "demo", "bench": "bench", "stack_config": "stack_config", "components": "components",
            "common": "images/common", "predictor": "images/predictor", "trainer": "images/trainer"}


def lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def copy_of_the_tree(tmp_path: Path) -> Path:
    for package, where in PACKAGES.items():
        shutil.copytree(ROOT / where, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.txt", "Dockerfile", "baseline"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_component_importing_the_settings_breaks_the_contract(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    limits = tree / "components" / "limits.py"
    limits.write_text(limits.read_text() + "\nfrom stack_config import Settings  # noqa: E402\n")
    result = lint(tree)
    assert result.returncode == 1 and "BROKEN" in result.stdout, result.stdout[-2000:]
    assert "components.limits -> stack_config" in result.stdout


def test_a_workload_importing_a_component_breaks_the_contract(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    handler = tree / "predictor" / "handler.py"
    handler.write_text(handler.read_text() + "\nimport components.limits  # noqa: E402\n")
    result = lint(tree)
    assert result.returncode == 1 and "predictor.handler -> components.limits" in result.stdout, result.stdout[-2000:]


def test_main_imports_only_from_the_layers_below_it():
    tree = ast.parse((ROOT / "__main__.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add(node.module.split(".")[0])
    project = roots - set(sys.stdlib_module_names) - {"pulumi", "pulumi_aws"}
    assert project <= {"stack_config", "components", "common"}, f"__main__.py imports {sorted(project)}"
    assert "stack_config" in project, "the program reads its settings through the settings layer"


def test_the_components_import_one_another_relatively_and_only_pulumi_and_the_contract_beside():
    """The same files are `components` here and `commodity_forecasts.components` once installed (the wheel,
    tests/test_examples.py): an absolute import of `components`, or of any other folder of this repository,
    would fail there. The workloads' contract comes through components/contract.py, under either name."""
    allowed = set(sys.stdlib_module_names) | {"pulumi", "pulumi_aws", "pulumi_docker_build"}
    bridge = {"common.contract", "commodity_forecasts.common.contract"}
    for path in sorted((ROOT / "components").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                if path.name == "contract.py" and name in bridge:
                    continue
                assert name.split(".")[0] in allowed, f"components/{path.name} imports {name}: relative (`from .x import`) or pulumi's only"
