"""Adaptive intervals (common/intervals.py) end to end: they hold year by year where fixed widths fail
(seeded GARCH(1,1) windows through the real trainer and predictor code, bench/intervals.py), the
predictor's replay of the version's state is the trainer's walk continued, a flawed state degrades
(logged, counted) and never stops a forecast, and what users read says which method made the interval."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from bench import intervals as walk
from common import intervals
from common.contract import INTERVAL_LEVELS
from predictor import service
from tests.images.conftest import MODEL_AS_OF, NAMES, emitted_metrics, get_json, metric_value


@pytest.fixture(scope="module")
def garch_windows():
    """12 seeded GARCH(1,1) windows of 250 days, the volatility regime shifting on the first served day."""
    return walk.simulated(horizon=1)


def _within(windows, method: str, level: str, points: float) -> int:
    return sum(abs(w.coverage[method][level] - int(level) / 100) <= points / 100 + 1e-9 for w in windows)


def test_the_adaptive_80_percent_interval_holds_in_11_of_12_regime_shifted_windows_and_beats_fixed(garch_windows):
    assert len(garch_windows) == 12
    adaptive, fixed = _within(garch_windows, "adaptive", "80", 7), _within(garch_windows, "fixed", "80", 7)
    table = walk.window_table(garch_windows, oracle=True)
    assert adaptive >= 11, f"adaptive 80% within ±7 points in {adaptive} of 12 windows\n{table}"
    assert adaptive > fixed, f"adaptive {adaptive} vs fixed {fixed} windows within ±7 points\n{table}"
    assert all(w.interval_method == intervals.ADAPTIVE and w.fallbacks == 0 for w in garch_windows), table


def test_the_adaptive_95_percent_interval_holds_in_11_of_12_regime_shifted_windows(garch_windows):
    adaptive = _within(garch_windows, "adaptive", "95", 4)
    assert adaptive >= 11, f"adaptive 95% within ±4 points in {adaptive} of 12 windows\n{walk.window_table(garch_windows, oracle=True)}"


@pytest.fixture(scope="module")
def naive_version():
    """A version trained on a random walk (the naive forecast serves), and the walk's next 30 days."""
    from tests.images.test_trainer import random_walk
    from trainer import training
    from common.events import now_utc

    rows = random_walk("corn", MODEL_AS_OF + timedelta(days=45), seed=3)
    history = [row for row in rows if row.date <= MODEL_AS_OF]
    result = training.train("corn", history, as_of=MODEL_AS_OF, now=now_utc(), min_improvement=0.0)
    assert result.serves == "naive"
    return result, rows


def test_the_predictors_replay_continues_the_trainers_walk_exactly(naive_version):
    """Served 20 trading days after its newest close, the version's interval is the one the trainer's own
    walk would have reached had it gone on through those days: the same calibration, the same updates."""
    result, rows = naive_version
    model = walk._loaded(result, 1)
    history_rows = len([row for row in rows if row.date <= MODEL_AS_OF])
    today = history_rows - 1 + 20
    served = service.interval_widths(model, rows[: today + 1])
    assert served.method == intervals.ADAPTIVE and served.fallback == ""

    closes = np.array([row.close for row in rows[: today + 1]])
    evaluation = np.arange(history_rows - 1 - 500, today)  # the version's 500 evaluation rows, then 20 more days
    continued, _, _ = intervals.calibrate(
        closes, evaluation, closes[evaluation + 1], closes[evaluation], horizon=1, levels=INTERVAL_LEVELS, state_date=str(rows[today].date),
    )
    volatility = intervals.VolatilityScale().of(closes)[-1]
    for level in ("80", "95"):
        expected = intervals.adapted_quantile(continued.calibration, continued.state[level][-1]) * volatility
        assert served.half_widths[level] == pytest.approx(expected, rel=1e-9), level


