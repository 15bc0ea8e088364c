"""The one feature function: correct against pandas, and identical for training and serving."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from common.features import DEFAULT_HORIZON, FEATURE_NAMES, LOOKBACK, feature_matrix, horizon_log_return
from demo.prices import generate


@pytest.fixture(scope="module")
def history():
    rows = generate("corn", date(2024, 6, 28))
    return np.array([r.date for r in rows], dtype="datetime64[D]"), np.array([r.close for r in rows])


def test_shape_and_lookback(history):
    dates, closes = history
    matrix = feature_matrix(dates, closes)
    assert matrix.shape == (len(closes), len(FEATURE_NAMES))
    assert np.isnan(matrix[:LOOKBACK]).all(), "rows without a full lookback must be NaN"
    assert not np.isnan(matrix[LOOKBACK:]).any(), "every row after the lookback must be complete"


def test_features_match_an_independent_pandas_computation(history):
    dates, closes = history
    matrix = pd.DataFrame(feature_matrix(dates, closes), columns=FEATURE_NAMES)
    series = pd.Series(closes)
    log_close = np.log(series)
    daily = log_close.diff()
    expected = {
        "log_return_5d": log_close - log_close.shift(5),
        "log_gap_to_ma_20d": log_close - np.log(series.rolling(20).mean()),
        "volatility_10d": daily.rolling(10).std(),
        "range_20d": np.log(series.rolling(20).max() / series.rolling(20).min()),
        "season_sin": np.sin(2 * np.pi * (pd.to_datetime(dates).day_of_year - 1) / 365.25),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(matrix[name][LOOKBACK:], values[LOOKBACK:], rtol=1e-9, atol=1e-12, err_msg=name)


def test_serving_window_gives_exactly_the_training_features(history):
    """The predictor computes features on its last LOOKBACK + 1 rows; the trainer on all history.
    The newest row must be identical, or the model would see skewed inputs in production."""
    dates, closes = history
    for end in (LOOKBACK + 1, 500, len(closes)):
        full = feature_matrix(dates[:end], closes[:end])[-1]
        window = feature_matrix(dates[end - LOOKBACK - 1:end], closes[end - LOOKBACK - 1:end])[-1]
        np.testing.assert_array_equal(window, full)


def test_target_looks_exactly_horizon_rows_ahead(history):
    _, closes = history
    target = horizon_log_return(closes, DEFAULT_HORIZON)
    assert np.isnan(target[-DEFAULT_HORIZON:]).all()
    assert target[10] == pytest.approx(np.log(closes[10 + DEFAULT_HORIZON] / closes[10]))


def test_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="equally long"):
        feature_matrix(np.array(["2024-01-02"], dtype="datetime64[D]"), np.array([1.0, 2.0]))
