"""The price feed on the emulator: a file dropped under `incoming/` is merged exactly as `tools.prices
load` merges one, then moved to `processed/`; a refused file is kept under `rejected/` with its reasons;
a repeated delivery changes nothing. Events are AWS's documented ObjectCreated notification
(demo/s3_object_created.json: the Lambda console's "s3-put" test event, as printed in the
Lambda Developer Guide, "Tutorial: Using an Amazon S3 trigger"), with the bucket and key filled in."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from common.schema import parse_csv, to_csv
from demo.prices import generate
from tests.images.conftest import NAMES, emitted_metrics, metric_value

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "demo" / "s3_object_created.json").read_text())


def event_for(key: str) -> dict:
    event = copy.deepcopy(SAMPLE)
    record = event["Records"][0]
    record["s3"]["bucket"].update(name=NAMES.data_bucket, arn=f"arn:aws:s3:::{NAMES.data_bucket}")
    record["s3"]["object"]["key"] = quote_plus(key, safe="/")
    return event


def keys(emulator) -> set[str]:
    return {o["Key"] for o in emulator.client("s3").list_objects_v2(Bucket=NAMES.data_bucket).get("Contents", [])}


def body(emulator, key: str) -> str:
    return emulator.client("s3").get_object(Bucket=NAMES.data_bucket, Key=key)["Body"].read().decode()


@pytest.fixture
def feed(plane):
    from predictor import ingest

    return ingest


def drop(emulator, key: str, text: str) -> None:
    emulator.client("s3").put_object(Bucket=NAMES.data_bucket, Key=key, Body=text.encode())


def test_a_dropped_file_is_merged_moved_and_counted(feed, plane, context, capsys):
    history = generate("corn", date(2026, 11, 20))
    drop(plane, "prices/corn/2026.csv", to_csv([r for r in history if r.date.year == 2026][:-3]))
    drop(plane, "incoming/closes 2026-11-20.csv", to_csv([r for r in history if r.date.year == 2026][-5:]))
    [outcome] = feed.handler(event_for("incoming/closes 2026-11-20.csv"), context)["files"]
    assert outcome["outcome"] == "processed" and outcome["new_closes"] == {"corn": 3}
    stored = parse_csv(body(plane, "prices/corn/2026.csv"), source="stored")
    assert stored[-1].date == history[-1].date and len(stored) == len([r for r in history if r.date.year == 2026])
    assert "incoming/closes 2026-11-20.csv" not in keys(plane) and "processed/closes 2026-11-20.csv" in keys(plane)
    blobs = emitted_metrics(capsys.readouterr().out)
    assert metric_value(blobs, "NewCloses", commodity="corn") == 3
    assert metric_value(blobs, "PriceFilesIngested") == 1


def test_a_repeated_delivery_changes_nothing(feed, plane, context):
    history = [r for r in generate("wheat", date(2026, 11, 20)) if r.date.year == 2026]
    drop(plane, "incoming/wheat.csv", to_csv(history))
    feed.handler(event_for("incoming/wheat.csv"), context)
    before = {key: body(plane, key) for key in keys(plane)}
    [again] = feed.handler(event_for("incoming/wheat.csv"), context)["files"]
    assert again["outcome"] == "already processed" and {key: body(plane, key) for key in keys(plane)} == before
    drop(plane, "incoming/wheat.csv", to_csv(history))
    [resent] = feed.handler(event_for("incoming/wheat.csv"), context)["files"]
    assert resent["new_closes"] == {"wheat": 0} and body(plane, "prices/wheat/2026.csv") == before["prices/wheat/2026.csv"]


def test_a_refused_file_is_kept_with_its_reasons_and_nothing_is_written(feed, plane, context, capsys):
    drop(plane, "incoming/bad.csv", "date,commodity,close\n2026-11-21,corn,4.2\n2026-11-20,barley,3\n")
    [outcome] = feed.handler(event_for("incoming/bad.csv"), context)["files"]
    assert outcome["outcome"] == "rejected" and outcome["kept_as"] == f"s3://{NAMES.data_bucket}/rejected/bad.csv"
    reasons = body(plane, "rejected/bad.csv.reasons.txt")
    assert "line 2, column date: 2026-11-21 (Saturday) is not an exchange trading day" in reasons
    assert "line 3, column commodity: 'barley' is not one of corn, wheat, soybeans" in reasons
    assert not [k for k in keys(plane) if k.startswith(("prices/", "incoming/"))], "nothing merged, nothing left in the drop zone"
    assert metric_value(emitted_metrics(capsys.readouterr().out), "PriceFilesRejected") == 1


def test_a_conflicting_close_is_refused_and_the_stored_history_stands(feed, plane, context):
    stored = [r for r in generate("soybeans", date(2026, 11, 20)) if r.date.year == 2026]
    drop(plane, "prices/soybeans/2026.csv", to_csv(stored))
    drop(plane, "incoming/fix.csv", f"date,commodity,close\n{stored[-1].date},soybeans,{stored[-1].close + 1}\n")
    [outcome] = feed.handler(event_for("incoming/fix.csv"), context)["files"]
    assert outcome["outcome"] == "rejected" and "already holds other closes for 1 date(s)" in outcome["reasons"]
    assert body(plane, "prices/soybeans/2026.csv") == to_csv(stored)


def test_objects_outside_the_drop_zone_are_left_alone_and_a_bad_event_raises(feed, plane, context):
    drop(plane, "prices/corn/2026.csv", "date,commodity,close\n")
    [outcome] = feed.handler(event_for("prices/corn/2026.csv"), context)["files"]
    assert outcome["outcome"] == "ignored" and "prices/corn/2026.csv" in keys(plane)
    from common.errors import InvalidEvent

    with pytest.raises(InvalidEvent, match="S3 event notifications"):
        feed.handler({"commodity": "corn"}, context)


def test_the_dry_run_proves_every_write_and_leaves_nothing(feed, plane, context):
    report = feed.handler({"dry_run": True}, context)
    assert report["dry_run"] is True and report["checks"]["write_access"].startswith("passed: wrote and deleted ")
    for prefix in ("prices/", "processed/", "rejected/"):
        assert f"s3://{NAMES.data_bucket}/{prefix}_dry-run/" in report["checks"]["write_access"]
    assert report["checks"]["drop_zone"] == f"passed: may delete under s3://{NAMES.data_bucket}/incoming/"
    assert keys(plane) == set(), "nothing is left behind"
