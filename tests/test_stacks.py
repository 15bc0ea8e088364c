"""The real `__main__.py` under mocks, once per stack file: what each stack declares and how they differ."""

import json
import re

import pytest

from tests.conftest import logical_name

REPO = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker-build:index:Image"
FUNCTION = "aws:lambda/function:Function"
PREDICTORS = ("corn", "wheat", "soybeans")
FUNCTIONS = PREDICTORS + ("trainer",)
DEPLOYED = FUNCTIONS + ("price-feed",)
"""The declared functions and the price feed's (price_feed defaults to on)."""


@pytest.fixture(params=["dev", "prod"])
def graph(request):
    return request.getfixturevalue(f"{request.param}_graph")


def children(graph, component_type, component_name):
    component = next(r for r in graph.resources if r.type == component_type and r.name == component_name)
    return {r.type: r for r in graph.children(component)}


def test_every_repository_is_scanned_immutable_encrypted_and_has_a_lifecycle(graph):
    repositories = graph.of_type(REPO)
    assert sorted(r.name for r in repositories) == ["predictor-repo", "trainer-repo"]
    policies = {r.inputs["repository"]: json.loads(r.inputs["policy"]) for r in graph.of_type(LIFECYCLE)}
    for repo in repositories:
        assert repo.inputs["imageScanningConfiguration"]["scanOnPush"], f"{repo.urn}: must scan on push"
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", f"{repo.urn}: tags must be immutable"
        assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS", f"{repo.urn}: must use KMS"
        rules = policies[repo.inputs["name"]]["rules"]
        assert any(rule["selection"]["tagStatus"] == "untagged" for rule in rules), f"{repo.urn}: needs an untagged rule"


def test_only_this_stacks_functions_may_pull_images(graph):
    environment = graph.outputs["predictions_table"].split("-")[2]
    for policy in graph.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy"):
        [statement] = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Allow"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert statement["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        assert statement["Condition"]["StringLike"]["aws:sourceArn"] == (
            f"arn:aws:lambda:us-east-1:123456789012:function:commodity-forecasts-{environment}-*"
        )


def test_every_image_has_one_platform_is_pushed_and_exported_by_digest(dev_graph):
    """dev builds; prod builds nothing (tests/test_promotion.py: it runs dev's tested digests)."""
    builds = dev_graph.of_type(IMAGE)
    assert sorted(logical_name(b.name) for b in builds) == ["predictor-arm64-build", "trainer-arm64-build"], (
        "functions running the same code share one build per architecture"
    )
    for build in builds:
        assert build.inputs["platforms"] == ["linux/arm64"], f"{build.urn}: exactly one platform"
        assert build.inputs["push"] is True, f"{build.urn}: must push"


def test_every_image_is_exported_by_digest(graph):
    for name, uri in graph.outputs["images"].items():
        assert re.fullmatch(r"\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com/[a-z0-9/-]+@sha256:[0-9a-f]{64}", uri), (
            f"{name}: image URI must be pinned by digest, got {uri}"
        )


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_role_logs_image_function_alias_dlq_and_schedule(graph, name):
    parts = children(graph, "commodity-forecasts:function:ContainerFunction", name)
    for required in ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:cloudwatch/logGroup:LogGroup", FUNCTION,
                     "aws:lambda/alias:Alias", "aws:sqs/queue:Queue", "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"):
        assert required in parts, f"function {name} lacks {required}"
    function = parts[FUNCTION].inputs
    assert function["packageType"] == "Image" and "@sha256:" in function["imageUri"]
    image = "trainer" if name == "trainer" else "predictor"
    assert f"/{image}@sha256:" in function["imageUri"], f"{name} must run the {image} image"
    assert parts["aws:cloudwatch/logGroup:LogGroup"].inputs["retentionInDays"] in (14, 365)
    schedule = children(graph, "commodity-forecasts:schedule:Schedule", f"{name}-schedule")
    trigger = schedule["aws:scheduler/schedule:Schedule"].inputs["target"]
    assert trigger["arn"] == parts["aws:lambda/alias:Alias"].state["arn"], "the schedule must invoke the alias"
    assert trigger["retryPolicy"]["maximumRetryAttempts"] == 3
    assert trigger["deadLetterConfig"]["arn"] == schedule["aws:sqs/queue:Queue"].state["arn"]
    assert json.loads(trigger["input"]) == ({} if name == "trainer" else {"commodity": name})


