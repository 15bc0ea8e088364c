"""A stack without the mobile app's legacy feed (`legacy_bucket` unset): no lookup of another bucket, no
grant on one in any role or boundary, no app document (the predictor's side is
tests/images/test_legacy_feed.py), and no alarm or dashboard line for a feed that does not exist."""

from __future__ import annotations

import json
import runpy

import pytest
import yaml

from stack_config import settings_from_config, stack_config
from tests.conftest import ROOT, run_program
from tools.identities import boundary, deployer
from tools.identities.scopes import Target
from tools.program_graph import ACCOUNT

P = "commodity-forecasts"


def _config(stack: str, legacy: bool) -> dict[str, str]:
    config = dict(stack_config(ROOT, stack))
    if not legacy:
        del config[f"{P}:legacy_bucket"]
    return config


@pytest.fixture(scope="module", params=[True, False], ids=["with legacy feed", "without"])
def case(request):
    config = _config("dev", request.param)
    graph = run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), stack="dev", config=config)
    return request.param, graph, settings_from_config(config, stack="dev")


def test_only_the_environment_is_a_required_key():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert list(declared) == ["environment"], "a key Pulumi.yaml declares without a default is required by the CLI"


def test_no_lookup_and_no_grant_outside_the_stacks_own_data(case):
    legacy, graph, settings = case
    assert ("aws:s3/getBucket:getBucket" in graph.invokes) is legacy
    sids = {s["Sid"] for p in graph.of_type("aws:iam/rolePolicy:RolePolicy") for s in json.loads(p.inputs["policy"])["Statement"]}
    assert ("WriteLegacyPrefix" in sids) is legacy
    markers = [r for p in graph.of_type("aws:iam/rolePolicy:RolePolicy") for s in json.loads(p.inputs["policy"])["Statement"]
               if s["Sid"] == "DeleteDryRunMarkers" for r in s["Resource"]]
    assert markers and any("commodity-mobile-legacy" in r for r in markers) is legacy
    environments = [f.inputs["environment"]["variables"] for f in graph.of_type("aws:lambda/function:Function")]
    assert any("LEGACY_BUCKET" in v for v in environments) is legacy
    target = Target(settings, ACCOUNT)
    declared = {r.type for r in graph.resources if r.custom} | graph.invokes
    assert ("LookUpTheLegacyBucket" in {s.sid for s in deployer.statements(target, declared)}) is legacy
    assert ("WorkloadLegacyPrefix" in {s.sid for s in boundary.statements(target)}) is legacy


def test_no_alarm_or_dashboard_line_for_a_feed_that_does_not_exist(case):
    legacy, graph, _ = case
    alarms = [a.inputs["name"] for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    assert sum(name.endswith("-legacy-feed") for name in alarms) == (3 if legacy else 0)
    assert any(name.endswith("-missed-run") for name in alarms), "the predictors' other alarms stay"
    [dashboard] = graph.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert ("LegacyWriteFailures" in dashboard.inputs["dashboardBody"]) is legacy
