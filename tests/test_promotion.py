"""Build once, promote the tested digest: prod runs exactly what dev's release record shows dev served and
its scan gate passed, builds nothing, and refuses, before anything is planned, what was not tested.

The program under mocks (tools/program_graph.py): prod's record is, by default, what dev's own run under the
same mocks deploys (`release_of`), the record `tools.release record dev` writes after dev's update. Other
account layouts (replication, pull) are stack files written to a temporary folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from stack_config import SettingsError, settings_from_config, stack_config
from stack_config.release import ReleaseRecord, ScanVerdict, parse, released_images
from tests.conftest import ROOT
from tools.program_graph import NO_RELEASE, release_of, run_stack

FUNCTION = "aws:lambda/function:Function"
P = "commodity-forecasts"
DEV_ACCOUNT, PROD_ACCOUNT = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def dev_release(dev_graph) -> ReleaseRecord:
    return release_of(dev_graph, "dev")


def uris(graph) -> dict[str, str]:
    """Function name without its `commodity-forecasts-<env>-` prefix -> image URI."""
    return {r.inputs["name"].split("-", 3)[3]: r.inputs["imageUri"] for r in graph.of_type(FUNCTION)}


def test_prod_runs_exactly_the_digests_dev_serves_from_its_own_repositories(dev_graph, prod_graph, dev_release):
    dev, prod = uris(dev_graph), uris(prod_graph)
    assert set(dev) == set(prod) == {"corn", "wheat", "soybeans", "trainer", "price-feed"}
    for name in dev:
        assert prod[name].split("@")[1] == dev[name].split("@")[1], f"{name}: prod must run the digest dev's live alias runs"
        image = "trainer" if name == "trainer" else "predictor"
        assert prod[name].split("@")[0] == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/prod/{image}", (
            f"{name}: copy mode runs prod's own copy"
        )
    assert {i.digest for i in dev_release.images} == {u.split("@")[1] for u in prod.values()}
    assert prod_graph.outputs["release"] == json.loads(dev_release.to_json()), "prod exports the release it runs"


def test_prod_builds_nothing(prod_graph):
    types = {r.type for r in prod_graph.resources}
    assert "docker-build:index:Image" not in types and "commodity-forecasts:image:LambdaImage" not in types
    promoted = prod_graph.of_type("commodity-forecasts:promoted_image:PromotedImage")
    assert sorted(r.name for r in promoted) == ["predictor-arm64", "trainer-arm64"]
    assert all(not prod_graph.children(r) for r in promoted), "a promoted image is a reference: no child resource"
    for function in prod_graph.of_type(FUNCTION):
        assert function.inputs["architectures"] == ["arm64"]


def _record(dev_release: ReleaseRecord, **changes) -> str:
    document = json.loads(dev_release.to_json())
    for path, value in changes.items():
        target = document
        *parents, last = path.split(".")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value
    return json.dumps(document)


def predictor(record: ReleaseRecord):
    return next(i for i in record.images if i.image == "predictor")


def refused(release: str, match: str):
    with pytest.raises(SettingsError, match=match) as refusal:
        run_stack("prod", release=release, preview=True)
    assert "\n" not in str(refusal.value), "one line"
    return str(refusal.value)


def test_a_digest_dev_does_not_serve_is_refused_at_preview_naming_image_and_digest(dev_release):
    index = [i.image for i in dev_release.images].index("predictor")
    other = "sha256:" + "e" * 64
    message = refused(_record(dev_release, **{f"images.{index}.digest": other}), "absent from what dev's functions run")
    assert f"predictor (arm64) {other}" in message


def test_a_digest_of_another_architecture_is_refused_at_preview(dev_release):
    index = [i.image for i in dev_release.images].index("predictor")
    digest = predictor(dev_release).digest
    message = refused(_record(dev_release, **{f"images.{index}.architecture": "x86_64"}), "is not arm64")
    assert f"predictor {digest} (x86_64)" in message and "commodity-forecasts-prod-corn" in message


def test_a_digest_served_on_another_architecture_than_the_release_says_is_refused(dev_release):
    functions = [f.function for f in dev_release.functions]
    document = json.loads(dev_release.to_json())
    for served in document["functions"]:
        if served["image"] == "predictor":
            served["architecture"] = "x86_64"
    message = refused(json.dumps(document), "another image or architecture")
    assert predictor(dev_release).digest in message and any(f in message for f in functions)


@pytest.mark.parametrize("scan, verdict", [
    ({"verdict": "blocked", "severity_threshold": "CRITICAL", "blocking": ["CVE-2026-0001"], "reason": "", "checked": "2026-12-03"}, "blocked: CVE-2026-0001"),
    ({"verdict": "undecided", "severity_threshold": "CRITICAL", "blocking": [], "reason": "no result in time", "checked": "2026-12-03"}, "undecided: no result"),
])
def test_a_digest_whose_scan_did_not_pass_is_refused(dev_release, scan, verdict):
    index = [i.image for i in dev_release.images].index("predictor")
    message = refused(_record(dev_release, **{f"images.{index}.scan": scan}), "did not pass dev's scan gate")
    assert verdict in message and predictor(dev_release).digest in message


def test_a_digest_the_gate_never_judged_is_refused(dev_release):
    index = [i.image for i in dev_release.images].index("trainer")
    message = refused(_record(dev_release, **{f"images.{index}.scan": None}), "has no scan verdict")
    assert "trainer (arm64) sha256:" in message


def test_no_record_is_refused_naming_what_is_missing():
    message = refused(NO_RELEASE, r"no release record was given: set \$COMMODITY_FORECASTS_RELEASE")
    assert "python -m tools.release record dev" in message


def test_a_record_of_another_stack_or_format_is_refused(dev_release):
    refused(_record(dev_release, stack="staging"), "is staging's")
    refused(_record(dev_release, format=2), "must be a format 1 record")
    refused("not json", "is not JSON")
    refused(_record(dev_release, **{"images.0.repository_url": "somewhere/else"}), "needs a sha256 digest and an ECR repository URL")


def test_a_record_is_one_digest_per_image_and_architecture(dev_release):
    corn, wheat = (f for f in dev_release.functions if f.function.endswith(("-corn", "-wheat")))
    pinned = type(corn)(**{**corn.__dict__, "digest": "sha256:" + "1" * 64, "version": 1})
    with pytest.raises(SettingsError, match="served by more than one digest") as refusal:
        released_images((pinned, wheat), {})
    assert pinned.digest in str(refusal.value) and wheat.digest in str(refusal.value)


def test_the_record_reads_back_what_it_wrote(dev_release):
    assert parse(dev_release.to_json(), where="x") == dev_release
    assert all(isinstance(i.scan, ScanVerdict) and i.scan.verdict == "pass" for i in dev_release.images)


# --- settings: what each promotion needs --------------------------------------------------------------


def layout(tmp_path: Path, dev: dict | None = None, prod: dict | None = None, drop: tuple[str, ...] = ()) -> Path:
    """The project's stack files with keys changed (None removes one), and `images/` beside them."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "images").symlink_to(ROOT / "images")
    for stack, changes in (("dev", dev or {}), ("prod", prod or {})):
        document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
        for key, value in changes.items():
            if value is None:
                document["config"].pop(key, None)
            else:
                document["config"][key] = value
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def settings(root: Path, stack: str = "prod"):
    return settings_from_config(stack_config(root, stack), stack=stack, project_dir=root)


