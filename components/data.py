"""DataPlane: the data/model bucket, the predictions table, and (when the stack has one) the legacy bucket's
one writable prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from .contract import DRY_RUN_ITEM, DRY_RUN_MARKERS, LEGACY_PREFIX, AccessProfile
from .errors import ComponentError
from .iam import PolicyStatement
from .limits import S3_BUCKET_NAME


class DataPlaneError(ComponentError):
    """A DataPlane's inputs were refused."""


@dataclass(frozen=True)
class DataPlaneArgs:
    bucket_name: pulumi.Input[str]
    """Physical name of the data bucket (global: include account and region)."""
    table_name: str
    protect: bool
    """Production: `protect` on both buckets, every child of theirs (versioning, encryption, policies,
    lifecycle, logging, ownership, public-access block) and the table; table deletion protection; no
    force-destroy."""
    noncurrent_version_days: int = 90
    """Overwritten or deleted object versions (old `latest.json` pointers, replaced models) expire after this."""
    access_log_days: int = 365
    """S3 server access logs of the data bucket (who read or changed a model, and when) are kept this long."""
    legacy_bucket: str | None = None
    """An existing bucket owned elsewhere: looked up, never managed or deleted by this stack. None: no
    lookup, and no workload is granted anything outside the data bucket and table."""
    legacy_prefix: str = LEGACY_PREFIX
    """The one prefix of `legacy_bucket` a workload with `legacy_write` may write."""


class DataPlane(pulumi.ComponentResource):
    """Versioned, encrypted, private, TLS-only data bucket; on-demand predictions table keyed by
    (commodity, effective_date) with point-in-time recovery; and IAM statements granting each
    workload exactly the prefixes and actions it uses."""

    bucket: aws.s3.Bucket
    table: aws.dynamodb.Table
    legacy: pulumi.Output | None
    """The mobile app's bucket, looked up (`aws.s3.get_bucket`): never managed here. None without one."""
    bucket_owner: pulumi.Output[str]
    """The account that owns the data bucket (S3 notifications are allowed for it only)."""
    args: DataPlaneArgs

    def __init__(self, name: str, args: DataPlaneArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(args)
        super().__init__("commodity-forecasts:data:DataPlane", name, None, opts)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        bucket = self._data_bucket(name, args)
        self._access_logs(name, bucket, args)
        table = aws.dynamodb.Table(
            f"{name}-predictions",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="commodity",
            range_key="effective_date",
            attributes=[{"name": "commodity", "type": "S"}, {"name": "effective_date", "type": "S"}],
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True},
            deletion_protection_enabled=args.protect,
            opts=stateful,
        )
        legacy = None if args.legacy_bucket is None else aws.s3.get_bucket_output(
            bucket=args.legacy_bucket, opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.bucket_owner = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        self.bucket, self.table, self.legacy, self.args = bucket, table, legacy, args
        self.register_outputs({
            "bucket_name": bucket.bucket,
            "bucket_arn": bucket.arn,
            "table_name": table.name,
            "table_arn": table.arn,
            **({"legacy_bucket_arn": legacy.arn} if legacy is not None else {}),
        })

    def _data_bucket(self, name: str, args: DataPlaneArgs) -> aws.s3.Bucket:
        """Prices, models and predictions: owner-only and private, versioned, SSE-KMS with a bucket key,
        noncurrent versions and stale uploads expired, TLS only."""
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=args.bucket_name, force_destroy=not args.protect, opts=stateful)
        # Every child of a protected bucket is protected too: dropping one from the program would otherwise
        # delete it (suspend versioning, remove the public-access block or the TLS-only policy).
        bucket_child = pulumi.ResourceOptions(parent=self, depends_on=[bucket], protect=args.protect)
        _owner_only(name, bucket, bucket_child)
        aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=bucket_child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}],
            opts=bucket_child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_days},
                },
                {
                    "id": "abort-incomplete-uploads",
                    "status": "Enabled",
                    "filter": {},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                },
            ],
            opts=bucket_child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [_deny_insecure_transport(bucket.arn)],
            }),
            opts=bucket_child,
        )
        return bucket

    def _access_logs(self, name: str, bucket: aws.s3.Bucket, args: DataPlaneArgs) -> None:
        """Server access logging of the data bucket into a private log bucket that expires its logs:
        forensics for who changed a model or a price file. S3 delivers access logs only to a bucket
        encrypted with SSE-S3, and with ownership enforced it needs a bucket policy for the logging service."""
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        logs = aws.s3.Bucket(f"{name}-access-logs", bucket=pulumi.Output.concat(bucket.bucket, "-logs"), force_destroy=not args.protect, opts=stateful)
        child = pulumi.ResourceOptions(parent=self, depends_on=[logs], protect=args.protect)
        _owner_only(f"{name}-access-logs", logs, child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs-encryption", bucket=logs.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle", bucket=logs.id,
            rules=[{"id": "expire-access-logs", "status": "Enabled", "filter": {}, "expiration": {"days": args.access_log_days}}],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-access-logs-delivery",
            bucket=logs.id,
            policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "S3ServerAccessLogsFromTheDataBucket",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(logs.arn, "/data/*"),
                        "Condition": {"ArnLike": {"aws:SourceArn": bucket.arn}},
                    },
                    _deny_insecure_transport(logs.arn),
                ],
            }),
            opts=child,
        )
        aws.s3.BucketLogging(
            f"{name}-access-logging", bucket=bucket.id, target_bucket=logs.id, target_prefix="data/",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket, logs], protect=args.protect),
        )

    def statements(self, access: AccessProfile) -> tuple[PolicyStatement, ...]:
        """Least-privilege access for one workload: objects under the given prefixes, the named table
        actions, and PutObject under the legacy prefix only (nothing there without a legacy bucket). ListBucket is granted on the data bucket
        because without it S3 answers 403 instead of 404 for a missing key, and the workloads must
        tell "no model yet" from "access denied"."""
        read_prefixes, write_prefixes = access.read_prefixes, access.write_prefixes
        table_actions, legacy_write = access.table_actions, access.legacy_write and self.legacy is not None
        statements = [PolicyStatement("ListDataBucket", ("s3:ListBucket",), (self.bucket.arn,))]
        if read_prefixes:
            statements.append(PolicyStatement(
                "ReadData", ("s3:GetObject",), tuple(pulumi.Output.concat(self.bucket.arn, f"/{p}*") for p in read_prefixes)
            ))
        if write_prefixes:
            statements.append(PolicyStatement(
                "WriteData", ("s3:PutObject",), tuple(pulumi.Output.concat(self.bucket.arn, f"/{p}*") for p in write_prefixes)
            ))
        if table_actions:
            statements.append(PolicyStatement("PredictionsTable", table_actions, (self.table.arn,)))
        if legacy_write:
            statements.append(PolicyStatement(
                "WriteLegacyPrefix", ("s3:PutObject",), (pulumi.Output.concat(self.legacy.arn, f"/{self.args.legacy_prefix}*"),)
            ))
        if access.delete_prefixes:
            statements.append(PolicyStatement(
                "DeleteData", ("s3:DeleteObject",), tuple(pulumi.Output.concat(self.bucket.arn, f"/{p}*") for p in access.delete_prefixes)
            ))
        # A dry run proves each write by writing and deleting a marker: deletes only under the markers' prefix.
        markers = tuple(pulumi.Output.concat(self.bucket.arn, f"/{p}{DRY_RUN_MARKERS}*") for p in write_prefixes)
        if legacy_write:
            markers += (pulumi.Output.concat(self.legacy.arn, f"/{self.args.legacy_prefix}{DRY_RUN_MARKERS}*"),)
        if markers:
            statements.append(PolicyStatement("DeleteDryRunMarkers", ("s3:DeleteObject",), markers))
        if "dynamodb:PutItem" in table_actions:
            statements.append(PolicyStatement(
                "DeleteDryRunItem", ("dynamodb:DeleteItem",), (self.table.arn,),
                condition={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [DRY_RUN_ITEM]}},
            ))
        return tuple(statements)


    def notify_on_upload(self, name: str, function: Any, prefix: str, suffix: str) -> aws.s3.BucketNotification:
        """Each object created under `prefix` (ending in `suffix`) invokes `function`'s `live` alias: the
        bucket's one notification configuration, with S3 allowed to invoke that alias only for this bucket and
        account (a Lambda permission names its principal, never `*`)."""
        permission = aws.lambda_.Permission(
            f"{name}-invoke", action="lambda:InvokeFunction", function=function.function.name, qualifier=function.alias.name,
            principal="s3.amazonaws.com", source_arn=self.bucket.arn, source_account=self.bucket_owner,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.s3.BucketNotification(
            f"{name}-notification",
            bucket=self.bucket.id,
            lambda_functions=[{
                "lambda_function_arn": function.alias.arn, "events": ["s3:ObjectCreated:*"],
                "filter_prefix": prefix, "filter_suffix": suffix,
            }],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission], protect=self.args.protect),
        )


