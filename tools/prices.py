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

The checks and the merge are the price feed's own (images/common/price_feed.py): a file dropped under
the bucket's `incoming/` is merged the same way by the stack's price-feed function.

Exit codes: 0 loaded (or nothing to change), 1 the file is invalid or conflicts with stored prices,
2 could not decide (unknown stack, no credentials, missing bucket, any AWS error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from botocore.exceptions import ClientError

from common.contract import PRICES_PREFIX
from common.errors import ConcurrentWrites, InvalidPrices
from common.price_feed import RejectedPrices, merge, read_rows
from tools.cli import CannotDecide, exit_code, stack_settings

__all__ = ["RejectedPrices", "load", "main", "read_rows"]


def load(s3, bucket: str, prefix: str, rows, *, out) -> dict[str, int]:
    """Merge `rows` into the year files (common/price_feed.py); a merge that lost a race could not decide."""
    try:
        merged = merge(s3, bucket, prefix, rows, out=out)
    except ConcurrentWrites as error:
        raise CannotDecide(str(error)) from None
    return {"written": merged.written, "unchanged": merged.unchanged}


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
        try:
            counts = load(session.client("s3"), bucket, PRICES_PREFIX, rows, out=sys.stdout)
        except ClientError as error:
            detail = error.response.get("Error", {})
            raise CannotDecide(f"s3://{bucket}/{PRICES_PREFIX}: {detail.get('Code')}: {detail.get('Message', '')}".rstrip(": ")) from None
        print(f"prices: {counts['written']} file(s) written, {counts['unchanged']} unchanged, in s3://{bucket}/{PRICES_PREFIX}")

    return exit_code("prices", act, refused=(RejectedPrices, InvalidPrices, UnicodeDecodeError))


if __name__ == "__main__":
    sys.exit(main())
