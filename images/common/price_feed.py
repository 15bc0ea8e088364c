"""Price files checked and merged into the data bucket's year files: one implementation for the price
feed's function (predictor/ingest.py, each file dropped under `incoming/`) and the operator's loader
(tools/prices.py, a history file from a laptop).

A file is the workloads' own schema (common/schema.py): header `date,commodity,close`, one row per
trading day and commodity. Every row is checked before anything is written — the header, an ISO date
that is an exchange trading day, a supported commodity, a finite positive close, no date twice — and
every problem is reported with its line and column (up to 20), so a bad file writes nothing. Rows are
merged into `prices/<commodity>/<YYYY>.csv`: rows already stored are kept, a date stored with another
close is refused, and a year file is written only when its contents change, so merging the same file
twice is a no-op. Each write is conditional on the file being what was read (S3 `If-Match`, or
`If-None-Match: *` for a new one): two merges racing on one year never lose each other's rows.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, TextIO

from botocore.exceptions import ClientError

from common import storage
from common.contract import COMMODITIES
from common.errors import ConcurrentWrites, WorkloadError
from common.schema import CSV_HEADER, PriceRow, parse_csv, to_csv
from common.trading_calendar import trading_days

MAX_REPORTED = 20
PROGRESS_EVERY = 100_000
"""Rows between progress lines while a large file is read."""
_CONDITION_FAILED = ("PreconditionFailed", "412", "ConditionalRequestConflict")


class RejectedPrices(WorkloadError):
    """A price file, or its merge with the stored prices, is refused: nothing of it was written."""


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass
class Merged:
    """What one merge changed."""

    written: int = 0
    unchanged: int = 0
    new_closes: dict[str, int] = field(default_factory=dict)
    """Commodity → closes the stored files did not hold before."""


def read_rows(lines: Iterable[str], *, source: str, progress: TextIO | None = None) -> list[PriceRow]:
    """Every row of the file, or `RejectedPrices` listing up to MAX_REPORTED problems by line and column."""
    reader = csv.reader(lines)
    header = tuple(next(reader, ()))
    if header != CSV_HEADER:
        raise RejectedPrices(f"{source}: line 1: the header must be {','.join(CSV_HEADER)}, got {','.join(header) or 'nothing'}")
    problems: list[Problem] = []
    rows: list[PriceRow] = []
    seen: dict[tuple[str, date], int] = {}
    calendar: dict[int, set[date]] = {}
    for line, fields in enumerate(reader, start=2):
        if progress is not None and line % PROGRESS_EVERY == 0:
            print(f"{source}: {line:,} lines read", file=progress, flush=True)
        if not fields:
            continue
        if len(fields) != len(CSV_HEADER):
            problems.append(Problem(line, "-", f"expected {len(CSV_HEADER)} fields ({','.join(CSV_HEADER)}), got {len(fields)}"))
            continue
        row, row_problems = _row(line, fields, calendar)
        problems += row_problems
        if row is not None:
            key = (row.commodity, row.date)
            if key in seen:
                problems.append(Problem(line, "date", f"{row.commodity} on {row.date} is already on line {seen[key]}"))
            seen[key] = line
            rows.append(row)
        if len(problems) >= MAX_REPORTED:
            break
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems[:MAX_REPORTED])
        more = " (stopped at the first 20)" if len(problems) >= MAX_REPORTED else ""
        raise RejectedPrices(f"{source}: {len(problems)} problem(s){more}; nothing was written:\n{listed}")
    return rows


def _row(line: int, fields: list[str], calendar: dict[int, set[date]]) -> tuple[PriceRow | None, list[Problem]]:
    raw_date, commodity, raw_close = (field.strip() for field in fields)
    problems = []
    try:
        day = date.fromisoformat(raw_date) if len(raw_date) == 10 else None
    except ValueError:
        day = None
    if day is None:
        problems.append(Problem(line, "date", f"{raw_date[:40]!r} is not a YYYY-MM-DD date"))
    elif day not in calendar.setdefault(day.year, set(trading_days(date(day.year, 1, 1), date(day.year, 12, 31)))):
        problems.append(Problem(line, "date", f"{day} ({day:%A}) is not an exchange trading day (weekend or holiday)"))
    if commodity not in COMMODITIES:
        problems.append(Problem(line, "commodity", f"{commodity[:40]!r} is not one of {', '.join(COMMODITIES)}"))
    try:
        close = float(raw_close)
    except ValueError:
        close = None
        problems.append(Problem(line, "close", f"{raw_close[:40]!r} is not a number"))
    if close is not None and (not math.isfinite(close) or close <= 0):
        problems.append(Problem(line, "close", f"{raw_close[:40]!r} is not a finite positive price"))
    if problems:
        return None, problems
    return PriceRow(day, commodity, close), []


def merge(s3, bucket: str, prefix: str, rows: list[PriceRow], *, out: TextIO | None = None) -> Merged:
    """Merge `rows` into the year files. Conflicts are checked for every file before the first write,
    so a refused merge writes nothing."""
    groups: dict[tuple[str, int], dict[date, PriceRow]] = defaultdict(dict)
    for row in rows:
        groups[(row.commodity, row.date.year)][row.date] = row
    planned, merged = [], Merged()
    for (commodity, year), new in sorted(groups.items()):
        key = storage.price_key(prefix, commodity, year)
        text, etag = _read(s3, bucket, key)
        stored = {row.date: row for row in parse_csv(text, source=f"s3://{bucket}/{key}")} if text is not None else {}
        conflicts = [f"{day}: stored {stored[day].close}, file {row.close}" for day, row in new.items()
                     if day in stored and not math.isclose(stored[day].close, row.close, rel_tol=0, abs_tol=5e-5)]
        if conflicts:
            raise RejectedPrices(
                f"s3://{bucket}/{key} already holds other closes for {len(conflicts)} date(s), e.g. {conflicts[0]}; "
                "nothing was written (correct the stored file deliberately, or the input)"
            )
        merged.new_closes[commodity] = merged.new_closes.get(commodity, 0) + len(set(new) - set(stored))
        body = to_csv(sorted({**stored, **new}.values(), key=lambda row: row.date))
        planned.append((key, body, text, etag))
    for index, (key, body, before, etag) in enumerate(planned, start=1):
        if before == body:
            merged.unchanged += 1
            _say(out, f"[{index}/{len(planned)}] s3://{bucket}/{key}: unchanged")
            continue
        _write(s3, bucket, key, body, etag, written=merged.written)
        merged.written += 1
        _say(out, f"[{index}/{len(planned)}] s3://{bucket}/{key}: {body.count(chr(10)) - 1} rows")
    return merged


def _write(s3, bucket: str, key: str, body: str, etag: str | None, *, written: int) -> None:
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/csv", **condition)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _CONDITION_FAILED:
            raise
        raise ConcurrentWrites(
            f"s3://{bucket}/{key} changed while this load ran (another load?); it was left as the other writer "
            f"left it, {written} earlier file(s) were written: run the same load again"
        ) from None


def _say(out: TextIO | None, line: str) -> None:
    if out is not None:
        print(line, file=out, flush=True)


def _read(s3, bucket: str, key: str) -> tuple[str | None, str | None]:
    """A year file's text and ETag, or (None, None) when it does not exist yet."""
    try:
        stored = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None, None
        raise
    raw = stored["Body"].read()
    try:
        return raw.decode("utf-8"), stored["ETag"]
    except UnicodeDecodeError as error:
        raise RejectedPrices(f"s3://{bucket}/{key} is not UTF-8 text (byte {error.start}); correct it before loading more") from None
