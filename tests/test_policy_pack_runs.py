"""The policy pack starts the way `pulumi preview --policy-pack policy` starts it: with the interpreter its
PulumiPolicy.yaml leads the CLI to, serving the Analyzer gRPC service with every rule.

How the CLI picks the interpreter for `toolchain: uv` with no `virtualenv` option (pulumi/pulumi,
sdk/python/toolchain/uv.go, newUv): it searches upward from the pack's folder for `uv.lock` and uses
`.venv` beside it (or UV_PROJECT_ENVIRONMENT), after running `uv sync` there. The project's own setup
(`make`) creates that `.venv`, so the pack needs no environment of its own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import grpc
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2_grpc

from policy.rules import POLICIES
from tests.conftest import ROOT

PACK = ROOT / "policy"


def interpreter_for(pack: Path) -> Path:
    """The Python the Pulumi CLI runs the pack with, per its uv toolchain's rules."""
    options = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    assert options.get("toolchain") == "uv", "the pack runs in the project's uv environment"
    assert "virtualenv" not in options, "no second environment: nothing would create it"
    for folder in (pack, *pack.parents):
        if (folder / "uv.lock").exists():
            return folder / os.environ.get("UV_PROJECT_ENVIRONMENT", ".venv") / "bin" / "python"
    raise AssertionError(f"no uv.lock above {pack}: the CLI would create an empty environment")


def test_pack_serves_every_rule_from_the_interpreter_its_yaml_names():
    python = interpreter_for(PACK)
    assert python.exists(), f"{python} does not exist: `make` creates it"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    # Exactly the CLI's command line for a Python analyzer (sdk/python/cmd/pulumi-language-python/main.go,
    # RunPlugin): `python -u -m pulumi.policy <engine address> <pack dir>`, working directory the pack's
    # folder. The engine address is only parsed at start-up; nothing connects to it here.
    pack = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(PACK)], cwd=PACK, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        port = pack.stdout.readline().decode().strip()
        assert port.isdigit(), f"the pack did not start: {pack.stderr.read1().decode()[-2000:]}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    finally:
        pack.terminate()
        pack.wait(timeout=30)
    assert info.name == "commodity-forecasts"
    assert sorted(policy.name for policy in info.policies) == sorted(policy.name for policy in POLICIES)
    assert all(policy.enforcementLevel == 1 for policy in info.policies), "every rule is mandatory"
