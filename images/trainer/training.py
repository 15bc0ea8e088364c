"""The trainer's work, as plain functions: fit XGBoost on one commodity's history with time-ordered
validation, compare it out of sample with the naive last-value forecast and with what serves (a
Diebold–Mariano test, trainer/skill.py), calibrate both methods' prediction intervals, and publish —
`latest.json` always names a method: the model only when it is significantly better, else the naive
forecast."""

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
from common import intervals as interval_methods
from common.contract import FORECAST_METHODS, INTERVAL_LEVELS, SIGNIFICANCE_LEVEL
from common.environment import WorkloadEnvironment
from common.dry_run import DryRunReport, prove_object_write
from common.errors import CorruptObject, InsufficientData, PricesNotFound
from common.events import TrainingRequest
from common.features import DEFAULT_HORIZON, FEATURE_NAMES, LOOKBACK, feature_matrix, horizon_log_return
from common.schema import PriceRow, check_window, validate_history
from trainer import skill

CALIBRATION_ROWS = 250
"""Trading days (about a year) of out-of-sample forecasts whose errors calibrate the prediction intervals."""
COVERAGE_ROWS = 250
"""The following, newest trading days, on which the intervals' coverage is measured (never calibrated on)."""
EVALUATION_ROWS = CALIBRATION_ROWS + COVERAGE_ROWS
"""Out-of-sample forecasts (both windows) on which methods are compared by the Diebold–Mariano test."""
MIN_TRAINING_ROWS = 500
CANDIDATES = (
    {"n_estimators": 400, "max_depth": 2, "learning_rate": 0.02, "min_child_weight": 20, "subsample": 0.7, "colsample_bytree": 0.7},
    {"n_estimators": 200, "max_depth": 2, "learning_rate": 0.05, "min_child_weight": 10, "reg_lambda": 5.0, "subsample": 0.8},
    {"n_estimators": 300, "max_depth": 3, "learning_rate": 0.03, "min_child_weight": 10, "subsample": 0.8, "colsample_bytree": 0.8},
)
"""Small grid chosen between by time-ordered cross-validation on the training window."""
SEED = 7
NAIVE_FORMAT = "naive-json"
"""`model_format` of a naive version: its "model" is a small JSON document (method, horizon, intervals)."""


@dataclass(frozen=True)
class NaiveVersion:
    """A write-once naive version: the last close carried forward, with its own intervals and metrics."""

    version: str
    spec: bytes
    metadata: dict[str, Any]


@dataclass(frozen=True)
class TrainingResult:
    """One run: the model it fitted (always stored, served only when the decision says so) and, when the
    naive forecast is to serve, the naive version it publishes instead."""

    commodity: str
    version: str
    model: bytes
    metadata: dict[str, Any]
    backtest: pd.DataFrame
    naive: NaiveVersion | None = None

    @property
    def beats_naive(self) -> bool:
        return bool(self.metadata["metrics"]["beats_naive"])

    @property
    def serves(self) -> str:
        """What latest.json names after this run: "model" (this run's model), "naive" (this run's naive
        version) or "unchanged"."""
        return str(self.metadata["promotion"]["serves"])

    @property
    def promote(self) -> bool:
        """The pointer moves to this run's model."""
        return self.serves == "model"


@dataclass(frozen=True)
class Serving:
    """What serves now (from latest.json and its metadata): version, `as_of`, method, and for a model its
    configuration."""

    version: str
    as_of: date
    method: str = "model"
    params: dict[str, Any] | None = None


