"""Load price history into a stack's data bucket, in the layout the workloads read:

    python -m tools.prices load --stack dev prices.csv [--bucket NAME]

The file is the workloads' own schema (images/common/schema.py): header `date,commodity,close`, one row
per trading day and commodity, any number of commodities and years. Every row is checked before
anything is written — the header, an ISO date that is an exchange trading day, a supported commodity,
a finite positive close, no date twice — and every problem is reported with its line and column (up to
20), so a bad file writes nothing. Rows are merged into `prices/<commodity>/<YYYY>.csv`: rows already
stored are kept, a date stored with another close is refused (correct it in the bucket deliberately),
and a year file is written only when its contents change, so loading the same file twice is a no-op.
Each write is conditional on the file being what was read (S3 `If-Match`, or `If-None-Match: *` for a
new file): two loads racing on one year never lose each other's rows; the later one stops and says to
run it again.

Exit codes: 0 loaded (or nothing to change), 1 the file is invalid or conflicts with stored prices,
2 could not decide (unknown stack, no credentials, missing bucket, any AWS error).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterable, TextIO

from botocore.exceptions import ClientError

from common import storage
from common.contract import COMMODITIES, PRICES_PREFIX
from common.errors import InvalidPrices
from common.schema import CSV_HEADER, PriceRow, parse_csv, to_csv
from common.trading_calendar import trading_days
from tools.cli import CannotDecide, exit_code, stack_settings
MAX_REPORTED = 20
PROGRESS_EVERY = 100_000
"""Rows between progress lines while a large file is read."""


class InvalidFile(Exception):
    """The file (or its merge with stored prices) is refused: exit 1."""


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def read_rows(lines: Iterable[str], *, source: str, progress: TextIO | None = None) -> list[PriceRow]:
    """Every row of the file, or `InvalidFile` listing up to MAX_REPORTED problems by line and column."""
    reader = csv.reader(lines)
    header = tuple(next(reader, ()))
    if header != CSV_HEADER:
        raise InvalidFile(f"{source}: line 1: the header must be {','.join(CSV_HEADER)}, got {','.join(header) or 'nothing'}")
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
        raise InvalidFile(f"{source}: {len(problems)} problem(s){more}; nothing was written:\n{listed}")
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


def load(s3, bucket: str, prefix: str, rows: list[PriceRow], *, out: TextIO) -> dict[str, int]:
    """Merge `rows` into the year files; returns counts of files written and unchanged. Conflicts are
    checked for every file before the first write, so a refused load writes nothing."""
    groups: dict[tuple[str, int], dict[date, PriceRow]] = defaultdict(dict)
    for row in rows:
        groups[(row.commodity, row.date.year)][row.date] = row
    planned = []
    for (commodity, year), new in sorted(groups.items()):
        key = storage.price_key(prefix, commodity, year)
        text, etag = _read(s3, bucket, key)
        stored = {row.date: row for row in parse_csv(text, source=f"s3://{bucket}/{key}")} if text is not None else {}
        conflicts = [f"{day}: stored {stored[day].close}, file {row.close}" for day, row in new.items()
                     if day in stored and not math.isclose(stored[day].close, row.close, rel_tol=0, abs_tol=5e-5)]
        if conflicts:
            raise InvalidFile(
                f"s3://{bucket}/{key} already holds other closes for {len(conflicts)} date(s), e.g. {conflicts[0]}; "
                "nothing was written (correct the stored file deliberately, or the input)"
            )
        body = to_csv(sorted({**stored, **new}.values(), key=lambda row: row.date))
        planned.append((key, body, text, etag))
    counts = {"written": 0, "unchanged": 0}
    for index, (key, body, before, etag) in enumerate(planned, start=1):
        if before == body:
            counts["unchanged"] += 1
            print(f"[{index}/{len(planned)}] s3://{bucket}/{key}: unchanged", file=out, flush=True)
            continue
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/csv", **condition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise
            raise CannotDecide(
                f"s3://{bucket}/{key} changed while this load ran (another load?); it was left as the other writer "
                f"left it, {counts['written']} earlier file(s) were written: run the same load again"
            ) from None
        counts["written"] += 1
        print(f"[{index}/{len(planned)}] s3://{bucket}/{key}: {body.count(chr(10)) - 1} rows", file=out, flush=True)
    return counts


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
        raise InvalidFile(f"s3://{bucket}/{key} is not UTF-8 text (byte {error.start}); correct it before loading more") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.prices", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    loading = commands.add_parser("load", help="validate a CSV file and merge it into the stack's price files")
    loading.add_argument("file", type=Path, help="CSV with the header date,commodity,close")
    loading.add_argument("--stack", required=True, help="stack whose data bucket receives the prices (Pulumi.<stack>.yaml)")
    loading.add_argument("--bucket", help="data bucket name (default: derived from the stack, the account and the region)")
    args = parser.parse_args(argv)

    def act() -> None:
        import boto3

        settings = stack_settings(args.stack)
        session = boto3.session.Session(region_name=settings.region)
        bucket = args.bucket or settings.data_bucket_name(session.client("sts").get_caller_identity()["Account"])
        with args.file.open(newline="", encoding="utf-8") as handle:
            rows = read_rows(handle, source=str(args.file), progress=sys.stderr)
        print(f"{args.file}: {len(rows):,} valid rows for {', '.join(sorted({r.commodity for r in rows})) or 'nothing'}")
        counts = load(session.client("s3"), bucket, PRICES_PREFIX, rows, out=sys.stdout)
        print(f"prices: {counts['written']} file(s) written, {counts['unchanged']} unchanged, in s3://{bucket}/{PRICES_PREFIX}")

    return exit_code("prices", act, refused=(InvalidFile, InvalidPrices, UnicodeDecodeError))


if __name__ == "__main__":
    sys.exit(main())