def _owner_only(prefix: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions) -> None:
    """No ACLs (the bucket owner owns every object) and no public access of any kind."""
    aws.s3.BucketOwnershipControls(f"{prefix}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts)
    aws.s3.BucketPublicAccessBlock(
        f"{prefix}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=opts,
    )


def _deny_insecure_transport(bucket_arn: pulumi.Output[str]) -> dict:
    """TLS only: every request to the bucket or its objects over plain HTTP is denied."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _validate(args: DataPlaneArgs) -> None:
    if isinstance(args.bucket_name, str) and not S3_BUCKET_NAME.match(args.bucket_name):
        raise DataPlaneError("bucket-name", f"bucket_name must be a valid S3 bucket name (3-63 lowercase characters), got {args.bucket_name!r}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", args.table_name):
        raise DataPlaneError("table-name", f"table_name must be 3-255 letters, digits, '_', '-' or '.', got {args.table_name!r}")
    if args.legacy_bucket is not None and not S3_BUCKET_NAME.match(args.legacy_bucket):
        raise DataPlaneError("bucket-name", f"legacy_bucket must be a valid S3 bucket name, got {args.legacy_bucket!r}")
    if not args.legacy_prefix.endswith("/") or args.legacy_prefix.startswith("/"):
        raise DataPlaneError("legacy-prefix", f"legacy_prefix must end with '/' and not start with one, got {args.legacy_prefix!r}")
    if args.noncurrent_version_days < 1:
        raise DataPlaneError("out-of-range", f"noncurrent_version_days must be at least 1, got {args.noncurrent_version_days}")
