"""The trainer's work, as plain functions: fit XGBoost on one commodity's history with time-ordered
validation, score it against the naive last-value forecast on a held-out window, and publish it —
moving `latest.json` only when it wins."""

from __future__ import annotations

import hashlib
import io
import platform
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import xgboost as xgb
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error
from sklearn.model_selection import TimeSeriesSplit

from common import storage
from common.environment import WorkloadEnvironment
from common.errors import CorruptObject
from common.features import DEFAULT_HORIZON, FEATURE_NAMES, LOOKBACK, feature_matrix, horizon_log_return
from common.schema import PriceRow, check_window, validate_history

HOLDOUT_ROWS = 250
"""Trading days (about a year) held out, newest last, to score the model against the naive forecast."""
MIN_TRAINING_ROWS = 500
CANDIDATES = (
    {"n_estimators": 400, "max_depth": 2, "learning_rate": 0.02, "min_child_weight": 20, "subsample": 0.7, "colsample_bytree": 0.7},
    {"n_estimators": 200, "max_depth": 2, "learning_rate": 0.05, "min_child_weight": 10, "reg_lambda": 5.0, "subsample": 0.8},
    {"n_estimators": 300, "max_depth": 3, "learning_rate": 0.03, "min_child_weight": 10, "subsample": 0.8, "colsample_bytree": 0.8},
)
"""Small grid chosen between by time-ordered cross-validation on the training window."""
SEED = 7


@dataclass(frozen=True)
class TrainingResult:
    commodity: str
    version: str
    model: bytes
    metadata: dict[str, Any]
    backtest: pd.DataFrame

    @property
    def beats_naive(self) -> bool:
        return bool(self.metadata["metrics"]["beats_naive"])

    @property
    def promote(self) -> bool:
        return bool(self.metadata["promotion"]["promote"])


@dataclass(frozen=True)
class Serving:
    """What serves now (from latest.json and its metadata): its version, `as_of` and configuration."""

    version: str
    as_of: date
    params: dict[str, Any]


def promotion(metrics: dict[str, Any], *, as_of: date, serving: Serving | None, allow_older: bool) -> dict[str, Any]:
    """Whether a candidate replaces what serves, and why. It must beat the naive forecast (by more than
    `min_improvement`) and not lose to the serving configuration refit on the same training window and
    scored on the same held-out window (a tie is the same configuration on newer data). A run for an
    `as_of` older than the serving model's never replaces it unless the event says `allow_older`. The
    comparison is one place, so a significance test can take the place of `<=` here."""
    reasons = []
    if not metrics["beats_naive"]:
        reasons.append(f"MAE {metrics['model_mae']:.4f} does not beat the naive forecast's {metrics['naive_mae']:.4f} by more than {metrics['min_improvement']:.1%}")
    if serving is not None and metrics["serving_mae"] < metrics["model_mae"]:
        reasons.append(f"MAE {metrics['model_mae']:.4f} loses to the serving configuration's {metrics['serving_mae']:.4f} on the same window")
    older = serving is not None and as_of < serving.as_of
    if older and not allow_older:
        reasons.append(f"as_of {as_of} is older than the serving model's {serving.as_of} (set allow_older to promote it anyway)")
    return {
        "promote": not reasons,
        "reasons": reasons or ["beats the naive forecast and the serving configuration"],
        "compared_with": serving.version if serving else None,
        "older_than_serving": older,
    }


