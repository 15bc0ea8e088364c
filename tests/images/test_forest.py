"""The predictor's tree evaluator against XGBoost itself: parity on held-out data, clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb

from common.features import DEFAULT_HORIZON, feature_matrix, horizon_log_return
from demo.prices import generate
from predictor.forest import Forest, UnsupportedModel
from tests.images.conftest import MODEL_AS_OF

PARITY = 1e-5
"""Maximum absolute difference from XGBoost's own predictions."""


def held_out(commodity: str, today):
    rows = generate(commodity, today)
    dates = np.array([r.date for r in rows], dtype="datetime64[D]")
    closes = np.array([r.close for r in rows])
    features = feature_matrix(dates, closes)
    usable = np.flatnonzero(~np.isnan(features).any(axis=1) & ~np.isnan(horizon_log_return(closes, DEFAULT_HORIZON)))
    return features[usable[-250:]]


@pytest.mark.parametrize("commodity", ["corn", "wheat", "soybeans"])
def test_parity_with_xgboost_on_the_held_out_window(trained, commodity):
    raw = trained[commodity].model
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    features = held_out(commodity, MODEL_AS_OF)
    expected = booster.inplace_predict(features)
    got = Forest.from_json(raw).predict(features)
    assert np.max(np.abs(got - expected)) <= PARITY, "the evaluator must reproduce XGBoost's predictions"
    # Versions published before the switch to JSON are UBJSON: the same trees, the same predictions.
    assert np.array_equal(Forest.from_ubj(bytes(booster.save_raw("ubj"))).predict(features), got)


def test_parity_with_missing_values_and_deep_trees():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 14))
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + rng.normal(scale=0.1, size=3000)
    x[rng.random(x.shape) < 0.08] = np.nan
    model = xgb.XGBRegressor(n_estimators=120, max_depth=7, learning_rate=0.1, random_state=1).fit(x, y)
    probe = rng.normal(size=(1000, 14))
    probe[rng.random(probe.shape) < 0.15] = np.nan
    for forest in (Forest.from_json(bytes(model.get_booster().save_raw("json"))), Forest.from_ubj(bytes(model.get_booster().save_raw("ubj")))):
        assert forest.depth == 7
        assert np.max(np.abs(forest.predict(probe) - model.get_booster().inplace_predict(probe))) <= PARITY


def _document(**changes):
    x = np.random.default_rng(0).normal(size=(200, 3))
    model = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(x, x[:, 0])
    document = json.loads(bytes(model.get_booster().save_raw("json")))
    for path, value in changes.items():
        target = document
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    return document


@pytest.mark.parametrize("changes, message", [
    ({"version": [1, 7, 6]}, "this reader supports major versions"),
    ({"learner.objective.name": "binary:logistic"}, "is not a regression with an identity link"),
    ({"learner.gradient_booster.name": "gblinear"}, "booster gblinear is not gbtree"),
    ({"learner.learner_model_param.num_target": "2"}, "only single-target regression"),
])
def test_unsupported_models_are_refused_clearly(changes, message):
    with pytest.raises(UnsupportedModel, match=message):
        Forest.from_model(_document(**changes))


def test_refuses_a_wrongly_shaped_feature_matrix():
    forest = Forest.from_model(_document())
    with pytest.raises(ValueError, match="expected a matrix with 3 columns, got shape"):
        forest.predict(np.zeros((1, 4)))


def test_refuses_truncated_model_files():
    x = np.random.default_rng(0).normal(size=(200, 3))
    raw = bytes(xgb.XGBRegressor(n_estimators=2).fit(x, x[:, 0]).get_booster().save_raw("ubj"))
    with pytest.raises(UnsupportedModel, match="ends in the middle of a value"):
        Forest.from_ubj(raw[: len(raw) // 2])