def promotion(
    metrics: dict[str, Any], tests: dict[str, skill.Comparison], *, as_of: date, serving: Serving | None,
    allow_older: bool, significance: float,
) -> dict[str, Any]:
    """What serves after this run, and why; one place, pure, so every rule is tested directly.

    - Nothing or the naive forecast serves: the model replaces it only when it is significantly better
      (one-sided Diebold–Mariano p-value below `significance`) *and* its MAE improvement exceeds
      `min_improvement`; otherwise the naive forecast serves (refreshed: newer intervals and metrics).
    - A model serves: the model (the serving configuration refit on newer data, or a configuration that
      was significantly better than it) keeps serving unless the naive forecast is significantly better
      than it on the newest window; then the naive forecast replaces it (a demotion, logged and counted).
    - A run for an `as_of` older than the serving version's changes nothing unless `allow_older`."""
    beats, loses = tests["model_vs_naive"], tests["naive_vs_model"]
    p_beats, p_loses = f"p = {beats.p_value:.3g}", f"p = {loses.p_value:.3g}"
    demoted = False
    if serving is None or serving.method == "naive":
        if not beats.significant(significance):
            serves, reason = "naive", f"the model is not significantly better than the naive forecast ({p_beats} ≥ {significance:g})"
        elif metrics["improvement"] <= metrics["min_improvement"]:
            serves, reason = "naive", (
                f"the model's MAE improvement {metrics['improvement']:.2%} does not exceed min_improvement {metrics['min_improvement']:.2%}"
            )
        else:
            serves, reason = "model", f"the model is significantly better than the naive forecast ({p_beats} < {significance:g})"
    elif loses.significant(significance):
        serves, demoted = "naive", True
        reason = f"the naive forecast is significantly better than the serving model's configuration ({p_loses} < {significance:g})"
    else:
        serves, reason = "model", f"the naive forecast is not significantly better than the model ({p_loses}); the model is refreshed"
    reasons = [reason]
    older = serving is not None and as_of < serving.as_of
    if older and not allow_older:
        reasons.append(f"as_of {as_of} is older than the serving version's {serving.as_of} (set allow_older to promote it anyway)")
        serves, demoted = "unchanged", False
    return {
        "serves": serves,
        "promote": serves == "model",
        "demoted": demoted,
        "reasons": reasons,
        "significance_level": significance,
        "compared_with": serving.version if serving else None,
        "serving_method_before": serving.method if serving else None,
        "older_than_serving": older,
    }