def test_predictors_are_staggered_and_the_trainer_runs_on_sunday(graph):
    expressions = {name: spec["schedule"] for name, spec in graph.outputs["functions"].items() if "schedule" in spec}
    assert "schedule" not in graph.outputs["functions"]["price-feed"], "the feed runs when a file arrives"
    assert expressions == {
        "corn": "cron(0 2 * * ? *)",
        "wheat": "cron(15 2 * * ? *)",
        "soybeans": "cron(30 2 * * ? *)",
        "trainer": "cron(0 1 ? * SUN *)",
    }


def test_workloads_receive_names_from_resource_outputs(graph):
    bucket = graph.outputs["data_bucket"]
    table = graph.outputs["predictions_table"]
    for function in graph.of_type(FUNCTION):
        variables = function.inputs["environment"]["variables"]
        assert variables["DATA_BUCKET"] == bucket and variables["PREDICTIONS_TABLE"] == table
        assert variables["POWERTOOLS_SERVICE_NAME"] == function.inputs["name"]
        assert {"LEGACY_BUCKET", "LEGACY_PREFIX", "PRICES_PREFIX", "MODELS_PREFIX", "PREDICTIONS_PREFIX"} <= set(variables)


def test_every_function_is_told_the_workload_settings_the_handlers_read(graph):
    """The program writes exactly what WorkloadEnvironment.from_env reads, and the handlers accept it."""
    import os
    from unittest import mock

    from common.environment import WorkloadEnvironment

    for function in graph.of_type(FUNCTION):
        variables = function.inputs["environment"]["variables"]
        assert variables["FORECAST_HORIZON_DAYS"] == "1" and variables["MAX_PRICE_AGE_DAYS"] == "4"
        assert variables["SIGNIFICANCE_LEVEL"] == "0.05"
        with mock.patch.dict(os.environ, {key: str(value) for key, value in variables.items()}):
            parsed = WorkloadEnvironment.from_env()
        assert parsed.forecast_horizon_days == 1 and parsed.legacy_key("corn") == "predictions/latest/corn.json"


def _policy_statements(graph):
    for policy in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            yield policy, statement


def test_no_iam_statement_has_a_wildcard_action(graph):
    for policy, statement in _policy_statements(graph):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if "*" in a], f"{policy.urn}: wildcard action in {statement}"


