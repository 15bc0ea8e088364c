"""Models are write-once: a losing model, a crash at any publish write, a retry of the same date and two
trainers racing on different data all leave the serving model loadable with a valid checksum."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from common import errors, storage
from common.events import now_utc
from demo.prices import generate
from predictor import service
from tests.images.conftest import MODEL_AS_OF, NAMES, get_json
from trainer import skill, training


def serving_model_loads(plane, commodity: str = "corn") -> service.LoadedModel:
    """What a cold predictor does: pointer, bytes, checksum, metadata, evaluator."""
    service._MODELS.clear()
    return service.load_model(plane.client("s3"), NAMES, commodity)


def corrected(commodity: str, factor: float):
    """The same dates with corrected (scaled) prices: other data for the same `as_of`."""
    from dataclasses import replace

    return [replace(row, close=round(row.close * factor, 4)) for row in generate(commodity, MODEL_AS_OF)]


@pytest.fixture(scope="module")
def rival():
    """A second model for the same commodity and date, trained on corrected prices."""
    return training.train("corn", corrected("corn", 1.02), as_of=MODEL_AS_OF, now=now_utc(), min_improvement=0.0)


def test_versions_name_their_bytes_so_a_rerun_on_other_data_never_overwrites(plane, trained, rival):
    first = trained["corn"]
    assert first.version != rival.version and first.version.startswith(MODEL_AS_OF.isoformat())
    training.publish(plane.client("s3"), NAMES, first)
    served = serving_model_loads(plane)
    training.publish(plane.client("s3"), NAMES, rival)
    s3 = plane.client("s3")
    old_bytes = storage.get_bytes(s3, NAMES.data_bucket, f"models/corn/{first.version}/model.json")
    assert hashlib.sha256(old_bytes).hexdigest() == served.sha256, "the earlier model's file is unchanged"
    assert serving_model_loads(plane).version == rival.version, "the newer model serves, checksum valid"


def test_a_retry_of_the_same_run_is_a_no_op_that_keeps_the_first_metadata(plane, trained):
    result = trained["corn"]
    s3 = plane.client("s3")
    training.publish(s3, NAMES, result)
    metadata_key = f"models/corn/{result.version}/metadata.json"
    before = s3.head_object(Bucket=NAMES.data_bucket, Key=metadata_key)
    retried = training.TrainingResult(
        result.commodity, result.version, result.model, {**result.metadata, "trained_at": "2030-01-01T00:00:00+00:00"}, result.backtest,
    )
    training.publish(s3, NAMES, retried)
    after = s3.head_object(Bucket=NAMES.data_bucket, Key=metadata_key)
    assert after["ETag"] == before["ETag"] and after.get("VersionId") == before.get("VersionId"), "metadata is written once"
    assert serving_model_loads(plane).sha256 == result.metadata["model_sha256"]


def test_other_bytes_under_an_existing_model_key_are_refused_and_left_alone(plane, trained):
    result = trained["corn"]
    s3 = plane.client("s3")
    training.publish(s3, NAMES, result)
    tampered = training.TrainingResult(result.commodity, result.version, result.model + b" ", result.metadata, result.backtest)
    with pytest.raises(errors.ObjectConflict, match=rf"s3://{NAMES.data_bucket}/models/corn/{result.version}/model.json already exists"):
        training.publish(s3, NAMES, tampered)
    assert serving_model_loads(plane).sha256 == result.metadata["model_sha256"]


@pytest.mark.parametrize("failing_write", [1, 2, 3, 4], ids=["model", "backtest", "metadata", "pointer"])
def test_a_crash_at_any_publish_write_leaves_the_serving_model_intact(plane, trained, rival, failing_write):
    s3 = plane.client("s3")
    training.publish(s3, NAMES, trained["corn"])
    pointer_before = get_json(plane, NAMES.data_bucket, "models/corn/latest.json")
    calls = {"n": 0}
    real_put = s3.put_object

    def crashing_put(**kwargs):
        calls["n"] += 1
        if calls["n"] == failing_write:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "simulated crash"}}, "PutObject")
        return real_put(**kwargs)

    s3.put_object = crashing_put
    with pytest.raises(ClientError, match="simulated crash"):
        training.publish(s3, NAMES, rival)
    s3.put_object = real_put
    assert get_json(plane, NAMES.data_bucket, "models/corn/latest.json") == pointer_before
    assert serving_model_loads(plane).version == trained["corn"].version
    training.publish(s3, NAMES, rival)
    assert serving_model_loads(plane).version == rival.version, "a retry after the crash completes the publish"


def test_two_trainers_racing_on_different_data_each_publish_a_complete_model(plane, trained, rival):
    s3 = plane.client("s3")
    training.publish(s3, NAMES, rival)
    training.publish(s3, NAMES, trained["corn"])
    winner = serving_model_loads(plane)
    assert winner.version == trained["corn"].version
    for result in (rival, trained["corn"]):
        body = storage.get_bytes(s3, NAMES.data_bucket, f"models/corn/{result.version}/model.json")
        assert hashlib.sha256(body).hexdigest() == result.metadata["model_sha256"]


def test_a_model_that_is_not_significantly_better_is_stored_but_the_naive_forecast_serves(plane, trained):
    from tests.images.test_trainer import random_walk

    s3 = plane.client("s3")
    later = MODEL_AS_OF + timedelta(days=3)
    loser = training.train("corn", random_walk("corn", later), as_of=later, now=now_utc(), min_improvement=0.0)
    assert not loser.beats_naive and loser.serves == "naive"
    training.publish(s3, NAMES, loser)
    assert storage.get_bytes(s3, NAMES.data_bucket, f"models/corn/{loser.version}/model.json") == loser.model, "stored for inspection"
    served = serving_model_loads(plane)
    assert (served.method, served.version) == ("naive", loser.naive.version)


WEAK = {"n_estimators": 30, "max_depth": 1, "learning_rate": 0.05}
"""A configuration that beats the naive forecast on corn (by about 2 %) but not the selected one (about 4.6 %)."""


def test_a_configuration_not_significantly_better_than_the_serving_one_changes_nothing_but_the_data(plane, trained, context, monkeypatch):
    from trainer import handler

    s3 = plane.client("s3")
    from tests.images.conftest import seed_prices

    seed_prices(plane, NAMES, ("corn",), MODEL_AS_OF)
    training.publish(s3, NAMES, trained["corn"])
    monkeypatch.setattr(training, "_select_params", lambda features, target, horizon: dict(WEAK))
    result = handler.handler({"commodity": "corn", "as_of": MODEL_AS_OF.isoformat()}, context)
    [summary] = result["models"]
    assert summary["p_values"]["selected_vs_serving"] >= 0.05, "the weaker configuration is not significantly better"
    assert "serving configuration refit" in summary["configuration"]
    assert summary["promoted"] is True and summary["version"] == trained["corn"].version, (
        "the serving configuration refit on the same data is the same bytes: the same version keeps serving"
    )
    assert serving_model_loads(plane).version == trained["corn"].version


OVERFIT = {"n_estimators": 300, "max_depth": 8, "learning_rate": 0.3, "min_child_weight": 1}
"""A configuration that memorises its training window and forecasts a random walk far worse than naive."""


def test_a_serving_model_is_demoted_only_when_the_naive_forecast_is_significantly_better(plane, context, capfd, monkeypatch):
    """A model promoted under laxer rules (an earlier release) serves; then the market turns into a
    random walk. The naive forecast is significantly better, so it replaces the model: counted, logged,
    and the predictor serves it through the same path."""
    from tests.images.conftest import emitted_metrics, metric_value
    from tests.images.test_trainer import random_walk, write_history
    from trainer import handler

    s3 = plane.client("s3")
    monkeypatch.setattr(training, "_select_params", lambda features, target, horizon: dict(OVERFIT))
    lax = training.train("corn", generate("corn", MODEL_AS_OF), as_of=MODEL_AS_OF, now=now_utc(), min_improvement=0.0)
    lax_metadata = {**lax.metadata, "promotion": {**lax.metadata["promotion"], "serves": "model"}}
    training.publish(s3, NAMES, training.TrainingResult(lax.commodity, lax.version, lax.model, lax_metadata, lax.backtest))
    assert serving_model_loads(plane).method == "model"

    later = MODEL_AS_OF + timedelta(days=3)
    write_history(plane, random_walk("corn", later))
    [summary] = handler.handler({"commodity": "corn", "as_of": later.isoformat()}, context)["models"]

    assert summary["demoted"] is True and summary["serves"] == "naive", summary["promotion"]
    assert "naive forecast is significantly better" in summary["promotion"][0]
    served = serving_model_loads(plane)
    assert (served.method, served.version) == ("naive", summary["serving_version"])
    assert metric_value(emitted_metrics(capfd.readouterr().out), "ModelDemoted", commodity="corn") == 1


def test_an_older_run_never_demotes_the_serving_model_unless_told_to(plane, trained, context, capfd):
    from tests.images.conftest import emitted_metrics, metric_value, seed_prices
    from trainer import handler

    s3 = plane.client("s3")
    seed_prices(plane, NAMES, ("corn",), MODEL_AS_OF)
    training.publish(s3, NAMES, trained["corn"])
    older = (MODEL_AS_OF - timedelta(days=30)).isoformat()
    refused = handler.handler({"commodity": "corn", "as_of": older}, context)["models"][0]
    assert refused["promoted"] is False and "older than the serving version's" in " ".join(refused["promotion"])
    assert refused["serves"] == "unchanged"
    assert serving_model_loads(plane).version == trained["corn"].version
    assert metric_value(emitted_metrics(capfd.readouterr().out), "OlderThanServing", commodity="corn") == 1
    forced = handler.handler({"commodity": "corn", "as_of": older, "allow_older": True}, context)["models"][0]
    assert forced["promoted"] is True, forced["promotion"]
    assert serving_model_loads(plane).version == forced["version"]


def comparison(p_value: float, better: str = "model") -> skill.Comparison:
    return skill.Comparison(better, "naive" if better == "model" else "model", 0.01, 1.0, p_value, 5, 500)


@pytest.mark.parametrize("serving_method, beats, loses, improvement, serves", [
    (None, 0.01, 0.99, 0.03, "model"),
    (None, 0.20, 0.80, 0.03, "naive"),
    (None, 0.01, 0.99, 0.005, "naive"),
    ("naive", 0.04, 0.96, 0.03, "model"),
    ("naive", 0.06, 0.94, 0.03, "naive"),
    ("model", 0.60, 0.40, -0.01, "model"),
    ("model", 0.99, 0.01, -0.05, "naive"),
], ids=[
    "first run, significant win: model", "first run, no evidence: naive", "significant but below min_improvement: naive",
    "naive serves, significant win: model", "naive serves, p just above the level: naive", "model serves, loses by noise: kept",
    "model serves, naive significantly better: demoted",
])
def test_the_promotion_rule_in_one_place(serving_method, beats, loses, improvement, serves):
    serving = training.Serving("2026-11-13-abc", MODEL_AS_OF - timedelta(days=7), serving_method, {} if serving_method == "model" else None) if serving_method else None
    metrics = {"improvement": improvement, "min_improvement": 0.01}
    tests = {"model_vs_naive": comparison(beats), "naive_vs_model": comparison(loses, better="naive")}
    decision = training.promotion(metrics, tests, as_of=MODEL_AS_OF, serving=serving, allow_older=False, significance=0.05)
    assert decision["serves"] == serves, decision["reasons"]
    assert decision["demoted"] == (serving_method == "model" and serves == "naive")
    assert decision["compared_with"] == (serving.version if serving else None)
    older = training.promotion(metrics, tests, as_of=MODEL_AS_OF - timedelta(days=30), serving=serving, allow_older=False, significance=0.05)
    assert older["serves"] == ("unchanged" if serving else serves)
