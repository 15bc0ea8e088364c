"""Every operator tool answers like a CLI: `--help` prints its usage and exits 0; a missing argument
(or, for a tool that needs none, an unknown one) prints the usage and exits 2; a settings error in the
stack file is one line naming the key, exit 2, never a traceback. The demo reads the dev stack only: its
settings error is tested in tests/test_demo.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

TOOLS = [
    "tools.cost", "tools.scan_gate", "tools.rollback", "tools.prices", "tools.serve", "tools.images", "tools.image_targets",
    "tools.golden_graph", "tools.config_reference", "tools.deployer_policy", "tools.bootstrap", "tools.delivery",
    "tools.preflight", "tools.ecr_login", "tools.invoke", "tools.protect_images", "tools.function_states", "tools.release", "bench",
    "bench.promotion", "demo",
]
NEEDS_ARGUMENTS = ["tools.scan_gate", "tools.rollback", "tools.prices", "tools.deployer_policy", "tools.bootstrap", "tools.delivery",
                   "tools.preflight", "tools.ecr_login", "tools.invoke", "tools.protect_images", "tools.function_states", "tools.release"]
NO_REQUIRED_ARGUMENT = [tool for tool in TOOLS if tool not in NEEDS_ARGUMENTS]
"""Run with no argument, these do their work (the demo runs): an unknown one is their bad input."""
BROKEN = "cli-broken"
"""A stack file the tests write beside the real ones, with a typo, and remove afterwards."""
WITH_STACK = {
    "tools.cost": [BROKEN], "tools.scan_gate": ["--stack", BROKEN, "--image-uri", "x"], "tools.rollback": [BROKEN, "corn"],
    "tools.deployer_policy": [BROKEN, "--account", "123456789012"], "tools.bootstrap": ["template", "--repository", "a/b", BROKEN],
    "tools.delivery": [BROKEN], "tools.preflight": [BROKEN], "tools.ecr_login": [BROKEN], "tools.invoke": [BROKEN, "corn"],
    "tools.protect_images": [BROKEN], "tools.function_states": [BROKEN], "tools.release": ["mode", BROKEN],
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("tool", TOOLS)
def test_help_prints_the_usage_and_exits_0(tool):
    done = run(tool, "--help")
    assert done.returncode == 0 and done.stdout.startswith(f"usage: python -m {tool}"), done.stdout[:300] + done.stderr[-300:]


@pytest.mark.parametrize("tool", NEEDS_ARGUMENTS)
def test_a_missing_argument_prints_the_usage_and_exits_2(tool):
    done = run(tool)
    assert done.returncode == 2 and "usage: python -m " in done.stderr and "Traceback" not in done.stderr, done.stderr[-500:]


@pytest.mark.parametrize("tool", NO_REQUIRED_ARGUMENT)
def test_an_unknown_argument_prints_the_usage_and_exits_2_before_any_work(tool):
    done = run(tool, "--no-such-option")
    assert done.returncode == 2 and done.stderr.startswith(f"usage: python -m {tool}"), done.stdout[-300:] + done.stderr[-500:]
    assert "unrecognized arguments: --no-such-option" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == "", "nothing ran"


@pytest.fixture(scope="module")
def broken_stack():
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    config["config"]["commodity-forecasts:function_defaults"]["memroy_mb"] = 512
    path = ROOT / f"Pulumi.{BROKEN}.yaml"
    path.write_text(yaml.safe_dump(config))
    try:
        yield BROKEN
    finally:
        path.unlink()


@pytest.mark.parametrize("tool", sorted(WITH_STACK))
def test_a_settings_error_is_one_line_naming_the_key(tool, broken_stack):
    done = run(tool, *WITH_STACK[tool])
    # The scan gate reports on stdout, beside its findings table (tools/deploy.sh shows both); the others on stderr.
    said = done.stdout if tool == "tools.scan_gate" else done.stderr
    lines = [line for line in said.splitlines() if line.strip() and "Warning" not in line and "warn" not in line]
    assert done.returncode == 2, said[-800:]
    assert "Traceback" not in done.stderr and len(lines) == 1, said[-800:]
    assert "unknown key 'memroy_mb' in function_defaults; did you mean 'memory_mb'?" in lines[0]