def test_predictor_and_trainer_policies_differ_as_their_code_does(graph):
    by_function = {}
    for policy, statement in _policy_statements(graph):
        if policy.parent_type == "commodity-forecasts:function:ContainerFunction":
            by_function.setdefault(policy.name.removesuffix("-policy"), {})[statement["Sid"]] = statement
    bucket = f"arn:aws:s3:::{graph.outputs['data_bucket']}"
    corn, trainer = by_function["corn"], by_function["trainer"]
    assert corn["ReadData"]["Resource"] == [f"{bucket}/models/*", f"{bucket}/prices/*"]
    assert corn["WriteData"]["Resource"] == [f"{bucket}/predictions/*"]
    assert corn["PredictionsTable"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert corn["WriteLegacyPrefix"]["Resource"][0].endswith("/predictions/latest/*")
    assert trainer["ReadData"]["Resource"] == [f"{bucket}/prices/*"]
    assert trainer["WriteData"]["Resource"] == [f"{bucket}/models/*"]
    assert "PredictionsTable" not in trainer and "WriteLegacyPrefix" not in trainer, "the trainer needs no table or legacy access"


def test_dev_has_no_provisioned_concurrency_and_nothing_protected(dev_graph):
    assert dev_graph.of_type("aws:appautoscaling/target:Target") == []
    assert dev_graph.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig") == []
    assert not [r.name for r in dev_graph.resources if r.protect]
    assert all(f.inputs["reservedConcurrentExecutions"] == -1 for f in dev_graph.of_type(FUNCTION))


def test_prod_raises_predictor_concurrency_around_each_run_and_protects_state(prod_graph):
    targets = {t.inputs["resourceId"]: t.inputs for t in prod_graph.of_type("aws:appautoscaling/target:Target")}
    assert set(targets) == {f"function:commodity-forecasts-prod-{name}:live" for name in PREDICTORS}
    actions = {a.name: a.inputs["schedule"] for a in prod_graph.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")}
    assert actions == {
        "corn-warm-0": "cron(50 1 * * ? *)", "corn-cool-0": "cron(7 2 * * ? *)",
        "wheat-warm-0": "cron(5 2 * * ? *)", "wheat-cool-0": "cron(22 2 * * ? *)",
        "soybeans-warm-0": "cron(20 2 * * ? *)", "soybeans-cool-0": "cron(37 2 * * ? *)",
    }, "warm 10 minutes before each staggered run, cool after the 2-minute timeout and drain"
    protected = sorted(r.type for r in prod_graph.resources if r.protect)
    stateful = sorted(r.type for r in prod_graph.resources if r.custom and r.type.startswith(("aws:s3/", "aws:dynamodb/", "aws:cloudwatch/logGroup")))
    assert protected == stateful and protected.count("aws:s3/bucket:Bucket") == 2 and "aws:dynamodb/table:Table" in protected, (
        "prod protects its buckets, every child of theirs, the table and every log group, and nothing else"
    )
    assert protected.count("aws:cloudwatch/logGroup:LogGroup") == len(DEPLOYED)
    reserved = {f.inputs["name"]: f.inputs["reservedConcurrentExecutions"] for f in prod_graph.of_type(FUNCTION) if not f.inputs["name"].endswith("price-feed")}
    assert reserved == {
        "commodity-forecasts-prod-corn": 2, "commodity-forecasts-prod-wheat": 2,
        "commodity-forecasts-prod-soybeans": 2, "commodity-forecasts-prod-trainer": 1,
    }


def test_stack_outputs_name_functions_aliases_bucket_table_and_dlqs(graph):
    outputs = graph.outputs
    assert outputs["data_bucket"].startswith("commodity-forecasts-") and outputs["predictions_table"].endswith("-predictions")
    assert set(outputs["functions"]) == set(DEPLOYED)
    for name, spec in outputs["functions"].items():
        assert spec["alias_arn"].endswith(f"function:{spec['function_name']}:live")
        assert spec["dlq_url"].startswith("https://sqs.") and (name == "price-feed" or spec["schedule_dlq_url"].startswith("https://sqs."))


def _differences(left, right, path=""):
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right)):
            found += _differences(left.get(key), right.get(key), f"{path}.{key}" if path else key)
        return found
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [d for i, (a, b) in enumerate(zip(left, right)) for d in _differences(a, b, f"{path}[{i}]")]
    return [] if left == right else [path]


def _normalized(resource, environment, legacy_bucket):
    """Inputs with the environment's names and content digests blanked, parsed where they are JSON."""
    text = json.dumps(resource.inputs, sort_keys=True)
    text = text.replace(legacy_bucket, "LEGACY").replace(f"commodity-forecasts-{environment}", "commodity-forecasts-ENV")
    text = text.replace(f"/{environment}/", "/ENV/")
    text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:DIGEST", text)
    # A build's tag hashes its repository's name and ends with the run's push id.
    text = re.sub(r"release-(arm64|x86_64)-[0-9a-f]{20}-[A-Za-z0-9_.-]+", r"release-\1-CONTENT-PUSH", text)
    inputs = json.loads(text)
    for key in ("policy", "assumeRolePolicy"):
        if key in inputs:
            inputs[key] = json.loads(inputs[key])
    return inputs


