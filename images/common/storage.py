"""The data bucket's layout and the reads and writes both workloads make.

    <prices_prefix><commodity>/<YYYY>.csv                 price history, one file per year
    <models_prefix><commodity>/<version>/model.json       XGBoost's JSON model format, written once
                                                          (model.ubj, UBJSON, for versions published before)
    <models_prefix><commodity>/<version>/naive.json       a naive version's spec, written once
    <models_prefix><commodity>/<version>/metadata.json    features, windows, metrics, versions, sha256, written once
    <models_prefix><commodity>/<version>/backtest.csv     held-out predictions next to actuals, written once
                                                          (<version> = <as_of>-<first 12 hex of the model's sha256>)
    <models_prefix><commodity>/latest.json                pointer to the promoted model
    <predictions_prefix><commodity>/<YYYY-MM-DD>.json     full prediction per effective date
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from common.errors import CorruptObject, ModelNotFound, ObjectConflict, PriceFileOutOfRange, PricesGap, PricesNotFound
from common.schema import PriceRow, parse_csv

_MISSING = ("NoSuchKey", "404", "NotFound")
_EXISTS = ("PreconditionFailed", "412", "ConditionalRequestConflict")
"""S3's answers to a conditional create of a key that exists (or is being created concurrently)."""


MODEL_FILE = "model.json"
MODEL_FORMAT = "xgboost-json"
"""XGBoost's own JSON format: read with `json.loads`, faster and smaller than UBJSON for these models
(bench/model_formats.py; docs/performance.md)."""
UBJSON_FORMAT = "xgboost-ubj"
"""The format versions published before; the predictor still reads them (until every stack retrained)."""


def price_key(prices_prefix: str, commodity: str, year: int) -> str:
    return f"{prices_prefix}{commodity}/{year}.csv"


def model_folder(models_prefix: str, commodity: str, version: str) -> str:
    return f"{models_prefix}{commodity}/{version}/"


def latest_key(models_prefix: str, commodity: str) -> str:
    return f"{models_prefix}{commodity}/latest.json"


def prediction_key(predictions_prefix: str, commodity: str, effective_date: date) -> str:
    return f"{predictions_prefix}{commodity}/{effective_date.isoformat()}.json"


def read_prices(s3, bucket: str, prices_prefix: str, commodity: str, *, first_year: int, until: date) -> list[PriceRow]:
    """Rows from `first_year` through `until`, in file order. Years before the first file are simply not
    there yet (history starts later); a missing year between two files is a hole (`PricesGap`); a missing
    file for the newest year shows up as stale data in the freshness check."""
    rows: list[PriceRow] = []
    missing: list[str] = []
    for year in range(first_year, until.year + 1):
        key = price_key(prices_prefix, commodity, year)
        text = get_text(s3, bucket, key)
        if text is None:
            missing.append(key)
            continue
        if rows and missing:
            raise PricesGap(f"{commodity}: s3://{bucket}/{missing[-1]} is missing between earlier and later price files")
        missing.clear()
        rows.extend(row for row in parse_csv(text, source=f"s3://{bucket}/{key}") if row.date <= until)
    if not rows and missing:
        raise PricesNotFound(
            f"{commodity}: no price files under s3://{bucket}/{prices_prefix}{commodity}/ for {first_year}-{until.year}"
        )
    return rows


EARLIEST_PRICE_YEAR = 2000
"""No price history this project keeps starts earlier (common/events.py refuses an earlier `as_of`)."""


def price_years(s3, bucket: str, prices_prefix: str, commodity: str) -> tuple[list[int], list[str]]:
    """Years that have a price file, and the keys under the prefix that are not `<YYYY>.csv` (stray files:
    never read, reported by the caller). A `<YYYY>.csv` before EARLIEST_PRICE_YEAR (`0001.csv`) is
    refused: history would be read from that year on, one request per year, to find nothing."""
    prefix = f"{prices_prefix}{commodity}/"
    years, stray = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix):]
            stem = name.removesuffix(".csv")
            if name.endswith(".csv") and len(stem) == 4 and stem.isdigit():
                if int(stem) < EARLIEST_PRICE_YEAR:
                    raise PriceFileOutOfRange(
                        f"{commodity}: s3://{bucket}/{item['Key']} names year {int(stem)}, before {EARLIEST_PRICE_YEAR}; "
                        "no price history starts that early (move or delete the file)"
                    )
                years.append(int(stem))
            else:
                stray.append(item["Key"])
    if not years:
        raise PricesNotFound(f"{commodity}: no price files under s3://{bucket}/{prefix}")
    return sorted(years), stray


POINTER_FIELDS = ("version", "model_key", "metadata_key", "sha256", "trained_at")


def read_latest_pointer_or_none(s3, bucket: str, models_prefix: str, commodity: str) -> dict[str, Any] | None:
    return get_json(s3, bucket, latest_key(models_prefix, commodity), required=POINTER_FIELDS)


def read_latest_pointer(s3, bucket: str, models_prefix: str, commodity: str) -> dict[str, Any]:
    key = latest_key(models_prefix, commodity)
    pointer = read_latest_pointer_or_none(s3, bucket, models_prefix, commodity)
    if pointer is None:
        raise ModelNotFound(f"{commodity}: no promoted model; s3://{bucket}/{key} does not exist (run the trainer)")
    return pointer


def get_json(s3, bucket: str, key: str, *, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """A JSON object with at least the `required` string fields, or None when the object does not exist.
    Anything else (empty, truncated, not UTF-8, not an object, a field missing or not a string) is a
    `CorruptObject` naming bucket and key."""
    text = get_text(s3, bucket, key)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CorruptObject(f"s3://{bucket}/{key} is not valid JSON ({error.msg} at line {error.lineno}); {len(text)} characters") from None
    except RecursionError:
        raise CorruptObject(f"s3://{bucket}/{key} is JSON nested deeper than Python's parser follows; {len(text)} characters") from None
    if not isinstance(document, dict):
        raise CorruptObject(f"s3://{bucket}/{key} must hold a JSON object, got {type(document).__name__}")
    for field in required:
        if not isinstance(document.get(field), str) or not document[field]:
            raise CorruptObject(f"s3://{bucket}/{key} lacks {field!r} (or it is not a non-empty string)")
    return document


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
    if body is None:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptObject(f"s3://{bucket}/{key} is not UTF-8 text (byte {error.start} of {len(body)})") from None


def json_bytes(document: Any, *, sort_keys: bool = True) -> bytes:
    return json.dumps(document, indent=2, sort_keys=sort_keys).encode()


def put_json(s3, bucket: str, key: str, document: Any, *, sort_keys: bool = True) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json_bytes(document, sort_keys=sort_keys), ContentType="application/json")


def put_once(s3, bucket: str, key: str, body: bytes, content_type: str, *, same_bytes_required: bool = False) -> bool:
    """Create an object that must never change (`If-None-Match: *`). True when this call wrote it; False
    when it already existed (a retry). With `same_bytes_required`, an existing object with other bytes
    is an error naming bucket and key (it cannot happen for content-addressed keys unless tampered with)."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
        return True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _EXISTS:
            raise
    if same_bytes_required and get_bytes(s3, bucket, key) != body:
        raise ObjectConflict(f"s3://{bucket}/{key} already exists with other contents; it is write-once and was left unchanged")
    return False