def test_intervals_widen_and_narrow_with_the_volatility_known_that_day(naive_version):
    result, rows = naive_version
    model = walk._loaded(result, 1)
    calm = rows[:-10]
    turbulent = calm[:-15] + [replace(row, close=round(calm[-16].close * np.exp(3 * np.log(row.close / calm[-16].close)), 4)) for row in calm[-15:]]
    quiet, wild = service.interval_widths(model, calm), service.interval_widths(model, turbulent)
    assert wild.half_widths["80"] > 1.3 * quiet.half_widths["80"], (quiet.half_widths, wild.half_widths)


@pytest.fixture
def predictor():
    from predictor import handler

    return handler.handler


def _rewrite_metadata(plane, commodity, change):
    pointer = get_json(plane, NAMES.data_bucket, f"models/{commodity}/latest.json")
    metadata = get_json(plane, NAMES.data_bucket, pointer["metadata_key"])
    change(metadata)
    plane.client("s3").put_object(Bucket=NAMES.data_bucket, Key=pointer["metadata_key"], Body=json.dumps(metadata).encode())
    return metadata


def test_what_users_read_names_the_interval_method(published, predictor, context, today):
    result = predictor({"commodity": "corn"}, context)
    item = published.client("dynamodb").get_item(
        TableName=NAMES.predictions_table, Key={"commodity": {"S": "corn"}, "effective_date": {"S": today.isoformat()}},
    )["Item"]
    full = get_json(published, NAMES.data_bucket, f"predictions/corn/{today.isoformat()}.json")
    assert result["interval_method"] == item["interval_method"]["S"] == full["interval_method"] == intervals.ADAPTIVE
    assert full["interval_fallback"] == "" and full["model_as_of"] == MODEL_AS_OF.isoformat()
    assert item["trained_after_as_of"] == {"BOOL": False} and full["trained_after_as_of"] is False
    legacy = get_json(published, NAMES.legacy_bucket, "predictions/latest/corn.json")
    assert set(legacy) == set(service.LEGACY_KEYS), "the mobile app's document keeps its five keys"


@pytest.mark.parametrize("flaw", [
    lambda adaptive: adaptive.pop("state"),
    lambda adaptive: adaptive["state"]["alpha"].update({"80": ["x"]}),
    lambda adaptive: adaptive["state"].update(price_date="1999-01-04"),
], ids=["state missing", "state corrupt", "state from prices that are not there"])
def test_an_unusable_state_serves_the_calibrated_quantile_logged_and_counted(published, predictor, context, capfd, caplog, flaw):
    metadata = _rewrite_metadata(published, "wheat", lambda m: flaw(m["intervals"]["adaptive"]))
    result = predictor({"commodity": "wheat"}, context)

    assert result["interval_method"] == intervals.SCALED and "calibrated quantile served" in result["interval_fallback"]
    from common.schema import parse_csv

    s3 = published.client("s3")
    rows = []
    for year in sorted({int(result["price_date"][:4]) - 1, int(result["price_date"][:4])}):
        body = s3.get_object(Bucket=NAMES.data_bucket, Key=f"prices/wheat/{year}.csv")["Body"].read().decode()
        rows += [row for row in parse_csv(body, source=str(year)) if row.date.isoformat() <= result["price_date"]]
    volatility = intervals.VolatilityScale().of(np.array([row.close for row in rows]))[-1]
    expected = result["predicted_price"] * np.exp(metadata["intervals"]["calibrated_quantile"]["80"] * volatility)
    assert result["upper_80"] == pytest.approx(expected, abs=1e-4), "the calibrated normalised quantile times today's volatility"
    assert metric_value(emitted_metrics(capfd.readouterr().out), "IntervalFallbacks", commodity="wheat") == 1
    assert [r for r in caplog.records if r.getMessage() == "intervals degraded" and r.levelname == "WARNING"]


def test_unusable_calibration_serves_the_fixed_widths_logged_and_counted(published, predictor, context, capfd):
    metadata = _rewrite_metadata(published, "corn", lambda m: m["intervals"]["adaptive"].update(calibration_scores=[float("nan")] * 250))
    result = predictor({"commodity": "corn"}, context)
    assert result["interval_method"] == intervals.FIXED and "fixed widths served" in result["interval_fallback"]
    width = metadata["intervals"]["log_half_width"]["95"]
    assert result["upper_95"] == pytest.approx(result["predicted_price"] * np.exp(width), abs=1e-4)
    assert metric_value(emitted_metrics(capfd.readouterr().out), "IntervalFallbacks", commodity="corn") == 1


