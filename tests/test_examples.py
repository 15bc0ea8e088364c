"""examples/echo: a second program on the same components, unchanged — one repository, one arm64 image,
one Function URL function with its pre-traffic gate, no schedule, no data plane, no alarms.

It runs as a user's program would: on the components installed from the project's wheel
(`commodity_forecasts.components`), in a process whose import path holds that installation and the
environment's third-party packages but not this repository, nor images/ (the editable install's .pth is
not read), so an import of the repository's folders fails there as it would in a user's environment."""

from __future__ import annotations

import email
import json
import re
import runpy
import site
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, Graph
from tools.image_env import uv
from tools.program_graph import Resource

EXAMPLE = ROOT / "examples" / "echo"
GUIDE = ROOT / "docs" / "using-the-components.md"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SHIPPED = {
    "commodity_forecasts/__init__.py": ROOT / "package" / "commodity_forecasts" / "__init__.py",
    "commodity_forecasts/common/__init__.py": ROOT / "images" / "common" / "__init__.py",
    "commodity_forecasts/common/contract.py": ROOT / "images" / "common" / "contract.py",
    **{f"commodity_forecasts/components/{path.name}": path for path in (ROOT / "components").glob("*.py")},
}
"""Every file the wheel installs, and the repository file it is."""

# Run with `python -I -S`: no site-packages, no .pth files, no current directory on the path. The
# driver adds the wheel's installation and the environment's site-packages, checks what cannot be
# imported, imports every installed component module, then runs the example under the project's mocks
# (tools/program_graph.py, loaded from its file: it needs only pulumi) and prints the graph as JSON.
DRIVER = """
import dataclasses, importlib, importlib.util, json, pkgutil, runpy, sys
target, site_packages, harness, program, config = sys.argv[1:]
sys.path[:0] = [target]
sys.path.extend(json.loads(site_packages))
importable = {}
for name in ("components", "common", "stack_config", "tools"):
    try:
        importlib.import_module(name)
        importable[name] = True
    except ImportError:
        importable[name] = False
import commodity_forecasts.components as package
modules = sorted(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
for module in modules:
    importlib.import_module(module)
spec = importlib.util.spec_from_file_location("program_graph", harness)
program_graph = importlib.util.module_from_spec(spec)
sys.modules["program_graph"] = program_graph
spec.loader.exec_module(program_graph)
graph = program_graph.run_program(lambda: runpy.run_path(program), stack="dev", config=json.loads(config))
print(json.dumps({"importable": importable, "modules": modules, "package_file": package.__file__,
                  "resources": [dataclasses.asdict(r) for r in graph.resources], "outputs": graph.outputs}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built as `uv build --wheel` builds it (the pinned backend, in isolation)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([uv(), "build", "--wheel", "--quiet", "--out-dir", str(out), str(ROOT)], check=True, timeout=300)
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed on its own into an empty folder (its dependencies are the environment's)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([uv(), "pip", "install", "--quiet", "--no-deps", "--python", sys.executable, "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    return target


@pytest.fixture(scope="module")
def run(installed) -> dict:
    config = {"aws:region": "eu-west-1", "echo-function:environment": "dev"}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", DRIVER, str(installed), json.dumps(site.getsitepackages()),
         str(ROOT / "tools" / "program_graph.py"), str(EXAMPLE / "__main__.py"), json.dumps(config)],
        cwd=EXAMPLE,  # Pulumi runs a program from its own folder
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture
def graph(run) -> Graph:
    return Graph([Resource(**resource) for resource in run["resources"]], run["outputs"])


def test_the_wheel_holds_only_the_commodity_forecasts_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"commodity_forecasts", f"commodity_forecasts-{VERSION}.dist-info"}, \
        "anything else would be a top-level name in the user's site-packages"
    assert sorted(name for name in names if not name.startswith(f"commodity_forecasts-{VERSION}.dist-info/")) == sorted(SHIPPED)
    with zipfile.ZipFile(wheel) as archive:
        for name, source in SHIPPED.items():
            assert archive.read(name) == source.read_bytes(), f"{name} is not {source.relative_to(ROOT)}"
        metadata = email.message_from_bytes(archive.read(f"commodity_forecasts-{VERSION}.dist-info/METADATA"))
    required = {re.split(r"[ ;<>=!~\[]", requirement)[0] for requirement in metadata.get_all("Requires-Dist")}
    assert {"pulumi", "pulumi-aws", "pulumi-docker-build"} <= required


def test_the_example_runs_on_the_installed_package_without_the_repository(run, installed):
    assert run["importable"] == {"components": False, "common": False, "stack_config": False, "tools": False}
    assert Path(run["package_file"]).is_relative_to(installed)
    assert set(run["modules"]) == {f"commodity_forecasts.components.{path.stem}" for path in (ROOT / "components").glob("*.py")
                                   if path.stem != "__init__"}, "every component module imports from the installed package"


def test_the_example_builds_on_the_components_unchanged(graph):
    types = [r.type for r in graph.resources]
    assert types.count("commodity-forecasts:registry:EcrRepository") == 1
    assert types.count("commodity-forecasts:image:LambdaImage") == 1
    assert types.count("commodity-forecasts:function:ContainerFunction") == 1
    assert not [t for t in types if "scheduler" in t or "dynamodb" in t or "metricAlarm" in t]
    [function] = graph.of_type("aws:lambda/function:Function")
    assert function.inputs["name"] == "echo-dev-echo" and function.inputs["architectures"] == ["arm64"]
    [url] = graph.of_type("aws:lambda/functionUrl:FunctionUrl")
    assert url.inputs["authorizationType"] == "AWS_IAM" and url.inputs["qualifier"] == "live"
    [gate] = graph.of_type("aws:lambda/invocation:Invocation")
    assert json.loads(gate.inputs["input"]) == {"dry_run": True}
    [build] = graph.of_type("docker-build:index:Image")
    assert build.inputs["dockerfile"] == {"location": "images/echo/Dockerfile"}
    assert graph.outputs["url"].startswith("https://")


def test_the_example_installs_the_package_as_a_user_program_does():
    source = (EXAMPLE / "__main__.py").read_text()
    assert "from commodity_forecasts.components." in source and "from components" not in source and "PYTHONPATH" not in source
    requirements = [line for line in (EXAMPLE / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert requirements == ["../.."], "the repository, by its path from the program's folder (where the CLI runs pip)"
    assert (EXAMPLE / requirements[0]).resolve() == ROOT


def test_the_guide_names_the_versions_the_lock_tests_the_components_with():
    locked = {package["name"]: package["version"] for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    guide = GUIDE.read_text()
    for name in ("pulumi", "pulumi-aws", "pulumi-docker-build"):
        assert f"| `{name}` | {locked[name]} |" in guide, f"{GUIDE.relative_to(ROOT)}: {name} is {locked[name]} in uv.lock"


def test_the_echo_handler_answers_a_function_url_request_and_the_gate():
    handler = runpy.run_path(str(EXAMPLE / "images" / "echo" / "handler.py"))["handler"]
    answer = handler({"version": "2.0", "body": json.dumps({"hello": "world"})}, None)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["echo"] == {"hello": "world"}
    assert handler({"version": "2.0", "body": "{"}, None)["statusCode"] == 400
    assert handler({"dry_run": True}, None)["dry_run"] is True