@dataclass(frozen=True)
class _History:
    """One commodity's history as arrays, and the rows each step uses."""

    frame: pd.DataFrame
    dates: np.ndarray
    closes: np.ndarray
    features: np.ndarray
    target: np.ndarray
    usable: np.ndarray
    """Rows with complete features and a known target."""
    evaluation: np.ndarray
    """The newest EVALUATION_ROWS usable rows: forecast out of sample, calibration then coverage."""
    training: np.ndarray
    """Usable rows before the evaluation, with a gap so no training target looks into it."""
    horizon: int

    @classmethod
    def of(cls, rows: list[PriceRow], horizon: int) -> "_History":
        frame = pd.DataFrame({"date": pd.to_datetime([r.date for r in rows]), "close": [r.close for r in rows]})
        dates = frame["date"].to_numpy(dtype="datetime64[D]")
        closes = frame["close"].to_numpy(dtype=np.float64)
        features, target = feature_matrix(dates, closes), horizon_log_return(closes, horizon)
        usable = np.flatnonzero(~np.isnan(features).any(axis=1) & ~np.isnan(target))
        evaluation = usable[-EVALUATION_ROWS:]
        training = usable[usable < evaluation[0] - horizon]
        return cls(frame, dates, closes, features, target, usable, evaluation, training, horizon)

    @property
    def current(self) -> np.ndarray:
        return self.closes[self.evaluation]

    @property
    def actual(self) -> np.ndarray:
        return self.closes[self.evaluation + self.horizon]

    def out_of_sample(self, params: dict[str, Any]) -> np.ndarray:
        """Prices forecast for the evaluation rows by `params` fitted on the training rows only."""
        model = _fit(params, self.features[self.training], self.target[self.training])
        return self.current * np.exp(model.predict(self.features[self.evaluation]))

    def windows(self) -> dict[str, dict[str, Any]]:
        return {
            "training_window": _window(self.dates, self.training),
            "calibration_window": _window(self.dates, self.evaluation[:CALIBRATION_ROWS]),
            "coverage_window": _window(self.dates, self.evaluation[CALIBRATION_ROWS:]),
            "final_fit_window": _window(self.dates, self.usable),
        }

    def backtest(self, predicted: np.ndarray, served: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
        """The evaluation rows' forecasts, and per method and level the adaptive log half-width the walk
        served on each coverage day (empty on calibration days)."""
        dates = self.frame["date"]
        widths = {
            f"{method}_half_width_{level}": np.round(np.concatenate([np.full(CALIBRATION_ROWS, np.nan), values]), 6)
            for method, by_level in served.items() for level, values in by_level.items()
        }
        return pd.DataFrame({
            "date": dates.iloc[self.evaluation].dt.date.astype(str).to_numpy(),
            "window": ["calibration"] * CALIBRATION_ROWS + ["coverage"] * (len(self.evaluation) - CALIBRATION_ROWS),
            "close": self.current,
            "target_date": dates.iloc[self.evaluation + self.horizon].dt.date.astype(str).to_numpy(),
            "actual": self.actual,
            "predicted": np.round(predicted, 4),
            "naive": self.current,
            **widths,
        })


def train(
    commodity: str, rows: list[PriceRow], *, as_of: date, now: datetime, min_improvement: float, horizon: int = DEFAULT_HORIZON,
    serving: Serving | None = None, allow_older: bool = False, significance: float = SIGNIFICANCE_LEVEL.default,
) -> TrainingResult:
    """Select, fit and score a model forecasting `horizon` trading days ahead on `rows` (validated history
    up to `as_of`), compare it with the naive forecast and with what serves, and calibrate both methods'
    intervals."""
    validate_history(
        rows, commodity=commodity, as_of=as_of, max_age_days=None,
        min_rows=LOOKBACK + MIN_TRAINING_ROWS + EVALUATION_ROWS + 2 * horizon,
    )
    history = _History.of(rows, horizon)
    selected = _select_params(history.features[history.training], history.target[history.training], horizon)
    params, configuration, tests, predicted, serving_mae = _configuration(selected, serving, history, significance)
    metrics = _score(history, predicted, tests, min_improvement=min_improvement, significance=significance, serving_mae=serving_mae)
    decision = promotion(metrics, tests, as_of=as_of, serving=serving, allow_older=allow_older, significance=significance)
    common = {
        "commodity": commodity,
        "trained_at": now.isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "horizon": horizon,
        "lookback": LOOKBACK,
        "target": f"close[t+{horizon}]",
        **history.windows(),
        "metrics": metrics,
        "tests": {name: test.as_dict() for name, test in tests.items()},
        "promotion": decision,
        "libraries": _libraries(),
    }
    model_intervals, model_widths = _intervals(history, predicted)
    naive_intervals, naive_widths = _intervals(history, history.current)
    version, model, metadata = _model_version(history, params, configuration, common, model_intervals)
    naive = _naive_version(common, naive_intervals) if decision["serves"] == "naive" else None
    backtest = history.backtest(predicted, {"model": model_widths, "naive": naive_widths})
    return TrainingResult(commodity, version, model, metadata, backtest, naive)


def _score(history: _History, predicted: np.ndarray, tests: dict, *, min_improvement: float, significance: float, serving_mae) -> dict[str, Any]:
    """MAE and MAPE of both methods on the evaluation rows, and the two one-sided tests between them
    (added to `tests`)."""
    actual, current = history.actual, history.current
    model_errors, naive_errors = actual - predicted, actual - current
    tests["model_vs_naive"] = skill.diebold_mariano(model_errors, naive_errors, horizon=history.horizon, better="model", worse="naive")
    tests["naive_vs_model"] = skill.diebold_mariano(naive_errors, model_errors, horizon=history.horizon, better="naive", worse="model")
    metrics = {
        "model_mae": float(mean_absolute_error(actual, predicted)),
        "model_mape": float(mean_absolute_percentage_error(actual, predicted)),
        "naive_mae": float(mean_absolute_error(actual, current)),
        "naive_mape": float(mean_absolute_percentage_error(actual, current)),
    }
    metrics["improvement"] = 1 - metrics["model_mae"] / metrics["naive_mae"]
    metrics["min_improvement"] = min_improvement
    metrics["p_value"] = tests["model_vs_naive"].p_value
    metrics["beats_naive"] = tests["model_vs_naive"].significant(significance) and metrics["improvement"] > min_improvement
    if serving_mae is not None:
        metrics["serving_mae"] = serving_mae
    return metrics


def _model_version(history: _History, params, configuration: str, common: dict, intervals: dict) -> tuple[str, bytes, dict]:
    """Scored as above, the published model is the same configuration refit on every known target. A
    version names exactly these bytes: a re-run for the same date on other data gets a folder of its
    own, so nothing a pointer references is ever overwritten (an identical retry writes the same key)."""
    final = _fit(params, history.features[history.usable], history.target[history.usable])
    model = bytes(final.get_booster().save_raw("json"))
    model_sha256 = hashlib.sha256(model).hexdigest()
    version = f"{common['as_of']}-{model_sha256[:12]}"
    metadata = {
        **common,
        "version": version,
        "method": "model",
        "features": list(FEATURE_NAMES),
        "model_target": f"log(close[t+{history.horizon}] / close[t])",
        "params": params,
        "configuration": configuration,
        "intervals": intervals,
        "model_sha256": model_sha256,
        "model_format": storage.MODEL_FORMAT,
    }
    return version, model, metadata


def _configuration(selected: dict, serving: Serving | None, history: _History, significance: float):
    """The configuration to fit: the one cross-validation selected, unless a model serves with another
    configuration that the selected one is not significantly better than (then the serving one, refit on
    newer data: a method changes only on evidence). Returns it, a description, the tests made, its
    out-of-sample forecasts, and the serving configuration's MAE on the same rows (None when no model
    serves)."""
    actual = history.actual
    forecasts = history.out_of_sample(selected)
    if serving is None or serving.method != "model":
        return selected, "selected by time-ordered cross-validation", {}, forecasts, None
    if serving.params == selected:
        return selected, "selected by time-ordered cross-validation; the serving configuration", {}, forecasts, float(mean_absolute_error(actual, forecasts))
    serving_forecasts = history.out_of_sample(serving.params)
    test = skill.diebold_mariano(actual - forecasts, actual - serving_forecasts, horizon=history.horizon, better="selected", worse="serving")
    serving_mae = float(mean_absolute_error(actual, serving_forecasts))
    if test.significant(significance):
        return selected, "selected by time-ordered cross-validation; significantly better than the serving configuration", {"selected_vs_serving": test}, forecasts, serving_mae
    return serving.params, "the serving configuration refit on newer data (the selected one was not significantly better)", {"selected_vs_serving": test}, serving_forecasts, serving_mae


def _intervals(history: _History, predicted: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Both interval methods for forecasts `predicted` at the evaluation rows. Served: adaptive
    (common/intervals.py), calibrated on the calibration window's normalised errors and walked day by day
    through the coverage window as the predictor would serve it; its coverage there, and its state at
    the newest close, are recorded. Kept beside it: the fixed half-widths (what an earlier predictor
    serves after a rollback, and the fallback) and their coverage on the same window. Also returns the
    adaptive half-width of each coverage day (for backtest.csv)."""
    log_errors = np.log(history.actual / predicted)
    widths, fixed_coverage = skill.intervals(log_errors[:CALIBRATION_ROWS], log_errors[CALIBRATION_ROWS:])
    adaptive, measured, served = interval_methods.calibrate(
        history.closes, history.evaluation, history.actual, predicted, horizon=history.horizon, levels=INTERVAL_LEVELS,
        state_date=str(history.dates[-1]), calibration_rows=CALIBRATION_ROWS,
    )
    return {
        "method": interval_methods.ADAPTIVE,
        "log_half_width": widths,
        "fixed_coverage": fixed_coverage,
        **measured,
        "adaptive": adaptive.as_dict(),
    }, served


def _naive_version(common: dict[str, Any], intervals: dict[str, Any]) -> NaiveVersion:
    """The naive forecast as a version of its own: a small spec (what the predictor needs: horizon and
    intervals, adaptive calibration included) whose sha256 names it, and metadata with the run's metrics, tests and decision. Deterministic for the same run
    inputs, so a retry writes the same keys."""
    spec = storage.json_bytes({
        "method": "naive",
        "commodity": common["commodity"],
        "as_of": common["as_of"],
        "horizon": common["horizon"],
        "intervals": {"log_half_width": intervals["log_half_width"], "adaptive": intervals["adaptive"]},
    })
    sha256 = hashlib.sha256(spec).hexdigest()
    version = f"{common['as_of']}-naive-{sha256[:12]}"
    metadata = {
        **common,
        "version": version,
        "method": "naive",
        "features": [],
        "intervals": intervals,
        "model_sha256": sha256,
        "model_format": NAIVE_FORMAT,
    }
    return NaiveVersion(version, spec, metadata)


def _libraries() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "xgboost": xgb.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
    }


def publish(s3, env: WorkloadEnvironment, result: TrainingResult) -> dict[str, Any]:
    """Write the model's files once each (S3 conditional writes: an object that exists is never
    replaced), and the naive version's when it is to serve; then move `latest.json` as the decision
    says. The pointer is written last, so a crash at any step leaves it naming a complete, unchanged
    version."""
    folder = storage.model_folder(env.models_prefix, result.commodity, result.version)
    model_key, metadata_key, backtest_key = f"{folder}{storage.MODEL_FILE}", f"{folder}metadata.json", f"{folder}backtest.csv"
    metadata = {**result.metadata, "model_key": model_key, "promoted": result.promote}
    storage.put_once(s3, env.data_bucket, model_key, result.model, "application/octet-stream", same_bytes_required=True)
    buffer = io.StringIO()
    result.backtest.to_csv(buffer, index=False)
    backtest = buffer.getvalue().encode()
    storage.put_once(s3, env.data_bucket, backtest_key, backtest, "text/csv")
    storage.put_once(s3, env.data_bucket, metadata_key, storage.json_bytes(metadata), "application/json")
    pointer = {"version": result.version, "method": "model", "model_key": model_key, "metadata_key": metadata_key, "sha256": metadata["model_sha256"]}
    if result.naive is not None:
        naive_folder = storage.model_folder(env.models_prefix, result.commodity, result.naive.version)
        spec_key, naive_metadata_key = f"{naive_folder}naive.json", f"{naive_folder}metadata.json"
        naive_metadata = {**result.naive.metadata, "model_key": spec_key, "promoted": result.serves == "naive"}
        storage.put_once(s3, env.data_bucket, spec_key, result.naive.spec, "application/json", same_bytes_required=True)
        storage.put_once(s3, env.data_bucket, f"{naive_folder}backtest.csv", backtest, "text/csv")
        storage.put_once(s3, env.data_bucket, naive_metadata_key, storage.json_bytes(naive_metadata), "application/json")
        naive_pointer = {"version": result.naive.version, "method": "naive", "model_key": spec_key, "metadata_key": naive_metadata_key, "sha256": naive_metadata["model_sha256"]}
    if result.serves != "unchanged":
        chosen = pointer if result.serves == "model" else naive_pointer
        storage.put_json(s3, env.data_bucket, storage.latest_key(env.models_prefix, result.commodity), {**chosen, "trained_at": metadata["trained_at"]})
    decision = result.metadata["promotion"]
    return {
        "commodity": result.commodity,
        "version": result.version,
        "promoted": result.promote,
        "serves": result.serves,
        "serving_version": {"model": result.version, "naive": result.naive.version if result.naive else None}.get(result.serves),
        "demoted": decision["demoted"],
        "promotion": decision["reasons"],
        "configuration": result.metadata["configuration"],
        "p_values": {name: test["p_value"] for name, test in result.metadata["tests"].items()},
        "model_key": model_key,
        **{name: round(value, 6) if isinstance(value, float) else value for name, value in result.metadata["metrics"].items()},
    }


def read_serving(s3, env: WorkloadEnvironment, commodity: str) -> Serving | None:
    """What serves now, or None before the first training run."""
    pointer = storage.read_latest_pointer_or_none(s3, env.data_bucket, env.models_prefix, commodity)
    if pointer is None:
        return None
    where = f"s3://{env.data_bucket}/{pointer['metadata_key']} (named by latest.json)"
    metadata = storage.get_json(s3, env.data_bucket, pointer["metadata_key"], required=("as_of", "version"))
    if metadata is None:
        raise CorruptObject(f"{where} is missing")
    method = metadata.get("method", "model")
    if method not in FORECAST_METHODS:
        raise CorruptObject(f"{where}: method {str(method)[:40]!r} is not one of {', '.join(FORECAST_METHODS)}")
    if method == "model" and not isinstance(metadata.get("params"), dict):
        raise CorruptObject(f"{where} has no params")
    try:
        as_of = date.fromisoformat(metadata["as_of"])
    except ValueError:
        raise CorruptObject(f"{where}: as_of {metadata['as_of'][:40]!r} is not a date") from None
    return Serving(version=pointer["version"], as_of=as_of, method=method, params=metadata.get("params") if method == "model" else None)


def read_history(s3, env: WorkloadEnvironment, commodity: str, as_of: date, *, fresh: bool = True) -> tuple[list[PriceRow], list[str]]:
    """Validated history up to `as_of`, and the stray keys under the commodity's prefix (never read; the
    handler logs and counts them). `fresh=False` (a dry run) does not enforce the freshness limit."""
    years, stray = storage.price_years(s3, env.data_bucket, env.prices_prefix, commodity)
    rows = storage.read_prices(s3, env.data_bucket, env.prices_prefix, commodity, first_year=years[0], until=as_of)
    validate_history(rows, commodity=commodity, as_of=as_of, max_age_days=env.max_price_age_days if fresh else None, min_rows=1)
    check_window(rows[-(LOOKBACK + 1):], commodity=commodity)
    return rows, stray


DRY_RUN_PARAMS = {"n_estimators": 5, "max_depth": 2}
"""The smallest fit that still proves the training stack (numpy, pandas, scikit-learn, XGBoost) runs."""


def dry_run(s3, env: WorkloadEnvironment, request: TrainingRequest, *, request_id: str) -> dict[str, Any]:
    """Validate every input a training run reads — configuration, each commodity's history (as a real run
    would, freshness reported rather than enforced) and what serves — fit a five-tree model on the newest
    rows to prove the stack runs, and write then delete one marker under the models prefix. Nothing is
    published. Absent inputs (no prices, too few rows yet, nothing serving) are reported as skipped."""
    report = DryRunReport()
    report.passed("configuration", f"data s3://{env.data_bucket}, models {env.models_prefix}, horizon {env.forecast_horizon_days}")
    needed = LOOKBACK + MIN_TRAINING_ROWS + EVALUATION_ROWS + 2 * env.forecast_horizon_days
    for commodity in request.commodities:
        try:
            rows, stray = read_history(s3, env, commodity, request.as_of, fresh=False)
            validate_history(rows, commodity=commodity, as_of=request.as_of, max_age_days=None, min_rows=needed)
        except (PricesNotFound, InsufficientData) as error:
            report.skipped(f"{commodity}: history", str(error))
            continue
        report.passed(f"{commodity}: history", f"{len(rows)} rows through {rows[-1].date}; {len(stray)} stray files")
        serving = read_serving(s3, env, commodity)
        if serving is None:
            report.skipped(f"{commodity}: serving", "nothing serves yet (the first training run publishes a version)")
        else:
            report.passed(f"{commodity}: serving", f"{serving.method} {serving.version}")
        recent = rows[-(LOOKBACK + 300):]
        dates = np.array([row.date for row in recent], dtype="datetime64[D]")
        closes = np.array([row.close for row in recent], dtype=np.float64)
        features, target = feature_matrix(dates, closes), horizon_log_return(closes, env.forecast_horizon_days)
        usable = np.flatnonzero(~np.isnan(features).any(axis=1) & ~np.isnan(target))
        model = _fit(DRY_RUN_PARAMS, features[usable], target[usable])
        report.passed(f"{commodity}: fit", f"{DRY_RUN_PARAMS} on {len(usable)} rows; a forecast of {float(model.predict(features[usable[-1:]])[0]):+.5f}")
    key = prove_object_write(s3, env.data_bucket, env.models_prefix, request_id)
    report.passed("write_access", f"wrote and deleted s3://{env.data_bucket}/{key}")
    return report.as_dict(commodities=list(request.commodities), as_of=request.as_of.isoformat())


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
