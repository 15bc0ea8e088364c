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
from trainer import training


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
    old_bytes = storage.get_bytes(s3, NAMES.data_bucket, f"models/corn/{first.version}/model.ubj")
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
    with pytest.raises(errors.ObjectConflict, match=rf"s3://{NAMES.data_bucket}/models/corn/{result.version}/model.ubj already exists"):
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
        body = storage.get_bytes(s3, NAMES.data_bucket, f"models/corn/{result.version}/model.ubj")
        assert hashlib.sha256(body).hexdigest() == result.metadata["model_sha256"]


def test_a_losing_model_is_stored_but_never_served(plane, trained):
    from tests.images.test_trainer import random_walk

    s3 = plane.client("s3")
    training.publish(s3, NAMES, trained["corn"])
    later = MODEL_AS_OF + timedelta(days=3)
    loser = training.train("corn", random_walk("corn", later), as_of=later, now=now_utc(), min_improvement=0.0)
    assert not loser.beats_naive
    training.publish(s3, NAMES, loser)
    assert serving_model_loads(plane).version == trained["corn"].version


WEAK = {"n_estimators": 30, "max_depth": 1, "learning_rate": 0.05}
"""A configuration that beats the naive forecast on corn (by about 2 %) but not the selected one (about 4.6 %)."""


def test_a_candidate_that_loses_to_the_serving_configuration_is_not_promoted(plane, trained, context, monkeypatch):
    from trainer import handler

    s3 = plane.client("s3")
    from tests.images.conftest import seed_prices

    seed_prices(plane, NAMES, ("corn",), MODEL_AS_OF)
    training.publish(s3, NAMES, trained["corn"])
    monkeypatch.setattr(training, "_select_params", lambda features, target, horizon: dict(WEAK))
    result = handler.handler({"commodity": "corn", "as_of": MODEL_AS_OF.isoformat()}, context)
    [summary] = result["models"]
    assert summary["beats_naive"] is True, "the candidate does beat the naive forecast"
    assert summary["promoted"] is False
    assert summary["serving_mae"] < summary["model_mae"]
    assert "loses to the serving configuration" in summary["promotion"][0]
    assert serving_model_loads(plane).version == trained["corn"].version


def test_an_older_run_never_demotes_the_serving_model_unless_told_to(plane, trained, context, capfd):
    from tests.images.conftest import emitted_metrics, metric_value, seed_prices
    from trainer import handler

    s3 = plane.client("s3")
    seed_prices(plane, NAMES, ("corn",), MODEL_AS_OF)
    training.publish(s3, NAMES, trained["corn"])
    older = (MODEL_AS_OF - timedelta(days=30)).isoformat()
    refused = handler.handler({"commodity": "corn", "as_of": older}, context)["models"][0]
    assert refused["promoted"] is False and "older than the serving model's" in " ".join(refused["promotion"])
    assert serving_model_loads(plane).version == trained["corn"].version
    assert metric_value(emitted_metrics(capfd.readouterr().out), "OlderThanServing", commodity="corn") == 1
    forced = handler.handler({"commodity": "corn", "as_of": older, "allow_older": True}, context)["models"][0]
    assert forced["promoted"] is True, forced["promotion"]
    assert serving_model_loads(plane).version == forced["version"]


def test_the_promotion_rule_in_one_place():
    serving = training.Serving("2026-11-20-abc", MODEL_AS_OF, {})
    base = {"beats_naive": True, "model_mae": 0.10, "naive_mae": 0.11, "min_improvement": 0.0, "serving_mae": 0.10}
    assert training.promotion(base, as_of=MODEL_AS_OF, serving=serving, allow_older=False)["promote"], "a tie is the same configuration on newer data"
    assert not training.promotion({**base, "serving_mae": 0.09}, as_of=MODEL_AS_OF, serving=serving, allow_older=False)["promote"]
    assert not training.promotion({**base, "beats_naive": False}, as_of=MODEL_AS_OF, serving=None, allow_older=False)["promote"]
    assert training.promotion(base, as_of=MODEL_AS_OF, serving=None, allow_older=False)["compared_with"] is None
