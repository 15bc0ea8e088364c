"""examples/echo: a second program on the same components, unchanged — one repository, one arm64 image,
one Function URL function with its pre-traffic gate, no schedule, no data plane, no alarms."""

from __future__ import annotations

import json
import runpy

import pytest

from tests.conftest import ROOT, run_program

EXAMPLE = ROOT / "examples" / "echo"


@pytest.fixture
def graph(monkeypatch):
    monkeypatch.chdir(EXAMPLE)  # Pulumi runs a program from its own folder
    return run_program(lambda: runpy.run_path(str(EXAMPLE / "__main__.py")), stack="dev",
                       config={"aws:region": "eu-west-1", "echo-function:environment": "dev"})


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


def test_the_echo_handler_answers_a_function_url_request_and_the_gate():
    handler = runpy.run_path(str(EXAMPLE / "images" / "echo" / "handler.py"))["handler"]
    answer = handler({"version": "2.0", "body": json.dumps({"hello": "world"})}, None)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["echo"] == {"hello": "world"}
    assert handler({"version": "2.0", "body": "{"}, None)["statusCode"] == 400
    assert handler({"dry_run": True}, None)["dry_run"] is True