def test_dev_and_prod_differ_exactly_as_configured(dev_graph, prod_graph):
    # A build is named after its content, which includes its repository's (per-environment) name.
    dev = {(r.type, logical_name(r.name)): r for r in dev_graph.resources}
    prod = {(r.type, logical_name(r.name)): r for r in prod_graph.resources}
    only_prod = sorted(f"{t.split(':')[-1]} {name}" for t, name in set(prod) - set(dev))
    only_dev = sorted(f"{t.split(':')[-1]} {name}" for t, name in set(dev) - set(prod))
    assert only_dev == [
        "AccountRegistry registry", "Image predictor-arm64-build", "Image trainer-arm64-build",
        "LambdaImage predictor-arm64", "LambdaImage trainer-arm64", "RegistryScanningConfiguration registry-scanning",
    ], "dev alone owns the account's registry configuration, and alone builds"
    dev = {key: resource for key, resource in dev.items() if key in prod}
    assert only_prod == sorted(
        [f"Target {p}-scaling" for p in PREDICTORS] + [f"ScheduledAction {p}-{w}-0" for p in PREDICTORS for w in ("warm", "cool")]
        + [f"MetricAlarm monitoring-{p}-spillover" for p in PREDICTORS]
        + ["PromotedImage predictor-arm64", "PromotedImage trainer-arm64"]
    ), "prod adds the schedule-aligned concurrency resources and their spillover alarms, and runs promoted images"
    differences = {}
    for key in dev:
        paths = _differences(
            _normalized(dev[key], "dev", "commodity-mobile-legacy-dev"),
            _normalized(prod[key], "prod", "commodity-mobile-legacy"),
        )
        if paths:
            differences[key[1]] = paths
        if dev[key].protect != prod[key].protect:
            differences.setdefault(key[1], []).append("(protect)")
    keep = ["policy.rules[2].description", "policy.rules[2].selection.countNumber"]
    expected = {
        "predictor-repo": ["forceDelete"], "trainer-repo": ["forceDelete"],
        "predictor-lifecycle": keep, "trainer-lifecycle": keep,
        "data-bucket": ["forceDestroy", "(protect)"],
        "data-access-logs": ["forceDestroy", "(protect)"],
        "data-predictions": ["deletionProtectionEnabled", "(protect)"],
    }
    for child in ("ownership", "public-access", "versioning", "encryption", "lifecycle", "tls-only", "access-logging",
                  "access-logs-ownership", "access-logs-public-access", "access-logs-encryption", "access-logs-lifecycle",
                  "access-logs-delivery"):
        expected[f"data-{child}"] = ["(protect)"]
    expected["monitoring-email-0"] = ["endpoint"]
    expected["monitoring-dashboard"] = ["dashboardBody"]  # lists prod's spillover alarms too
    expected["price-feed-notification"] = ["(protect)"]
    for name in DEPLOYED:
        expected[f"{name}-logs"] = ["retentionInDays", "(protect)"]
        if name != "price-feed":  # reserves no concurrency in either stack
            expected[f"{name}-function"] = ["reservedConcurrentExecutions"]
        # Another configuration publishes another version number: the gate invokes it, live points at it.
        expected[f"{name}-pre-traffic"] = ["qualifier"]
        expected[f"{name}-live"] = ["functionVersion"]
    assert differences == expected


def test_every_function_is_gated_by_its_own_dry_run_which_the_workload_accepts(graph):
    """The gate's event is the schedule's event plus dry_run, and the image's own parser takes it."""
    from common.events import PredictionRequest, TrainingRequest

    gates = {r.name.removesuffix("-pre-traffic"): json.loads(r.inputs["input"]) for r in graph.of_type("aws:lambda/invocation:Invocation")}
    assert set(gates) == set(DEPLOYED)
    assert gates["price-feed"] == {"dry_run": True}, "the feed's own dry run (predictor/ingest.py)"
    for name in PREDICTORS:
        assert gates[name] == {"commodity": name, "dry_run": True}
        assert PredictionRequest.parse(gates[name]).dry_run is True
    assert gates["trainer"] == {"dry_run": True} and TrainingRequest.parse(gates["trainer"]).dry_run is True


def test_only_the_stacks_deploy_role_may_push(graph):
    environment = graph.outputs["predictions_table"].split("-")[2]
    deployer = f"arn:aws:iam::123456789012:role/commodity-forecasts-bootstrap/commodity-forecasts-{environment}-deploy"
    policies = graph.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert len(policies) == 2
    for policy in policies:
        [deny] = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Effect"] == "Deny"]
        assert deny["Principal"] == "*" and "ecr:PutImage" in deny["Action"] and "ecr:BatchDeleteImage" in deny["Action"]
        assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [deployer]}}, f"{policy.urn}: only {deployer} pushes"


def test_the_registry_configuration_exists_once_in_the_stack_that_owns_it(dev_graph, prod_graph):
    scanning = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
    [owned] = dev_graph.of_type(scanning)
    assert owned.inputs["scanType"] == "ENHANCED"
    assert owned.inputs["rules"][0]["repositoryFilters"] == [{"filter": "commodity-forecasts/*", "filterType": "WILDCARD"}], (
        "every stack's repositories in the account: prod's too")
    assert prod_graph.of_type(scanning) == [], "prod shares dev's account and region today: it does not own it"