ACROSS = {"aws:allowedAccountIds": [PROD_ACCOUNT]}
DEV_ELSEWHERE = {"aws:allowedAccountIds": [DEV_ACCOUNT]}


@pytest.mark.parametrize("dev, prod, message", [
    ({}, {f"{P}:promote_from": "qa"}, "promote_from: 'qa' has no stack file"),
    ({}, {f"{P}:promote_from": "prod"}, "cannot promote from itself"),
    ({}, ACROSS, "copy is within one account, but dev is in 123456789012 and prod in 222222222222: use replication or pull"),
    ({}, {f"{P}:promotion": "pull"}, "pull is across accounts, but dev and prod are both in 123456789012: use copy"),
    ({}, {f"{P}:promotion": "replication"}, "replication is across accounts"),
    ({"aws:region": "us-west-2"}, {}, "dev is in us-west-2, prod in us-east-1: promotion is within one region"),
    ({"aws:allowedAccountIds": None}, {}, r"copy needs each stack's account: set aws:allowedAccountIds in Pulumi.dev.yaml"),
    ({}, {f"{P}:images": {"predictor": {}, "trainer": {}, "reporter": {}}}, r"images\[reporter\] on arm64: prod promotes from dev, which builds no such image \(an image only prod"),
    ({}, {f"{P}:images": {"predictor": {"build_args": {"X": "1"}}, "trainer": {}}}, r"images\[predictor\].build_args: prod promotes from dev and builds nothing"),
    ({f"{P}:promote_from": "prod"}, {}, "promotes from another stack itself"),
    ({}, {f"{P}:promote_from": None}, "promotion is set .'copy'. but promote_from is not"),
    ({}, {f"{P}:promotion": "mirror"}, "promotion must be one of copy, replication, pull, got 'mirror'"),
])
def test_each_impossible_promotion_is_a_settings_error(tmp_path, dev, prod, message):
    root = layout(tmp_path, dev, prod)
    with pytest.raises(SettingsError, match=message):
        settings(root)


