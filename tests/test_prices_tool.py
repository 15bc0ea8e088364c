"""`python -m tools.prices load` on the emulator: a good file lands in the layout the workloads read,
a second load changes nothing, a bad file is refused line by line and column by column with nothing
written, and a conflict with stored prices is refused rather than overwritten."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from common import storage
from common.schema import to_csv
from demo.emulator import Emulator
from demo.prices import generate
from tests.conftest import ROOT
from tools import prices

BUCKET = "commodity-forecasts-dev-data-123456789012-us-east-1"
"""What the dev stack's data bucket is called in the emulator's account (settings.data_bucket_name)."""


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as running:
        yield running


@pytest.fixture
def bucket(emulator):
    emulator.reset()
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    return emulator


def run(emulator, *args: str) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, **emulator.environment}
    return subprocess.run([sys.executable, "-m", "tools.prices", "load", "--stack", "dev", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def objects(emulator) -> dict[str, bytes]:
    s3 = emulator.client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed}


def test_a_good_file_lands_where_the_workloads_read_it_and_a_second_load_changes_nothing(bucket, tmp_path):
    history = generate("corn", date(2021, 6, 30)) + generate("wheat", date(2020, 3, 31))
    path = tmp_path / "history.csv"
    path.write_text(to_csv(history))

    first = run(bucket, str(path))
    assert first.returncode == 0, first.stderr
    stored = objects(bucket)
    assert sorted(stored) == [f"prices/corn/{y}.csv" for y in (2019, 2020, 2021)] + [f"prices/wheat/{y}.csv" for y in (2019, 2020)]
    read_back = storage.read_prices(bucket.client("s3"), BUCKET, "prices/", "corn", first_year=2019, until=date(2021, 6, 30))
    assert read_back == [row for row in history if row.commodity == "corn"], "the workloads read exactly what was loaded"

    again = run(bucket, str(path))
    assert again.returncode == 0 and "0 file(s) written, 5 unchanged" in again.stdout
    assert objects(bucket) == stored


def test_a_later_file_extends_the_stored_history(bucket, tmp_path):
    rows = generate("corn", date(2020, 12, 31))
    (tmp_path / "early.csv").write_text(to_csv([r for r in rows if r.date < date(2020, 7, 1)]))
    (tmp_path / "late.csv").write_text(to_csv([r for r in rows if r.date >= date(2020, 6, 1)]))  # overlaps a month
    assert run(bucket, str(tmp_path / "early.csv")).returncode == 0
    done = run(bucket, str(tmp_path / "late.csv"))
    assert done.returncode == 0, done.stderr
    assert "1 file(s) written, 0 unchanged" in done.stdout
    stored = storage.read_prices(bucket.client("s3"), BUCKET, "prices/", "corn", first_year=2019, until=date(2020, 12, 31))
    assert stored == rows


@pytest.mark.parametrize("body, reported", [
    ("day,commodity,close\n", "line 1: the header must be date,commodity,close, got day,commodity,close"),
    ("date,commodity,close\n2024-01-02,corn,4.5\n2024-13-01,corn,4.6\n", "line 3, column date: '2024-13-01' is not a YYYY-MM-DD date"),
    ("date,commodity,close\n2024-01-06,corn,4.5\n", "line 2, column date: 2024-01-06 (Saturday) is not an exchange trading day"),
    ("date,commodity,close\n2024-01-02,oats,4.5\n", "line 2, column commodity: 'oats' is not one of corn, wheat, soybeans"),
    ("date,commodity,close\n2024-01-02,corn,-4.5\n", "line 2, column close: '-4.5' is not a finite positive price"),
    ("date,commodity,close\n2024-01-02,corn,nan\n", "line 2, column close: 'nan' is not a finite positive price"),
    ("date,commodity,close\n2024-01-02,corn,four\n", "line 2, column close: 'four' is not a number"),
    ("date,commodity,close\n2024-01-02,corn,4.5\n2024-01-02,corn,4.6\n", "line 3, column date: corn on 2024-01-02 is already on line 2"),
    ("date,commodity,close\n2024-01-02,corn\n", "line 2, column -: expected 3 fields"),
], ids=["header", "date", "weekend", "commodity", "negative", "nan", "not a number", "duplicate", "short row"])
def test_a_bad_file_is_refused_by_line_and_column_and_writes_nothing(bucket, tmp_path, body, reported):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    done = run(bucket, str(path))
    assert done.returncode == 1
    assert reported in done.stderr, done.stderr
    assert objects(bucket) == {}


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    lines = ["date,commodity,close", "2024-01-02,corn,x", "2024-01-03,rye,4", "2024-01-06,corn,4"]
    with pytest.raises(prices.RejectedPrices) as raised:
        prices.read_rows(lines, source="f.csv")
    assert "3 problem(s)" in str(raised.value)


def test_a_conflict_with_stored_prices_is_refused_not_overwritten(bucket, tmp_path):
    rows = generate("corn", date(2020, 1, 31))
    (tmp_path / "a.csv").write_text(to_csv(rows))
    assert run(bucket, str(tmp_path / "a.csv")).returncode == 0
    before = objects(bucket)
    changed = [rows[0].__class__(rows[0].date, "corn", rows[0].close + 1.0), *rows[1:]]
    (tmp_path / "b.csv").write_text(to_csv(changed))
    done = run(bucket, str(tmp_path / "b.csv"))
    assert done.returncode == 1
    assert f"s3://{BUCKET}/prices/corn/2019.csv already holds other closes for 1 date(s), e.g. {rows[0].date}" in done.stderr
    assert objects(bucket) == before


def test_what_it_cannot_decide_exits_2(emulator, tmp_path):
    emulator.reset()  # no bucket
    (tmp_path / "a.csv").write_text(to_csv(generate("corn", date(2019, 1, 31))))
    missing_bucket = run(emulator, str(tmp_path / "a.csv"))
    assert missing_bucket.returncode == 2 and "NoSuchBucket" in missing_bucket.stderr
    assert "s3://commodity-forecasts-dev-data-123456789012-us-east-1/prices/: NoSuchBucket" in missing_bucket.stderr, "the bucket is named"
    no_file = run(emulator, str(tmp_path / "none.csv"))
    assert no_file.returncode == 2 and "none.csv does not exist" in no_file.stderr


class RacingClient:
    """An S3 client through which another writer changes each year file right after this load read it."""

    def __init__(self, s3):
        self.s3 = s3

    def get_object(self, **kwargs):
        answer = self.s3.get_object(**kwargs)
        self.s3.put_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=b"date,commodity,close\n2019-01-02,corn,9.9999\n")
        return answer

    def __getattr__(self, name):
        return getattr(self.s3, name)


def test_two_loads_racing_never_lose_rows(bucket):
    import io

    rows = generate("corn", date(2019, 3, 29))
    s3 = bucket.client("s3")
    s3.put_object(Bucket=BUCKET, Key="prices/corn/2019.csv", Body=to_csv(rows[:20]).encode())
    with pytest.raises(prices.CannotDecide, match="changed while this load ran .* run the same load again"):
        prices.load(RacingClient(s3), BUCKET, "prices/", rows, out=io.StringIO())
    assert objects(bucket)["prices/corn/2019.csv"] == b"date,commodity,close\n2019-01-02,corn,9.9999\n", "the other writer's file stands"
