"""The release record and the promotion on the emulator (moto's server over HTTP; its ECR keeps layer bytes
and answers GetDownloadUrlForLayer: demo/ecr_emulation.py): dev's functions on moto's Lambda, images pushed
through ECR's layer API, copied by digest into prod's repositories, and prod's program under mocks reading
the record the tool wrote."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from common.contract import PRICE_FEED
from stack_config import SettingsError, settings_from_config, stack_config
from stack_config.release import ScanVerdict, parse
from tests.conftest import ROOT, use_emulator
from tests.ecr_images import OCI, push, upload
from tools import release as release_tool
from tools.ecr_copy import CopyRefused, ImageRef, copy_image
from tools.program_graph import run_stack
from tools.protect_images import release_marker

ACCOUNT, REGION = "123456789012", "us-east-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
DEV = settings_from_config(stack_config(ROOT, "dev"), stack="dev", project_dir=ROOT)
PROD = settings_from_config(stack_config(ROOT, "prod"), stack="prod", project_dir=ROOT)
NOW = datetime(2026, 12, 3, 10, 15, tzinfo=timezone.utc)


@pytest.fixture
def aws(emulator, monkeypatch):
    use_emulator(emulator, monkeypatch)
    ecr = emulator.client("ecr")
    for settings in (DEV, PROD):
        for image in ("predictor", "trainer"):
            ecr.create_repository(repositoryName=settings.repository_name(image), imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                  imageTagMutabilityExclusionFilters=[{"filter": "buildcache", "filterType": "WILDCARD"}])
    return emulator


def blob_bytes(ecr, repository: str, digest: str) -> bytes:
    import urllib.request

    url = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=digest)["downloadUrl"]
    return urllib.request.urlopen(url, timeout=10).read()


def counting(client) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.ecr.*", lambda model, **_: calls.append(model.name))
    return calls


SOURCE, TARGET = DEV.repository_name("predictor"), PROD.repository_name("predictor")


def test_a_copy_keeps_the_manifest_bytes_digest_and_every_blob(aws):
    ecr = aws.client("ecr")
    digest, manifest, blobs = push(ecr, SOURCE, "a")
    done = copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, digest), TARGET, "release-arm64-promoted-x")
    assert done.manifest_put and done.blobs_uploaded == 3 and done.bytes_uploaded == sum(len(b) for b in blobs)
    [copied] = ecr.batch_get_image(repositoryName=TARGET, imageIds=[{"imageDigest": digest}], acceptedMediaTypes=[OCI])["images"]
    assert copied["imageManifest"] == manifest and copied["imageId"]["imageDigest"] == digest
    assert ecr.describe_images(repositoryName=TARGET)["imageDetails"][0]["imageTags"] == ["release-arm64-promoted-x"]
    for data in blobs:
        assert blob_bytes(ecr, TARGET, "sha256:" + hashlib.sha256(data).hexdigest()) == data, "the target serves the same bytes"


def test_a_finished_copy_writes_nothing_and_a_half_done_one_is_finished(aws):
    ecr = aws.client("ecr")
    digest, _, blobs = push(ecr, SOURCE, "b")
    upload(ecr, TARGET, blobs[1])  # an interrupted earlier run had uploaded one layer
    first = copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, digest), TARGET, "t1")
    assert (first.blobs_uploaded, first.blobs_present) == (2, 1)
    calls = counting(ecr)
    again = copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, digest), TARGET, "t1")
    assert not again.manifest_put and again.blobs_uploaded == 0 and again.tags == ["t1"]
    assert calls == ["DescribeImages"], "already there with its tag: one read, no write"


def test_a_copy_there_under_another_tag_only_adds_the_tag(aws):
    ecr = aws.client("ecr")
    digest, _, _ = push(ecr, SOURCE, "c")
    copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, digest), TARGET, "t1")
    calls = counting(ecr)
    done = copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, digest), TARGET, "t2")
    assert done.tags == ["t1", "t2"] and "InitiateLayerUpload" not in calls and calls.count("PutImage") == 1


def test_a_manifest_whose_bytes_are_not_its_digest_is_refused_and_nothing_written(aws):
    ecr = aws.client("ecr")
    digest, manifest, _ = push(ecr, SOURCE, "d")
    forged = "sha256:" + "f" * 64
    ecr.put_image(repositoryName=SOURCE, imageManifest=manifest + " ", imageDigest=forged, imageTag="forged")
    with pytest.raises(CopyRefused, match="manifest has digest sha256:[0-9a-f]{64}; a copy must keep the bytes"):
        copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, forged), TARGET, "t")
    assert ecr.describe_images(repositoryName=TARGET)["imageDetails"] == []


def test_an_image_index_is_refused(aws):
    ecr = aws.client("ecr")
    index = "application/vnd.oci.image.index.v1+json"
    digest, _, _ = push(ecr, SOURCE, "e", media_type=index)
    with pytest.raises(CopyRefused, match="is a application/vnd.oci.image.index.v1\\+json: Lambda runs one plain image manifest"):
        copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, digest), TARGET, "t")


def test_a_blob_that_downloads_as_other_bytes_is_never_completed(aws):
    ecr = aws.client("ecr")
    digest, _, _ = push(ecr, SOURCE, "f")
    with pytest.raises(CopyRefused, match="downloaded as sha256:"):
        copy_image(ecr, ecr, ImageRef(ACCOUNT, REGION, SOURCE, digest), TARGET, "t", fetch=lambda url: io.BytesIO(b"tampered"))
    assert ecr.describe_images(repositoryName=TARGET)["imageDetails"] == []
    assert not ecr.batch_check_layer_availability(repositoryName=TARGET, layerDigests=[digest])["layers"]


# --- the record of what dev serves -------------------------------------------------------------------


def deploy_dev(aws) -> dict[str, str]:
    """dev's images pushed and its functions on moto's Lambda running them (`live` on version 1)."""
    ecr, lam = aws.client("ecr"), aws.client("lambda")
    digests = {image: push(ecr, DEV.repository_name(image), image)[0] for image in ("predictor", "trainer")}
    role = aws.client("iam").create_role(RoleName="f", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for spec in DEV.all_functions:
        name = DEV.function_name(spec)
        lam.create_function(FunctionName=name, Role=role, PackageType="Image", Publish=True, Architectures=["arm64"],
                            Code={"ImageUri": f"{REGISTRY}/{DEV.repository_name(spec.image)}@{digests[spec.image]}"})
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return digests


def pinned_lambda(digests: dict[str, str], pinned: set[str]):
    """Lambda after a second deployment published version 2 (a newer predictor) and `live` moved to it, except on
    the `pinned` functions (`live_version: 1`). botocore's Stubber, which checks each call and answer against
    Lambda's model: moto's Lambda gives every published version the newest version's image."""
    client = boto3.client("lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for spec in DEV.all_functions:
        name = DEV.function_name(spec)
        live = 1 if spec.name in pinned or spec.image == "trainer" else 2
        digest = digests[spec.image] if live == 1 else digests["newer"]
        stubber.add_response("get_alias", {"Name": "live", "FunctionVersion": str(live)}, {"FunctionName": name, "Name": "live"})
        stubber.add_response("get_function", {
            "Configuration": {"FunctionName": name, "Version": str(live), "Architectures": ["arm64"], "PackageType": "Image"},
            "Code": {"RepositoryType": "ECR", "ImageUri": f"{REGISTRY}/{DEV.repository_name(spec.image)}@{digest}"},
        }, {"FunctionName": name, "Qualifier": str(live)})
    stubber.activate()
    return client


def passed(digests) -> dict[str, ScanVerdict]:
    return {f"{REGISTRY}/{DEV.repository_name(image)}@{digests[image]}": ScanVerdict("pass", "CRITICAL", checked="2026-12-03")
            for image in ("predictor", "trainer")}


def test_the_record_names_what_each_live_alias_runs_and_marks_it(aws):
    digests = deploy_dev(aws)
    made = release_tool.record(aws.client("lambda"), aws.client("ecr"), DEV, passed(digests), now=NOW, out=io.StringIO())
    assert {(f.function, f.version, f.architecture, f.digest) for f in made.functions} == {
        (DEV.function_name(spec), 1, "arm64", digests[spec.image]) for spec in DEV.all_functions}
    assert {(i.image, i.architecture, i.digest, i.scan.verdict) for i in made.images} == {
        ("predictor", "arm64", digests["predictor"], "pass"), ("trainer", "arm64", digests["trainer"], "pass")}
    assert parse(made.to_json(), where="-") == made
    ecr = aws.client("ecr")
    for image in ("predictor", "trainer"):
        [detail] = ecr.describe_images(repositoryName=DEV.repository_name(image), imageIds=[{"imageDigest": digests[image]}])["imageDetails"]
        assert release_marker("20261203T101500Z", "arm64") in detail["imageTags"], "kept while it awaits promotion"


def test_a_live_version_pin_records_what_serves_not_the_newest_build(aws):
    digests = deploy_dev(aws)
    digests["newer"] = push(aws.client("ecr"), DEV.repository_name("predictor"), "predictor-2")[0]
    lam = pinned_lambda(digests, pinned={"corn", "wheat", "soybeans", PRICE_FEED})
    made = release_tool.record(lam, aws.client("ecr"), DEV, passed(digests), now=NOW, out=io.StringIO())
    [predictor] = [i for i in made.images if i.image == "predictor"]
    assert predictor.digest == digests["predictor"] != digests["newer"]
    assert {f.version for f in made.functions if f.image == "predictor"} == {1}


def test_functions_of_one_image_on_two_digests_are_not_a_release(aws):
    digests = deploy_dev(aws)
    digests["newer"] = push(aws.client("ecr"), DEV.repository_name("predictor"), "predictor-2")[0]
    with pytest.raises(SettingsError, match="served by more than one digest") as refused:
        release_tool.record(pinned_lambda(digests, pinned={"corn"}), aws.client("ecr"), DEV, passed(digests), now=NOW, out=io.StringIO())
    assert digests["predictor"] in str(refused.value) and digests["newer"] in str(refused.value)


def test_a_digest_without_a_verdict_is_recorded_without_one_and_prod_refuses_it(aws):
    digests = deploy_dev(aws)
    verdicts = {k: v for k, v in passed(digests).items() if "trainer" not in k}
    made = release_tool.record(aws.client("lambda"), aws.client("ecr"), DEV, verdicts, now=NOW, out=io.StringIO())
    with pytest.raises(SettingsError, match=f"trainer \\(arm64\\) {digests['trainer']} has no scan verdict"):
        run_stack("prod", release=made.to_json(), preview=True)


# --- promotion: the record's digests into prod, and prod's program on them ------------------------------


def test_promote_copies_the_tested_digests_and_prod_runs_exactly_them(aws):
    digests = deploy_dev(aws)
    ecr = aws.client("ecr")
    made = release_tool.record(aws.client("lambda"), ecr, DEV, passed(digests), now=NOW, out=io.StringIO())
    out = io.StringIO()
    release_tool.promote(ecr, PROD, made, "release.json", out=out)
    for image in ("predictor", "trainer"):
        [detail] = ecr.describe_images(repositoryName=PROD.repository_name(image), imageIds=[{"imageDigest": digests[image]}])["imageDetails"]
        assert detail["imageTags"] == [f"release-arm64-promoted-{digests[image].removeprefix('sha256:')}"]
    assert "3 blob(s)" in out.getvalue()
    again = io.StringIO()
    release_tool.promote(ecr, PROD, made, "release.json", out=again)
    assert again.getvalue().count("already") == 2, "a second promotion finds both and writes nothing"
    graph = run_stack("prod", release=made.to_json())
    for function in graph.of_type("aws:lambda/function:Function"):
        image = "trainer" if function.inputs["name"].endswith("-trainer") else "predictor"
        assert function.inputs["imageUri"] == f"{REGISTRY}/{PROD.repository_name(image)}@{digests[image]}"


def test_promote_refuses_what_the_program_refuses_before_copying_anything(aws):
    digests = deploy_dev(aws)
    ecr = aws.client("ecr")
    made = release_tool.record(aws.client("lambda"), ecr, DEV, {}, now=NOW, out=io.StringIO())
    with pytest.raises(SettingsError, match="has no scan verdict"):
        release_tool.promote(ecr, PROD, made, "release.json", out=io.StringIO())
    assert not ecr.describe_images(repositoryName=PROD.repository_name("predictor"))["imageDetails"]
    assert digests


def test_replication_waits_for_the_replica_in_the_stacks_own_repository_then_tags_it(aws):
    ecr = aws.client("ecr")
    arrived: list[float] = []

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

        def sleep(self, seconds):
            self.now += seconds
            if self.now >= 45 and not arrived:  # ECR's replication lands the image, as pushed, after a while
                arrived.append(self.now)
                push(ecr, TARGET, "replicated", tag="release-arm64-replicated")

    clock = Clock()
    digest = push(ecr, SOURCE, "replicated")[0]
    waited = release_tool.wait_for_replica(ecr, TARGET, digest, "release-arm64-promoted-r", timeout_seconds=600, poll_seconds=15,
                                           sleep=clock.sleep, clock=clock)
    assert waited == 45
    [detail] = ecr.describe_images(repositoryName=TARGET, imageIds=[{"imageDigest": digest}])["imageDetails"]
    assert set(detail["imageTags"]) == {"release-arm64-replicated", "release-arm64-promoted-r"}
    with pytest.raises(release_tool.CannotDecide, match="was not replicated within 30 s"):
        release_tool.wait_for_replica(ecr, TARGET, "sha256:" + "9" * 64, "t", timeout_seconds=30, poll_seconds=15,
                                      sleep=clock.sleep, clock=clock)


def test_the_command_line(aws, tmp_path, capsys, monkeypatch):
    digests = deploy_dev(aws)
    verdicts = tmp_path / "verdicts.json"
    from tools.scan_gate import write_verdicts

    write_verdicts(verdicts, passed(digests))
    assert release_tool.main(["live", "dev"]) == 0
    live = json.loads(capsys.readouterr().out)
    assert live["commodity-forecasts-dev-trainer"] == f"{REGISTRY}/{DEV.repository_name('trainer')}@{digests['trainer']}"
    assert release_tool.main(["record", "dev", "--verdicts", str(verdicts)]) == 0
    record_file = tmp_path / "release.json"
    record_file.write_text(capsys.readouterr().out)
    monkeypatch.delenv("COMMODITY_FORECASTS_RELEASE", raising=False)
    assert release_tool.main(["promote", "prod"]) == 2
    assert "no release record: give --record FILE or set $COMMODITY_FORECASTS_RELEASE" in capsys.readouterr().err
    assert release_tool.main(["promote", "dev", "--record", str(record_file)]) == 2
    assert "builds its own images" in capsys.readouterr().err
    monkeypatch.setenv("COMMODITY_FORECASTS_RELEASE", str(record_file))
    assert release_tool.main(["promote", "prod"]) == 0
    assert "copied into commodity-forecasts/prod/trainer" in capsys.readouterr().out
    assert os.environ["COMMODITY_FORECASTS_RELEASE"] == str(record_file)


# --- a pull request's preview of a promoting stack: the release it runs now, from its own state -----------


def test_a_preview_reads_the_release_the_stack_runs_now_and_none_before_its_first(tmp_path, monkeypatch, capsys):
    from tests.test_deploy import FAKE

    record = run_stack("prod").outputs["release"]
    exported = tmp_path / "exported.json"
    exported.write_text(json.dumps(record))
    monkeypatch.setenv("PATH", f"{FAKE}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_PULUMI_RELEASE", str(exported))
    out = tmp_path / "release.json"
    assert release_tool.main(["current", "prod", "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"record={out}", "preview=true"]
    assert json.loads(out.read_text()) == record, "what prod runs now, as its state exports it"
    assert json.loads((tmp_path / "calls.jsonl").read_text().splitlines()[-1]) == ["stack", "output", "release", "--json", "--stack", "prod"]
    run_stack("prod", release=out.read_text(), preview=True)

    monkeypatch.delenv("FAKE_PULUMI_RELEASE")
    assert release_tool.main(["current", "prod", "--out", str(tmp_path / "none.json")]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines() == ["record=", "preview=false"] and not (tmp_path / "none.json").exists()
    assert "prod has run no release yet" in printed.err

    assert release_tool.main(["current", "dev", "--out", str(tmp_path / "dev.json")]) == 0
    assert capsys.readouterr().out.splitlines() == ["record=", "preview=true"], "a building stack needs no record"


def test_a_preview_stops_on_any_other_cli_error_or_a_malformed_output(tmp_path):
    import subprocess

    def failing(*_, **__):
        return subprocess.CompletedProcess([], 255, "", "error: failed to load checkpoint: AccessDenied")

    with pytest.raises(release_tool.CannotDecide, match="AccessDenied"):
        release_tool.current(PROD, tmp_path / "r.json", pulumi=failing)

    def malformed(*_, **__):
        return subprocess.CompletedProcess([], 0, '{"format": 0}', "")

    with pytest.raises(release_tool.CannotDecide, match="must be a format 1 record"):
        release_tool.current(PROD, tmp_path / "r.json", pulumi=malformed)
    assert not (tmp_path / "r.json").exists()