def test_an_architecture_dev_does_not_build_is_a_settings_error(tmp_path):
    prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"][f"{P}:functions"]
    prod[0]["architecture"] = "x86_64"
    with pytest.raises(SettingsError, match=r"images\[predictor\] on x86_64: .* \(an architecture only prod would run\); dev builds predictor \(arm64\)"):
        settings(layout(tmp_path, prod={f"{P}:functions": prod}))


def test_replication_needs_both_registry_owners(tmp_path):
    root = layout(tmp_path, DEV_ELSEWHERE, {**ACROSS, f"{P}:promotion": "replication"})
    with pytest.raises(SettingsError, match="replication needs registry_owner in both stack files .* Pulumi.prod.yaml"):
        settings(root)


# --- the other account layouts ------------------------------------------------------------------------


def cross_account(tmp_path: Path, mode: str) -> Path:
    prod = {**ACROSS, f"{P}:promotion": mode, **({f"{P}:registry_owner": True} if mode == "replication" else {})}
    return layout(tmp_path, DEV_ELSEWHERE, prod)


def test_replication_the_source_replicates_and_prod_lets_it_in(tmp_path):
    root = cross_account(tmp_path, "replication")
    dev, prod = run_stack("dev", root=root), run_stack("prod", root=root)
    [replication] = dev.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    [rule] = replication.inputs["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": "us-east-1", "registryId": PROD_ACCOUNT}]
    assert rule["repositoryFilters"] == [{"filter": "commodity-forecasts/dev/", "filterType": "PREFIX_MATCH"}]
    assert replication.parent.endswith("::registry"), "one per account and region: the registry owner's"
    [policy] = prod.of_type("aws:ecr/registryPolicy:RegistryPolicy")
    [statement] = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{DEV_ACCOUNT}:root"}
    assert statement["Action"] == ["ecr:CreateRepository", "ecr:ReplicateImage"]
    assert statement["Resource"] == f"arn:aws:ecr:us-east-1:{PROD_ACCOUNT}:repository/commodity-forecasts/dev/*"
    names = sorted(r.inputs["name"] for r in prod.of_type("aws:ecr/repository:Repository"))
    assert names == ["commodity-forecasts/dev/predictor", "commodity-forecasts/dev/trainer"], "ECR keeps a replica's name"
    for name, uri in uris(prod).items():
        assert uri.startswith(f"{PROD_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/commodity-forecasts/dev/"), f"{name} runs prod's replica"
    assert {u.split("@")[1] for u in uris(prod).values()} == {u.split("@")[1] for u in uris(dev).values()}


def test_pull_prod_runs_the_source_repository_which_lets_only_prods_functions_pull(tmp_path):
    root = cross_account(tmp_path, "pull")
    dev, prod = run_stack("dev", root=root), run_stack("prod", root=root)
    assert not prod.of_type("aws:ecr/repository:Repository"), "prod keeps no copy: its functions pull the source's"
    for name, uri in uris(prod).items():
        assert re.fullmatch(rf"{DEV_ACCOUNT}\.dkr\.ecr\.us-east-1\.amazonaws\.com/commodity-forecasts/dev/\w+@sha256:[0-9a-f]{{64}}", uri), name
    assert uris(prod).values() and set(uris(prod).values()) <= set(uris(dev).values())
    prod_role = f"arn:aws:iam::{PROD_ACCOUNT}:role/commodity-forecasts-bootstrap/commodity-forecasts-prod-deploy"
    for policy in dev.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy"):
        statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
        pull = statements["LambdaPullForConsumerFunctions"]
        assert pull["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert pull["Condition"] == {"StringLike": {"aws:sourceArn": [f"arn:aws:lambda:us-east-1:{PROD_ACCOUNT}:function:commodity-forecasts-prod-*"]}}
        assert statements["ConsumerDeployRolesReadAndKeepTheirTags"]["Principal"] == {"AWS": [prod_role]}
        assert prod_role in statements["OnlyThePushersWrite"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        assert statements["LambdaPullForOurFunctions"]["Condition"]["StringLike"]["aws:sourceArn"].endswith(":function:commodity-forecasts-dev-*")


def test_the_stacks_of_the_repository_layout_today_create_no_cross_account_resource(dev_graph, prod_graph):
    for graph in (dev_graph, prod_graph):
        types = {r.type for r in graph.resources}
        assert not types & {"aws:ecr/replicationConfiguration:ReplicationConfiguration", "aws:ecr/registryPolicy:RegistryPolicy"}
    for policy in dev_graph.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy"):
        assert {s["Sid"] for s in json.loads(policy.inputs["policy"])["Statement"]} == {"LambdaPullForOurFunctions", "OnlyThePushersWrite"}
