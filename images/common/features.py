"""The one feature function, used by the trainer on years of history and by the predictor on the
last few months, so training and serving can never compute different features.

Numpy only: the predictor image carries no pandas.
"""

from __future__ import annotations

import numpy as np

from common.contract import FORECAST_HORIZON_DAYS

DEFAULT_HORIZON = int(FORECAST_HORIZON_DAYS.default)
"""Trading days ahead the model forecasts unless the stack says otherwise (FORECAST_HORIZON_DAYS)."""
RETURN_LAGS = (1, 5, 10, 20)
MOVING_AVERAGES = (10, 20, 60)
VOLATILITY_WINDOWS = (10, 20)
LOOKBACK = max(MOVING_AVERAGES + RETURN_LAGS + tuple(w + 1 for w in VOLATILITY_WINDOWS))
"""Rows of history before the first row whose features are complete."""
FEATURE_NAMES = (
    *(f"log_return_{lag}d" for lag in RETURN_LAGS),
    *(f"log_gap_to_ma_{window}d" for window in MOVING_AVERAGES),
    *(f"volatility_{window}d" for window in VOLATILITY_WINDOWS),
    "range_20d",
    "season_sin",
    "season_cos",
)


def feature_matrix(dates: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """Features for every row, shape (rows, len(FEATURE_NAMES)); rows without a full lookback are NaN.

    `dates` are numpy datetime64[D] trading dates in increasing order, `closes` positive prices.
    """
    closes = np.asarray(closes, dtype=np.float64)
    dates = np.asarray(dates, dtype="datetime64[D]")
    if closes.ndim != 1 or closes.shape != dates.shape:
        raise ValueError(f"dates and closes must be 1-D and equally long, got {dates.shape} and {closes.shape}")
    log_close = np.log(closes)
    daily = np.full_like(log_close, np.nan)
    daily[1:] = np.diff(log_close)
    columns = [_lagged_difference(log_close, lag) for lag in RETURN_LAGS]
    columns += [log_close - np.log(_rolling(closes, window, np.mean)) for window in MOVING_AVERAGES]
    columns += [_rolling(daily, window, lambda w, axis: np.std(w, axis=axis, ddof=1)) for window in VOLATILITY_WINDOWS]
    columns.append(np.log(_rolling(closes, 20, np.max) / _rolling(closes, 20, np.min)))
    angle = 2 * np.pi * _day_of_year(dates) / 365.25
    columns += [np.sin(angle), np.cos(angle)]
    matrix = np.column_stack(columns)
    matrix[:LOOKBACK] = np.nan
    return matrix


def horizon_log_return(closes: np.ndarray, horizon: int) -> np.ndarray:
    """Training target: log(close[t + horizon] / close[t]); NaN where the future is not known yet."""
    log_close = np.log(np.asarray(closes, dtype=np.float64))
    target = np.full_like(log_close, np.nan)
    target[:-horizon] = log_close[horizon:] - log_close[:-horizon]
    return target


def _lagged_difference(values: np.ndarray, lag: int) -> np.ndarray:
    out = np.full_like(values, np.nan)
    out[lag:] = values[lag:] - values[:-lag]
    return out


def _rolling(values: np.ndarray, window: int, reduce) -> np.ndarray:
    out = np.full_like(values, np.nan)
    if len(values) >= window:
        windows = np.lib.stride_tricks.sliding_window_view(values, window)
        out[window - 1:] = reduce(windows, axis=1)
    return out


def _day_of_year(dates: np.ndarray) -> np.ndarray:
    years = dates.astype("datetime64[Y]")
    return (dates - years.astype("datetime64[D]")).astype(np.float64)
