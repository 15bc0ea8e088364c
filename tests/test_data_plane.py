"""DataPlane: a private, versioned, encrypted, TLS-only bucket; a protected predictions table; exact grants."""

import json

import pulumi

from common.contract import AccessProfile
import pytest

from components.data import DataPlane, DataPlaneArgs
from tests.conftest import run_program


def build(protect=False, capture=None, **overrides):
    def program():
        plane = DataPlane("data", DataPlaneArgs(
            bucket_name="commodity-forecasts-dev-data-123456789012-us-east-1",
            table_name="commodity-forecasts-dev-predictions",
            legacy_bucket="commodity-mobile-legacy-dev",
            legacy_prefix="predictions/latest/",
            protect=protect,
            **overrides,
        ))
        if capture is not None:
            statements = plane.statements(AccessProfile(
                read_prefixes=("models/", "prices/"), write_prefixes=("predictions/",),
                table_actions=("dynamodb:GetItem", "dynamodb:PutItem"), legacy_write=True,
            ))
            pulumi.Output.all(*[pulumi.Output.from_input(s.document()) for s in statements]).apply(capture.extend)

    return run_program(program)


def one(graph, type_):
    """The data bucket's (or the table's) resource of this type; the access-log bucket has its own."""
    [resource] = [r for r in graph.of_type(type_) if not r.name.startswith("data-access-logs")]
    return resource


def test_bucket_is_private_versioned_encrypted_and_tls_only():
    graph = build()
    bucket = graph.named("data-bucket")
    assert bucket.inputs["bucket"] == "commodity-forecasts-dev-data-123456789012-us-east-1"
    access = one(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(access[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")), (
        "all public access must be blocked"
    )
    assert one(graph, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    [rule] = one(graph, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert one(graph, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    [statement] = json.loads(one(graph, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [
        "arn:aws:s3:::commodity-forecasts-dev-data-123456789012-us-east-1",
        "arn:aws:s3:::commodity-forecasts-dev-data-123456789012-us-east-1/*",
    ]


def test_old_versions_expire_and_incomplete_uploads_are_aborted():
    rules = {r["id"]: r for r in one(build(noncurrent_version_days=30), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7


def test_table_is_keyed_by_commodity_and_date_on_demand_with_pitr():
    table = one(build(), "aws:dynamodb/table:Table").inputs
    assert (table["hashKey"], table["rangeKey"]) == ("commodity", "effective_date")
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}


@pytest.mark.parametrize("protect", [True, False])
def test_protection_follows_the_setting(protect):
    graph = build(protect=protect)
    bucket, table, logs = graph.named("data-bucket"), one(graph, "aws:dynamodb/table:Table"), graph.named("data-access-logs")
    assert bucket.protect is protect and table.protect is protect and logs.protect is protect, "stateful resources are protected in production"
    assert bucket.inputs["forceDestroy"] is (not protect) and logs.inputs["forceDestroy"] is (not protect)
    assert table.inputs["deletionProtectionEnabled"] is protect
    children = [r for r in graph.resources if r.custom and r.type.startswith(("aws:s3/", "aws:dynamodb/"))]
    assert len(children) >= 12, "both buckets, their configuration and the table"
    assert [r.name for r in children if r.protect is not protect] == [], (
        "every child of a protected bucket (versioning, encryption, policies, lifecycle, logging, ownership, public access) "
        "is protected with it: removing one from the program must not delete it"
    )


def test_access_to_the_data_bucket_is_logged_into_a_private_expiring_log_bucket():
    graph = build()
    bucket, logs = graph.named("data-bucket"), graph.named("data-access-logs")
    [logging] = graph.of_type("aws:s3/bucketLogging:BucketLogging")
    assert logging.inputs["bucket"] == bucket.id == bucket.inputs["bucket"], "the data bucket's access is what is logged"
    assert logging.inputs["targetBucket"] == logs.id and logging.inputs["targetPrefix"] == "data/"
    assert logs.inputs["bucket"] == bucket.inputs["bucket"] + "-logs"
    [encryption] = [r for r in graph.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration") if r.name == "data-access-logs-encryption"]
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256", "S3 delivers access logs only to SSE-S3 buckets"
    [lifecycle] = [r for r in graph.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration") if r.name == "data-access-logs-lifecycle"]
    assert lifecycle.inputs["rules"][0]["expiration"]["days"] == 365
    [policy] = [r for r in graph.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == "data-access-logs-delivery"]
    delivery = json.loads(policy.inputs["policy"])["Statement"][0]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"} and delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == bucket.state["arn"], "only the data bucket may deliver logs here"
    [block] = [r for r in graph.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock") if r.name == "data-access-logs-public-access"]
    assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))


def test_legacy_bucket_is_looked_up_not_managed():
    graph = build()
    assert not [r for r in graph.of_type("aws:s3/bucket:Bucket") if r.inputs.get("bucket") == "commodity-mobile-legacy-dev"]


def test_statements_grant_exact_prefixes_and_actions():
    documents = []
    build(capture=documents)
    by_sid = {d["Sid"]: d for d in documents}
    data = "arn:aws:s3:::commodity-forecasts-dev-data-123456789012-us-east-1"
    assert by_sid["ListDataBucket"]["Action"] == ["s3:ListBucket"] and by_sid["ListDataBucket"]["Resource"] == [data]
    assert by_sid["ReadData"] == {"Sid": "ReadData", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{data}/models/*", f"{data}/prices/*"]}
    assert by_sid["WriteData"]["Action"] == ["s3:PutObject"] and by_sid["WriteData"]["Resource"] == [f"{data}/predictions/*"]
    assert by_sid["PredictionsTable"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert by_sid["PredictionsTable"]["Resource"] == ["arn:aws:dynamodb:us-east-1:123456789012:table/commodity-forecasts-dev-predictions"]
    assert by_sid["WriteLegacyPrefix"]["Resource"] == ["arn:aws:s3:::commodity-mobile-legacy-dev/predictions/latest/*"], (
        "the legacy bucket is writable under its prefix only"
    )


@pytest.mark.parametrize("overrides, message", [
    ({"legacy_prefix": "predictions/latest"}, "legacy_prefix must end with '/'"),
    ({"legacy_bucket": "Legacy_Bucket"}, "legacy_bucket must be a valid S3 bucket name"),
    ({"table_name": "t"}, "table_name must be 3-255"),
    ({"bucket_name": "UPPER"}, "bucket_name must be a valid S3 bucket name"),
])
def test_refuses_bad_arguments(overrides, message):
    args = dict(bucket_name="data-bucket", table_name="predictions", legacy_bucket="legacy-bucket", legacy_prefix="p/", protect=False)
    args.update(overrides)
    with pytest.raises(ValueError, match=message):
        DataPlane("data", DataPlaneArgs(**args))