def train(
    commodity: str, rows: list[PriceRow], *, as_of: date, now: datetime, min_improvement: float, horizon: int = DEFAULT_HORIZON,
    serving: Serving | None = None, allow_older: bool = False,
) -> TrainingResult:
    """Select, fit and score a model forecasting `horizon` trading days ahead on `rows` (validated history
    up to `as_of`)."""
    validate_history(
        rows, commodity=commodity, as_of=as_of, max_age_days=None,
        min_rows=LOOKBACK + MIN_TRAINING_ROWS + HOLDOUT_ROWS + 2 * horizon,
    )
    frame = pd.DataFrame({"date": pd.to_datetime([r.date for r in rows]), "close": [r.close for r in rows]})
    dates = frame["date"].to_numpy(dtype="datetime64[D]")
    closes = frame["close"].to_numpy(dtype=np.float64)
    features = feature_matrix(dates, closes)
    target = horizon_log_return(closes, horizon)
    usable = np.flatnonzero(~np.isnan(features).any(axis=1) & ~np.isnan(target))
    holdout = usable[-HOLDOUT_ROWS:]
    # The gap keeps training targets (which look `horizon` rows ahead) out of the held-out window.
    training = usable[usable < holdout[0] - horizon]

    params = _select_params(features[training], target[training], horizon)
    candidate = _fit(params, features[training], target[training])
    predicted = closes[holdout] * np.exp(candidate.predict(features[holdout]))
    actual = closes[holdout + horizon]
    naive = closes[holdout]
    metrics = {
        "model_mae": float(mean_absolute_error(actual, predicted)),
        "model_mape": float(mean_absolute_percentage_error(actual, predicted)),
        "naive_mae": float(mean_absolute_error(actual, naive)),
        "naive_mape": float(mean_absolute_percentage_error(actual, naive)),
    }
    metrics["improvement"] = 1 - metrics["model_mae"] / metrics["naive_mae"]
    metrics["min_improvement"] = min_improvement
    metrics["beats_naive"] = metrics["improvement"] > min_improvement
    if serving is not None:
        # The serving model was refit on everything it knew; its configuration refit on this training window
        # forecasts the same held-out window without having seen it.
        refit = _fit(serving.params, features[training], target[training])
        metrics["serving_mae"] = float(mean_absolute_error(actual, closes[holdout] * np.exp(refit.predict(features[holdout]))))
    decision = promotion(metrics, as_of=as_of, serving=serving, allow_older=allow_older)

    # Scored as above; the published model is the same configuration refit on every known target.
    final = _fit(params, features[usable], target[usable])
    model = bytes(final.get_booster().save_raw("ubj"))
    # A version names exactly these bytes: a re-run for the same date on other data gets a folder of its
    # own, so nothing a pointer references is ever overwritten (an identical retry writes the same key).
    model_sha256 = hashlib.sha256(model).hexdigest()
    version = f"{as_of.isoformat()}-{model_sha256[:12]}"
    backtest = pd.DataFrame({
        "date": frame["date"].iloc[holdout].dt.date.astype(str).to_numpy(),
        "close": naive,
        "target_date": frame["date"].iloc[holdout + horizon].dt.date.astype(str).to_numpy(),
        "actual": actual,
        "predicted": np.round(predicted, 4),
        "naive": naive,
    })
    metadata = {
        "commodity": commodity,
        "version": version,
        "trained_at": now.isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "features": list(FEATURE_NAMES),
        "horizon": horizon,
        "lookback": LOOKBACK,
        "target": f"log(close[t+{horizon}] / close[t])",
        "params": params,
        "training_window": _window(dates, training),
        "holdout_window": _window(dates, holdout),
        "final_fit_window": _window(dates, usable),
        "metrics": metrics,
        "promotion": decision,
        "libraries": {
            "python": platform.python_version(),
            "xgboost": xgb.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "model_sha256": model_sha256,
        "model_format": "xgboost-ubj",
    }
    return TrainingResult(commodity, version, model, metadata, backtest)


def publish(s3, env: WorkloadEnvironment, result: TrainingResult) -> dict[str, Any]:
    """Write model, backtest and metadata once each (S3 conditional writes: an object that exists is never
    replaced), then move `latest.json` only when the model beats the naive forecast. The pointer is
    written last, so a crash at any step leaves it naming a complete, unchanged model."""
    folder = storage.model_folder(env.models_prefix, result.commodity, result.version)
    model_key, metadata_key, backtest_key = f"{folder}model.ubj", f"{folder}metadata.json", f"{folder}backtest.csv"
    metadata = {**result.metadata, "model_key": model_key, "promoted": result.promote}
    storage.put_once(s3, env.data_bucket, model_key, result.model, "application/octet-stream", same_bytes_required=True)
    buffer = io.StringIO()
    result.backtest.to_csv(buffer, index=False)
    storage.put_once(s3, env.data_bucket, backtest_key, buffer.getvalue().encode(), "text/csv")
    storage.put_once(s3, env.data_bucket, metadata_key, storage.json_bytes(metadata), "application/json")
    pointer = {
        "version": result.version,
        "model_key": model_key,
        "metadata_key": metadata_key,
        "sha256": metadata["model_sha256"],
        "trained_at": metadata["trained_at"],
    }
    if result.promote:
        storage.put_json(s3, env.data_bucket, storage.latest_key(env.models_prefix, result.commodity), pointer)
    return {
        "commodity": result.commodity,
        "version": result.version,
        "promoted": result.promote,
        "promotion": result.metadata["promotion"]["reasons"],
        "model_key": model_key,
        **{name: round(value, 6) if isinstance(value, float) else value for name, value in result.metadata["metrics"].items()},
    }


def read_serving(s3, env: WorkloadEnvironment, commodity: str) -> Serving | None:
    """The model serving now, or None before the first promotion."""
    pointer = storage.read_latest_pointer_or_none(s3, env.data_bucket, env.models_prefix, commodity)
    if pointer is None:
        return None
    metadata = storage.get_json(s3, env.data_bucket, pointer["metadata_key"], required=("as_of", "version"))
    if metadata is None or not isinstance(metadata.get("params"), dict):
        raise CorruptObject(f"s3://{env.data_bucket}/{pointer['metadata_key']} (named by latest.json) is missing or has no params")
    try:
        return Serving(version=pointer["version"], as_of=date.fromisoformat(metadata["as_of"]), params=metadata["params"])
    except ValueError:
        raise CorruptObject(f"s3://{env.data_bucket}/{pointer['metadata_key']}: as_of {metadata['as_of'][:40]!r} is not a date") from None


def read_history(s3, env: WorkloadEnvironment, commodity: str, as_of: date) -> tuple[list[PriceRow], list[str]]:
    """Validated history up to `as_of`, and the stray keys under the commodity's prefix (never read; the
    handler logs and counts them)."""
    years, stray = storage.price_years(s3, env.data_bucket, env.prices_prefix, commodity)
    rows = storage.read_prices(s3, env.data_bucket, env.prices_prefix, commodity, first_year=years[0], until=as_of)
    validate_history(rows, commodity=commodity, as_of=as_of, max_age_days=env.max_price_age_days, min_rows=1)
    check_window(rows[-(LOOKBACK + 1):], commodity=commodity)
    return rows, stray


def _select_params(features: np.ndarray, target: np.ndarray, horizon: int) -> dict[str, Any]:
    """The candidate with the lowest mean absolute error across time-ordered folds."""
    folds = TimeSeriesSplit(n_splits=4, gap=horizon)
    scores = []
    for params in CANDIDATES:
        errors = [
            mean_absolute_error(target[test], _fit(params, features[train], target[train]).predict(features[test]))
            for train, test in folds.split(features)
        ]
        scores.append(float(np.mean(errors)))
    return dict(CANDIDATES[int(np.argmin(scores))])


def _fit(params: dict[str, Any], features: np.ndarray, target: np.ndarray) -> xgb.XGBRegressor:
    model = xgb.XGBRegressor(objective="reg:squarederror", random_state=SEED, n_jobs=1, **params)
    model.fit(features, target)
    return model


def _window(dates: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    return {"first": str(dates[rows[0]]), "last": str(dates[rows[-1]]), "rows": int(len(rows))}