def test_a_scheduled_run_counts_no_fallback(published, predictor, context, capfd):
    predictor({"commodity": "soybeans"}, context)
    assert metric_value(emitted_metrics(capfd.readouterr().out), "IntervalFallbacks", commodity="soybeans") == 0


def _item(plane, commodity, day):
    return plane.client("dynamodb").get_item(
        TableName=NAMES.predictions_table, Key={"commodity": {"S": commodity}, "effective_date": {"S": day}},
    ).get("Item")


def test_a_backfill_creates_missing_predictions_only_and_replaces_only_when_told(published, predictor, context, today, trained):
    from tests.images.test_publish_once import corrected
    from trainer import training
    from common.events import now_utc

    day = (today - timedelta(days=30)).isoformat()
    first = predictor({"commodity": "corn", "as_of": day}, context)
    assert first["trained_after_as_of"] is (MODEL_AS_OF.isoformat() > day), "a model trained on later prices says so"
    assert _item(published, "corn", day)["model_sha256"]["S"] == first["model_sha256"]
    full_key = f"predictions/corn/{day}.json"
    full_before = published.client("s3").get_object(Bucket=NAMES.data_bucket, Key=full_key)["Body"].read()

    rival = training.train("corn", corrected("corn", 1.02), as_of=MODEL_AS_OF, now=now_utc(), min_improvement=0.0)
    training.publish(published.client("s3"), NAMES, rival)
    service._MODELS.clear()
    kept = predictor({"commodity": "corn", "as_of": day}, context)
    assert kept["model_sha256"] == first["model_sha256"] != get_json(published, NAMES.data_bucket, "models/corn/latest.json")["sha256"]
    assert _item(published, "corn", day)["model_sha256"]["S"] == first["model_sha256"], "the stored prediction is a record"
    assert published.client("s3").get_object(Bucket=NAMES.data_bucket, Key=full_key)["Body"].read() == full_before

    replaced = predictor({"commodity": "corn", "as_of": day, "replace": True}, context)
    assert replaced["model_sha256"] != first["model_sha256"]
    assert _item(published, "corn", day)["model_sha256"]["S"] == replaced["model_sha256"]
    assert get_json(published, NAMES.data_bucket, full_key)["model_sha256"] == replaced["model_sha256"]


def test_a_backfill_fills_a_missing_full_json_from_the_stored_item(published, predictor, context, today):
    day = (today - timedelta(days=9)).isoformat()
    first = predictor({"commodity": "wheat", "as_of": day}, context)
    published.client("s3").delete_object(Bucket=NAMES.data_bucket, Key=f"predictions/wheat/{day}.json")
    again = predictor({"commodity": "wheat", "as_of": day}, context)
    assert again == first
    assert get_json(published, NAMES.data_bucket, f"predictions/wheat/{day}.json")["created_at"] == first["created_at"]


def test_reruns_and_backfills_never_move_todays_interval(published, predictor, context, today):
    """Nothing is stored between nights: today's interval is the same before and after back-fills of the
    days since the version, and after a cold container re-reads everything."""
    from common.events import PredictionRequest

    s3 = published.client("s3")
    request = PredictionRequest.parse({"commodity": "soybeans"})

    def todays_widths():
        service._MODELS.clear()
        model = service.load_model(s3, NAMES, "soybeans")
        return service.interval_widths(model, service.recent_prices(s3, NAMES, request, since=model.as_of))

    before = todays_widths()
    for back in (1, 2, 5):
        predictor({"commodity": "soybeans", "as_of": (today - timedelta(days=back)).isoformat()}, context)
    predictor({"commodity": "soybeans"}, context)
    predictor({"commodity": "soybeans"}, context)
    assert todays_widths() == before
    listed = s3.list_objects_v2(Bucket=NAMES.data_bucket, Prefix="predictions/")["Contents"]
    assert all(item["Key"].startswith("predictions/soybeans/") and item["Key"].count("/") == 2 for item in listed), "no state objects"
