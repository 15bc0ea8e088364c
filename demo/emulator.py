"""A local AWS on loopback (moto's server) holding the data plane the dev stack declares; its ECR keeps
layer bytes and serves them (demo/ecr_emulation.py), so an image can be copied by digest through ECR's API.

Used by `make demo` and by the workload tests: same names, same layout, real HTTP calls through
boto3, no account.
"""

from __future__ import annotations

import logging
import os
from datetime import date

import boto3
from moto.server import ThreadedMotoServer

from common.environment import WorkloadEnvironment
from common.schema import to_csv
from common.storage import price_key
from stack_config import Settings
from demo import ecr_emulation
from demo.prices import generate

ACCOUNT_ID = "123456789012"
"""moto's account."""
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def stack_names(settings: Settings) -> WorkloadEnvironment:
    """What the stack would inject into its functions, with the emulator's account in the bucket name."""
    return settings.workload_environment(
        data_bucket=settings.data_bucket_name(ACCOUNT_ID), predictions_table=settings.predictions_table_name,
        legacy_bucket=settings.legacy_bucket,
    )


class Emulator:
    """moto's server on 127.0.0.1 at a free port; `environment` points boto3 at it."""

    def __init__(self, region: str = "us-east-1"):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.region = region
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def __enter__(self) -> "Emulator":
        ecr_emulation.enable()
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    @property
    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **FAKE_CREDENTIALS,
        }

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region, **_lower(FAKE_CREDENTIALS))

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).read()


def create_data_plane(emulator: Emulator, names: WorkloadEnvironment) -> None:
    """Buckets (versioned, encrypted) and the predictions table (commodity + effective date)."""
    s3 = emulator.client("s3")
    for bucket in filter(None, (names.data_bucket, names.legacy_bucket)):
        kwargs = {} if emulator.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": emulator.region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        )
    emulator.client("dynamodb").create_table(
        TableName=names.predictions_table,
        KeySchema=[{"AttributeName": "commodity", "KeyType": "HASH"}, {"AttributeName": "effective_date", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "commodity", "AttributeType": "S"},
            {"AttributeName": "effective_date", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def seed_prices(emulator: Emulator, names: WorkloadEnvironment, commodities: tuple[str, ...], end: date) -> dict[str, int]:
    """Write generated history as yearly CSV files; returns rows written per commodity."""
    s3 = emulator.client("s3")
    counts = {}
    for commodity in commodities:
        rows = generate(commodity, end)
        for year in sorted({row.date.year for row in rows}):
            year_rows = [row for row in rows if row.date.year == year]
            s3.put_object(
                Bucket=names.data_bucket,
                Key=price_key(names.prices_prefix, commodity, year),
                Body=to_csv(year_rows).encode(),
                ContentType="text/csv",
            )
        counts[commodity] = len(rows)
    return counts


def _lower(credentials: dict[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in credentials.items()}


def apply_environment(values: dict[str, str]) -> None:
    os.environ.update(values)
