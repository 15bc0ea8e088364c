"""The data bucket's layout and the reads and writes both workloads make.

    <prices_prefix><commodity>/<YYYY>.csv                 price history, one file per year
    <models_prefix><commodity>/<YYYY-MM-DD>/model.ubj     XGBoost native (UBJSON) model
    <models_prefix><commodity>/<YYYY-MM-DD>/metadata.json features, windows, metrics, versions, sha256
    <models_prefix><commodity>/<YYYY-MM-DD>/backtest.csv  held-out predictions next to actuals
    <models_prefix><commodity>/latest.json                pointer to the promoted model
    <predictions_prefix><commodity>/<YYYY-MM-DD>.json     full prediction per effective date
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from common.errors import ModelNotFound, PricesNotFound
from common.schema import PriceRow, parse_csv

_MISSING = ("NoSuchKey", "404", "NotFound")


def price_key(prices_prefix: str, commodity: str, year: int) -> str:
    return f"{prices_prefix}{commodity}/{year}.csv"


def model_folder(models_prefix: str, commodity: str, version: str) -> str:
    return f"{models_prefix}{commodity}/{version}/"


def latest_key(models_prefix: str, commodity: str) -> str:
    return f"{models_prefix}{commodity}/latest.json"


def prediction_key(predictions_prefix: str, commodity: str, effective_date: date) -> str:
    return f"{predictions_prefix}{commodity}/{effective_date.isoformat()}.json"


def read_prices(s3, bucket: str, prices_prefix: str, commodity: str, *, first_year: int, until: date) -> list[PriceRow]:
    """Rows from `first_year` through `until`, in file order; years with no file are skipped."""
    rows: list[PriceRow] = []
    found = False
    for year in range(first_year, until.year + 1):
        key = price_key(prices_prefix, commodity, year)
        text = get_text(s3, bucket, key)
        if text is None:
            continue
        found = True
        rows.extend(row for row in parse_csv(text, source=f"s3://{bucket}/{key}") if row.date <= until)
    if not found:
        raise PricesNotFound(
            f"{commodity}: no price files under s3://{bucket}/{prices_prefix}{commodity}/ for {first_year}-{until.year}"
        )
    return rows


def first_price_year(s3, bucket: str, prices_prefix: str, commodity: str) -> int:
    """The earliest year with a price file (the trainer reads all history)."""
    prefix = f"{prices_prefix}{commodity}/"
    years = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            stem = item["Key"][len(prefix):].removesuffix(".csv")
            if stem.isdigit():
                years.append(int(stem))
    if not years:
        raise PricesNotFound(f"{commodity}: no price files under s3://{bucket}/{prefix}")
    return min(years)


def read_latest_pointer(s3, bucket: str, models_prefix: str, commodity: str) -> dict[str, Any]:
    key = latest_key(models_prefix, commodity)
    text = get_text(s3, bucket, key)
    if text is None:
        raise ModelNotFound(f"{commodity}: no promoted model; s3://{bucket}/{key} does not exist (run the trainer)")
    pointer = json.loads(text)
    for field in ("model_key", "metadata_key", "sha256", "version"):
        if field not in pointer:
            raise ModelNotFound(f"{commodity}: s3://{bucket}/{key} lacks {field!r}")
    return pointer


def get_bytes(s3, bucket: str, key: str) -> bytes | None:
    """Object body, or None when the object does not exist (other errors raise)."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise


def get_text(s3, bucket: str, key: str) -> str | None:
    body = get_bytes(s3, bucket, key)
    return None if body is None else body.decode("utf-8")


def put_json(s3, bucket: str, key: str, document: Any, *, sort_keys: bool = True) -> None:
    body = json.dumps(document, indent=2, sort_keys=sort_keys).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
