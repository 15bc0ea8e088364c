"""The predictor's work, as plain functions: load what serves (the promoted model, or the naive
forecast when no model has earned it), read and validate recent prices, predict with intervals, and
store the result idempotently. The handler only wires these together."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta, timezone

import csv
import io
import json
import math

import numpy as np

from common import intervals as interval_methods, storage
from common.contract import DRY_RUN_ITEM, FORECAST_METHODS, INTERVAL_LEVELS
from common.dry_run import DryRunReport, prove_item_write, prove_object_write
from common.intervals import Adaptive, conformal_half_width
from common.environment import WorkloadEnvironment
from common.errors import (
    ConcurrentWrites,
    CorruptObject,
    InsufficientData,
    ModelChecksumMismatch,
    ModelIncompatible,
    ModelMismatch,
    ModelNotFound,
    PricesNotFound,
)
from common.events import PredictionRequest
from common.features import FEATURE_NAMES, LOOKBACK, feature_matrix
from common.schema import PriceRow, check_window, validate_history
from common.trading_calendar import add_trading_days
from predictor.forest import SUPPORTED_XGBOOST_MAJORS, Forest, UnsupportedModel

HISTORY_CALENDAR_DAYS = 190
"""Calendar days of prices read before the run date (and before the serving version's newest close, when
that is older): about 130 trading days, comfortably more than the features' LOOKBACK and the
volatility's ROWS_NEEDED plus the longest horizon."""
FLAT_THRESHOLD_PCT = 0.1
"""Predicted moves smaller than this are reported as direction "flat"."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified version of either method, kept across warm invocations of one container."""

    commodity: str
    version: str
    sha256: str
    trained_at: datetime
    horizon: int
    """Trading days ahead the version forecasts."""
    forest: Forest | None
    """The XGBoost model; None for the naive forecast (the newest close carried forward)."""
    intervals: dict[str, float]
    """Level in percent ("80", "95") → the fixed conformal half-width on the log-price scale."""
    as_of: date | None = None
    """The newest price date the version was trained on (None for a version that does not say)."""
    adaptive: Adaptive | None = None
    """Adaptive intervals' calibration and state; None for a version published before them (fixed widths)."""
    interval_fallback: str = ""
    """Why this version's adaptive intervals are (partly) unusable; empty when they are usable or absent."""

    @property
    def method(self) -> str:
        return "naive" if self.forest is None else "model"


@dataclass(frozen=True)
class Prediction:
    commodity: str
    effective_date: str
    """The run's date: the key a retried run writes again."""
    price_date: str
    """Date of the newest close the forecast starts from."""
    target_date: str
    """The trading day the forecast is for: the model's horizon in exchange trading days after price_date."""
    current_price: float
    predicted_price: float
    change_pct: float
    direction: str
    method: str
    """"model" (the promoted XGBoost model) or "naive" (the newest close carried forward)."""
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float
    """Split-conformal prediction intervals: the close on target_date falls inside with at least this
    probability, if the future errs like the calibration window did (its coverage on a later window is
    in the version's metadata)."""
    model_version: str
    model_sha256: str
    model_age_days: int
    input_sha256: str
    """Fingerprint of the prices used: equal inputs and model give an equal prediction."""
    created_at: str
    interval_method: str = interval_methods.FIXED
    """How the intervals were made (common/intervals.py): "adaptive-conformal" (scaled by the volatility
    known that day, quantile adapted online), "scaled-conformal" (scaled, calibrated quantile) or
    "fixed-conformal" (a version published before adaptive intervals)."""
    interval_fallback: str = ""
    """Why the intervals are not the version's adaptive ones (state missing or corrupt); empty otherwise."""
    model_as_of: str = ""
    """The newest price date the serving version was trained on."""
    trained_after_as_of: bool = False
    """The version was trained on prices after this prediction's as_of: a back-fill made with hindsight,
    not the forecast anyone could have had that day."""


_MODELS: dict[str, LoadedModel] = {}


def load_model(s3, env: WorkloadEnvironment, commodity: str) -> LoadedModel:
    """What serves for `commodity`, downloaded only when the pointer names a new version. The pointer,
    the metadata and the model (or the naive spec) must agree; every disagreement is a typed error naming
    bucket and key."""
    bucket = env.data_bucket
    pointer = storage.read_latest_pointer(s3, bucket, env.models_prefix, commodity)
    cached = _MODELS.get(commodity)
    if cached is not None and cached.sha256 == pointer["sha256"] and cached.version == pointer["version"]:
        return cached
    raw = storage.get_bytes(s3, bucket, pointer["model_key"])
    if raw is None:
        raise ModelNotFound(f"{commodity}: latest.json names s3://{bucket}/{pointer['model_key']}, which does not exist")
    actual = hashlib.sha256(raw).hexdigest()
    if actual != pointer["sha256"]:
        raise ModelChecksumMismatch(
            f"{commodity}: s3://{bucket}/{pointer['model_key']} has sha256 {actual}, latest.json expects {pointer['sha256']}"
        )
    metadata_key = pointer["metadata_key"]
    metadata = storage.get_json(s3, bucket, metadata_key, required=("commodity", "version", "model_sha256", "model_key", "trained_at"))
    if metadata is None:
        raise ModelNotFound(f"{commodity}: metadata s3://{bucket}/{metadata_key} does not exist")
    _check_agreement(commodity, pointer, metadata, f"s3://{bucket}/{metadata_key}")
    _check_compatible(commodity, pointer["version"], metadata, env.forecast_horizon_days)
    where = f"s3://{bucket}/{pointer['model_key']}"
    try:
        forest = _forest(raw, metadata) if metadata.get("method", "model") == "model" else _naive_spec(raw, commodity, env.forecast_horizon_days)
        trained_at = datetime.fromisoformat(metadata["trained_at"])
        intervals = _intervals(metadata) if "intervals" in metadata else _intervals_from_backtest(s3, bucket, pointer["model_key"])
        as_of = date.fromisoformat(metadata.get("as_of", pointer["version"][:10]))
    except (UnsupportedModel, KeyError, IndexError, ValueError, TypeError, RecursionError) as error:
        raise ModelIncompatible(f"{commodity}: {where} cannot be read: {_reason(error)}") from None
    if trained_at.tzinfo is None:
        raise CorruptObject(
            f"{commodity}: s3://{bucket}/{metadata_key}: trained_at {metadata['trained_at'][:40]!r} has no time zone (an ISO time with an offset is required)"
        )
    if forest is not None and forest.num_features != len(FEATURE_NAMES):
        raise ModelIncompatible(f"{commodity}: model expects {forest.num_features} features, this predictor computes {len(FEATURE_NAMES)}")
    adaptive, fallback = _adaptive(metadata, env.forecast_horizon_days)
    model = LoadedModel(commodity, pointer["version"], actual, trained_at, env.forecast_horizon_days, forest, intervals, as_of, adaptive, fallback)
    _MODELS[commodity] = model
    return model


def _reason(error: Exception) -> str:
    """A parse failure in words (a RecursionError's own message is about Python, not the file)."""
    return "nested deeper than a model or spec can be" if isinstance(error, RecursionError) else str(error)


def _adaptive(metadata: dict, horizon: int) -> tuple[Adaptive | None, str]:
    """The version's adaptive intervals, or None for a version published before them. A flaw is never
    fatal: unusable calibration means the fixed widths, an unusable state the calibrated quantile; the
    reason is returned so the run logs and counts it."""
    document = metadata.get("intervals", {}).get("adaptive") if isinstance(metadata.get("intervals"), dict) else None
    if document is None:
        return None, ""
    try:
        if not isinstance(document, dict):
            raise TypeError(f"intervals.adaptive is a {type(document).__name__}, not an object")
        calibrated = Adaptive.from_dict({**document, "state": None}, horizon=horizon, levels=INTERVAL_LEVELS)
    except (KeyError, IndexError, ValueError, TypeError) as error:
        return None, f"adaptive calibration unusable ({str(error)[:120]}): fixed widths served"
    try:
        return calibrated.with_state(document["state"], levels=INTERVAL_LEVELS), ""
    except (KeyError, IndexError, ValueError, TypeError) as error:
        return calibrated, f"adaptive state unusable ({str(error)[:120]}): calibrated quantile served"


def _forest(raw: bytes, metadata: dict) -> Forest:
    """The model in the format its metadata names: JSON, or UBJSON for versions published before."""
    model_format = metadata.get("model_format", storage.UBJSON_FORMAT)
    if model_format == storage.MODEL_FORMAT:
        return Forest.from_json(raw)
    if model_format == storage.UBJSON_FORMAT:
        return Forest.from_ubj(raw)
    raise ValueError(f"model_format {str(model_format)[:40]!r} is neither {storage.MODEL_FORMAT} nor {storage.UBJSON_FORMAT}")


def _naive_spec(raw: bytes, commodity: str, horizon: int) -> None:
    """Check a naive version's spec (its "model"): it is the naive method for this commodity and horizon."""
    spec = json.loads(raw.decode("utf-8"))  # RecursionError on absurd nesting: the caller's typed error
    expected = {"method": "naive", "commodity": commodity, "horizon": horizon}
    wrong = {name: spec.get(name) for name, value in expected.items() if not isinstance(spec, dict) or spec.get(name) != value}
    if wrong:
        raise ValueError(f"naive spec disagrees: {wrong}, expected {expected}")
    return None


def _intervals_from_backtest(s3, bucket: str, model_key: str) -> dict[str, float]:
    """A version published before intervals were recorded: split-conformal half-widths from its own
    held-out forecasts (backtest.csv beside the model), the same formula the trainer uses."""
    key = model_key.rsplit("/", 1)[0] + "/backtest.csv"
    text = storage.get_text(s3, bucket, key)
    if text is None:
        raise ValueError(f"its metadata has no intervals and s3://{bucket}/{key} does not exist to derive them")
    rows = list(csv.DictReader(io.StringIO(text)))
    errors = np.abs(np.log(np.array([float(r["actual"]) for r in rows]) / np.array([float(r["predicted"]) for r in rows])))
    return {str(level): round(conformal_half_width(errors, level / 100), 6) for level in INTERVAL_LEVELS}


def _intervals(metadata: dict) -> dict[str, float]:
    """Half-widths for every level of the contract: finite and not negative, wider for a higher level."""
    widths = metadata["intervals"]["log_half_width"]
    values = {str(level): float(widths[str(level)]) for level in INTERVAL_LEVELS}
    ordered = [values[str(level)] for level in sorted(INTERVAL_LEVELS)]
    if not all(math.isfinite(v) and v >= 0 for v in ordered) or ordered != sorted(ordered):
        raise ValueError(f"interval half-widths {values} must be finite, not negative and widen with the level")
    return values


def _check_agreement(commodity: str, pointer: dict, metadata: dict, where: str) -> None:
    """latest.json and metadata.json describe the same model of this commodity."""
    expected = {"commodity": commodity, "version": pointer["version"], "model_sha256": pointer["sha256"], "model_key": pointer["model_key"]}
    if "method" in pointer:
        expected["method"] = pointer["method"]
    disagreeing = {name: (metadata.get(name), value) for name, value in expected.items() if metadata.get(name) != value}
    if disagreeing:
        details = "; ".join(f"{name} is {found!r}, expected {wanted!r}" for name, (found, wanted) in disagreeing.items())
        raise ModelMismatch(f"{commodity}: {where} does not describe the model latest.json names: {details}")


def _check_compatible(commodity: str, version: str, metadata: dict, horizon: int) -> None:
    """The version forecasts the horizon this code serves; a model was trained on the features this code
    computes, by an XGBoost it reads."""
    method = metadata.get("method", "model")
    if method not in FORECAST_METHODS:
        raise ModelIncompatible(f"{commodity}: version {version} has method {str(method)[:40]!r}; this predictor serves {FORECAST_METHODS}")
    if method == "naive":
        if metadata.get("horizon") != horizon:
            raise ModelIncompatible(
                f"{commodity}: naive version {version} was calibrated at horizon {metadata.get('horizon')}; this predictor "
                f"serves horizon {horizon} (FORECAST_HORIZON_DAYS; retrain after changing it)"
            )
        return
    if tuple(metadata.get("features", ())) != FEATURE_NAMES or metadata.get("horizon") != horizon:
        raise ModelIncompatible(
            f"{commodity}: model {version} expects features {metadata.get('features')} at horizon "
            f"{metadata.get('horizon')}; this predictor computes {list(FEATURE_NAMES)} at horizon {horizon} "
            "(FORECAST_HORIZON_DAYS; retrain after changing it)"
        )
    libraries = metadata.get("libraries")
    trained_with = str(libraries.get("xgboost", "unknown") if isinstance(libraries, dict) else "unknown")
    if not trained_with.split(".")[0].isdigit() or int(trained_with.split(".")[0]) not in SUPPORTED_XGBOOST_MAJORS:
        raise ModelIncompatible(
            f"{commodity}: model {version} was written by XGBoost {trained_with}; "
            f"this predictor reads major versions {SUPPORTED_XGBOOST_MAJORS}"
        )


def recent_prices(s3, env: WorkloadEnvironment, request: PredictionRequest, *, fresh: bool = True, since: date | None = None) -> list[PriceRow]:
    """Validated prices up to the run date: enough rows for the features and the volatility (back to
    `since` too: the serving version's newest close, where its adaptive state starts), fresh enough to
    trust (unless `fresh` is False: a dry run reports the newest date instead of refusing it)."""
    start = min(request.as_of, since or request.as_of) - timedelta(days=HISTORY_CALENDAR_DAYS)
    rows = storage.read_prices(
        s3, env.data_bucket, env.prices_prefix, request.commodity, first_year=start.year, until=request.as_of
    )
    validate_history(
        rows,
        commodity=request.commodity,
        as_of=request.as_of,
        max_age_days=env.max_price_age_days if fresh else None,
        min_rows=LOOKBACK + 1,
    )
    check_window(rows[-(LOOKBACK + 1):], commodity=request.commodity)
    return rows


def predict(model: LoadedModel, rows: list[PriceRow], as_of: date, now: datetime) -> Prediction:
    """Forecast the close `model.horizon` trading days after the newest row, with its intervals."""
    recent = rows[-(LOOKBACK + 1):]
    dates = np.array([row.date for row in recent], dtype="datetime64[D]")
    closes = np.array([row.close for row in recent], dtype=np.float64)
    if model.forest is None:
        log_return = 0.0
    else:
        features = feature_matrix(dates, closes)[-1:]
        if np.isnan(features).any():
            raise InsufficientData(f"{model.commodity}: features incomplete for {recent[-1].date}")
        log_return = float(model.forest.predict(features)[0])
    current = float(closes[-1])
    predicted = current * float(np.exp(log_return))
    change_pct = (predicted / current - 1) * 100
    direction = "flat" if abs(change_pct) < FLAT_THRESHOLD_PCT else ("up" if change_pct > 0 else "down")
    served = interval_widths(model, rows)
    fingerprint = hashlib.sha256(
        "\n".join(f"{row.date.isoformat()},{row.close!r}" for row in rows[min(served.first_row, len(rows) - len(recent)):]).encode()
    ).hexdigest()
    target = add_trading_days(recent[-1].date, model.horizon)
    return Prediction(
        commodity=model.commodity,
        effective_date=as_of.isoformat(),
        price_date=recent[-1].date.isoformat(),
        target_date=target.isoformat(),
        current_price=round(current, 4),
        predicted_price=round(predicted, 4),
        change_pct=round(change_pct, 4),
        direction=direction,
        method=model.method,
        **{
            f"{bound}_{level}": round(predicted * float(np.exp(sign * served.half_widths[str(level)])), 4)
            for level in INTERVAL_LEVELS
            for bound, sign in (("lower", -1), ("upper", 1))
        },
        model_version=model.version,
        model_sha256=model.sha256,
        model_age_days=max(0, (now - model.trained_at).days),
        input_sha256=fingerprint,
        created_at=now.isoformat(timespec="seconds"),
        interval_method=served.method,
        interval_fallback=served.fallback,
        model_as_of=model.as_of.isoformat() if model.as_of else "",
        trained_after_as_of=bool(model.as_of and model.as_of > as_of),
    )


@dataclass(frozen=True)
class ServedWidths:
    """Today's log half-widths, how they were made, why not adaptively (empty when they were), and the
    first row of `rows` they depend on (the fingerprint covers it)."""

    half_widths: dict[str, float]
    method: str
    fallback: str
    first_row: int


def interval_widths(model: LoadedModel, rows: list[PriceRow]) -> ServedWidths:
    """The version's adaptive intervals for a forecast from the newest row: its state at its newest close
    replayed over every close since (the hits of the forecasts it would have served), times today's
    volatility. Deterministic in the version and the prices, so a re-run, a retry or a back-fill applies
    no update twice. Degrades, never fails: no adaptive calibration → the fixed widths; no usable state →
    the calibrated quantile (a back-fill before the version's newest close gets it too, and is no fallback)."""
    adaptive, last = model.adaptive, len(rows) - 1
    if adaptive is None:
        return ServedWidths(dict(model.intervals), interval_methods.FIXED, model.interval_fallback, last)
    closes = np.array([row.close for row in rows], dtype=np.float64)
    volatility = adaptive.scale.of(closes)
    if not np.isfinite(volatility[-1]):
        reason = f"{len(rows)} closes are too few for the volatility (needs {interval_methods.ROWS_NEEDED}): fixed widths served"
        return ServedWidths(dict(model.intervals), interval_methods.FIXED, reason, last)
    scaled = ServedWidths(
        interval_methods.served_half_widths(adaptive, np.array([]), float(volatility[-1]), levels=INTERVAL_LEVELS),
        interval_methods.SCALED, model.interval_fallback, max(0, last - interval_methods.ROWS_NEEDED + 1),
    )
    if not adaptive.state_date:
        return scaled
    state_day = date.fromisoformat(adaptive.state_date)
    if rows[-1].date < state_day:
        return scaled
    found = [i for i, row in enumerate(rows) if row.date == state_day]
    first = found[0] - model.horizon + 1 if found else -1
    if first < 0 or not np.isfinite(volatility[first]):
        why = "is not among the prices read" if not found else "has too few closes before it"
        return replace(scaled, fallback=f"the version's newest close {state_day} {why}: calibrated quantile served")
    forecast_rows = np.arange(first, last + 1)
    predicted = _replayed_forecasts(model, rows, forecast_rows)
    resolved = forecast_rows + model.horizon <= last
    scores = np.full(len(forecast_rows), np.nan)
    scores[resolved] = interval_methods.normalised_scores(
        closes[forecast_rows[resolved] + model.horizon], predicted[resolved], volatility[forecast_rows[resolved]]
    )
    widths = interval_methods.served_half_widths(adaptive, scores, float(volatility[-1]), levels=INTERVAL_LEVELS)
    return ServedWidths(widths, interval_methods.ADAPTIVE, "", max(0, min(first - interval_methods.ROWS_NEEDED + 1, scaled.first_row)))


def _replayed_forecasts(model: LoadedModel, rows: list[PriceRow], forecast_rows: np.ndarray) -> np.ndarray:
    """The forecasts the version made (or would have made) from each of `forecast_rows`."""
    closes = np.array([row.close for row in rows], dtype=np.float64)
    if model.forest is None:
        return closes[forecast_rows]
    start = max(0, int(forecast_rows[0]) - LOOKBACK)
    dates = np.array([row.date for row in rows[start:]], dtype="datetime64[D]")
    features = feature_matrix(dates, closes[start:])[forecast_rows - start]
    if np.isnan(features).any():
        raise InsufficientData(f"{model.commodity}: features incomplete for a day since {rows[int(forecast_rows[0])].date}")
    return closes[forecast_rows] * np.exp(model.forest.predict(features))


def dry_run(s3, dynamodb, env: WorkloadEnvironment, request: PredictionRequest, *, request_id: str, now: datetime) -> dict:
    """The whole path without its writes: configuration, pointer, metadata, model load, price read and
    validation, features and a prediction, then one marker written and deleted per destination (data
    bucket, table, the app's bucket when the stack has a legacy feed). Nothing any user, the app or a later run reads is touched; the
    model cache is left as it was. Before the first training run or price load, the checks that need
    them are reported as skipped. Price freshness is reported, not enforced: a deploy may happen at any
    hour, and what it must prove is that this code runs."""
    report = DryRunReport()
    app = f"app s3://{env.legacy_bucket}/{env.legacy_prefix}" if env.legacy_bucket else "no legacy feed"
    report.passed("configuration", f"data s3://{env.data_bucket}, table {env.predictions_table}, {app}")
    model = None
    if storage.read_latest_pointer_or_none(s3, env.data_bucket, env.models_prefix, request.commodity) is None:
        report.skipped("model", f"no version serves yet: s3://{env.data_bucket}/{storage.latest_key(env.models_prefix, request.commodity)} does not exist")
    else:
        cached = dict(_MODELS)
        try:
            model = load_model(s3, env, request.commodity)
        finally:
            _MODELS.clear()
            _MODELS.update(cached)
        report.passed("model", f"{model.method} {model.version}, sha256 verified")
    try:
        rows = recent_prices(s3, env, request, fresh=False, since=model.as_of if model else None)
        report.passed("prices", f"{len(rows)} rows, newest close {rows[-1].date} (freshness limit {env.max_price_age_days} days not enforced)")
    except PricesNotFound as error:
        rows = None
        report.skipped("prices", str(error))
    if model is not None and rows is not None:
        prediction = predict(model, rows, request.as_of, now)
        report.passed("prediction", f"{prediction.predicted_price} for {prediction.target_date} [{prediction.lower_95}, {prediction.upper_95}] by {prediction.method}")
    else:
        report.skipped("prediction", "needs a serving version and prices")
    keys = [f"s3://{env.data_bucket}/{prove_object_write(s3, env.data_bucket, env.predictions_prefix, request_id)}"]
    if env.legacy_bucket:
        keys.append(f"s3://{env.legacy_bucket}/{prove_object_write(s3, env.legacy_bucket, env.legacy_prefix, request_id)}")
    prove_item_write(dynamodb, env.predictions_table, request_id)
    report.passed("write_access", f"wrote and deleted {', '.join(keys)} and table {env.predictions_table} item {DRY_RUN_ITEM}/{request_id}")
    return report.as_dict(commodity=request.commodity, as_of=request.as_of.isoformat())


REPLACE_ATTEMPTS = 5
"""Rounds of compare-and-replace before giving up on an item other runs keep changing."""


def store(dynamodb, env: WorkloadEnvironment, prediction: Prediction) -> Prediction:
    """Write the one item for (commodity, effective date) atomically and return the item stored.

    A first write creates it only if absent. When it exists: the same model and inputs (a retry, or a
    concurrent run) return the stored item unchanged, timestamp included; another model or corrected
    prices replace it, conditional on the exact version read, so a replacement is always deliberate and
    never a race won by whoever wrote last."""
    table = env.predictions_table
    item = _to_item(prediction)
    condition = {"ConditionExpression": "attribute_not_exists(commodity)"}
    for _ in range(REPLACE_ATTEMPTS):
        try:
            dynamodb.put_item(TableName=table, Item=item, **condition)
            return prediction
        except dynamodb.exceptions.ConditionalCheckFailedException:
            existing = dynamodb.get_item(TableName=table, Key=_key(prediction), ConsistentRead=True).get("Item")
        if existing is None:
            condition = {"ConditionExpression": "attribute_not_exists(commodity)"}
            continue
        stored = _from_item(existing, table)
        if stored is not None and (stored.model_sha256, stored.input_sha256) == (prediction.model_sha256, prediction.input_sha256):
            return stored
        # Another model, other prices, or an item written before predictions carried method and intervals.
        condition = {
            "ConditionExpression": "model_sha256 = :model AND input_sha256 = :inputs",
            "ExpressionAttributeValues": {":model": existing["model_sha256"], ":inputs": existing["input_sha256"]},
        }
    raise ConcurrentWrites(
        f"{prediction.commodity}: {table} item for {prediction.effective_date} changed {REPLACE_ATTEMPTS} times while it was being replaced"
    )


def _key(prediction: Prediction) -> dict:
    return {"commodity": {"S": prediction.commodity}, "effective_date": {"S": prediction.effective_date}}


def write_full_json(s3, env: WorkloadEnvironment, prediction: Prediction, *, create_only: bool = False) -> str:
    """`predictions/<commodity>/<date>.json`; `create_only` (a back-fill) never replaces one that exists."""
    key = storage.prediction_key(env.predictions_prefix, prediction.commodity, date.fromisoformat(prediction.effective_date))
    if create_only:
        storage.put_once(s3, env.data_bucket, key, storage.json_bytes(asdict(prediction)), "application/json")
    else:
        storage.put_json(s3, env.data_bucket, key, asdict(prediction))
    return key


@dataclass(frozen=True)
class Recorded:
    """What a run left as the record for its (commodity, date): the stored prediction, whether this run
    wrote it ("written") or found one it must keep ("kept"), and the full JSON's key (None when the kept
    item is an earlier release's, which has no full JSON of this shape)."""

    document: dict
    outcome: str
    full_key: str | None
    prediction: Prediction | None


def record(s3, dynamodb, env: WorkloadEnvironment, prediction: Prediction, *, backfill: bool, replace_stored: bool) -> Recorded:
    """Past predictions are records: a back-fill creates a missing prediction only and keeps any stored
    one as it is (unless `replace_stored`); any other run stores as `store` does (a retry keeps the item,
    another model or corrected prices replace today's)."""
    if backfill and not replace_stored:
        stored, created = create(dynamodb, env, prediction)
        if stored is None:
            return Recorded(_plain(_get(dynamodb, env, prediction)), "kept", None, None)
        return Recorded(asdict(stored), "written" if created else "kept", write_full_json(s3, env, stored, create_only=True), stored)
    stored = store(dynamodb, env, prediction)
    return Recorded(asdict(stored), "written", write_full_json(s3, env, stored), stored)


def create(dynamodb, env: WorkloadEnvironment, prediction: Prediction) -> tuple[Prediction | None, bool]:
    """Write the item only if none exists for (commodity, date). Returns the stored prediction (None for
    an earlier release's item) and whether this call created it."""
    try:
        dynamodb.put_item(TableName=env.predictions_table, Item=_to_item(prediction), ConditionExpression="attribute_not_exists(commodity)")
        return prediction, True
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return _from_item(_get(dynamodb, env, prediction), env.predictions_table), False


def _get(dynamodb, env: WorkloadEnvironment, prediction: Prediction) -> dict:
    item = dynamodb.get_item(TableName=env.predictions_table, Key=_key(prediction), ConsistentRead=True).get("Item")
    if item is None:
        raise ConcurrentWrites(f"{prediction.commodity}: {env.predictions_table} item for {prediction.effective_date} exists and then does not")
    return item


def _plain(item: dict) -> dict:
    """An item's attributes as plain values (an earlier release's item, returned as it is)."""
    return {name: float(value["N"]) if "N" in value else value.get("S", value.get("BOOL")) for name, value in item.items()}


LEGACY_KEYS = ("prediction_date", "predicted_price", "current_price", "direction", "timestamp")
"""The mobile app's document, exactly these keys (docs/workloads.md: "The mobile app's feed")."""


def legacy_document(prediction: Prediction, written_at: datetime) -> dict:
    """The mobile app's document, with the replaced pipeline's value domains and formats:
    `direction` is "UP" when the predicted price is above the current one, else "DOWN"; prices are JSON
    numbers; `timestamp` is the naive UTC `datetime.isoformat()` of the write (Lambda's clock is UTC),
    e.g. 2026-11-25T02:00:01.482913. `prediction_date` is the date the predicted price is for: at the
    default horizon the first trading day after the newest close (the original used the next calendar
    day, which could be a Saturday). Our richer fields (up/down/flat, model version) stay out of it."""
    naive_utc = written_at.astimezone(timezone.utc).replace(tzinfo=None)
    return {
        "prediction_date": prediction.target_date,
        "predicted_price": float(prediction.predicted_price),
        "current_price": float(prediction.current_price),
        "direction": "UP" if prediction.predicted_price - prediction.current_price > 0 else "DOWN",
        "timestamp": naive_utc.isoformat(),
    }


def write_legacy_json(s3, env: WorkloadEnvironment, prediction: Prediction, written_at: datetime) -> str:
    key = env.legacy_key(prediction.commodity)
    storage.put_json(s3, env.legacy_bucket, key, legacy_document(prediction, written_at), sort_keys=False)
    return key


_NUMBERS = ("current_price", "predicted_price", "change_pct", "model_age_days", *(f"{b}_{level}" for level in INTERVAL_LEVELS for b in ("lower", "upper")))


_BOOLEANS = ("trained_after_as_of",)


def _to_item(prediction: Prediction) -> dict:
    item = {}
    for name, value in asdict(prediction).items():
        item[name] = {"N": str(value)} if name in _NUMBERS else {"BOOL": bool(value)} if name in _BOOLEANS else {"S": str(value)}
    return item


_ADDED_WITH_INTERVALS = frozenset({"method", *(f"{b}_{level}" for level in INTERVAL_LEVELS for b in ("lower", "upper"))})
_ADDED_WITH_ADAPTIVE = frozenset({"interval_method", "interval_fallback", "model_as_of", "trained_after_as_of"})
EARLIER_RELEASES = (_ADDED_WITH_ADAPTIVE, _ADDED_WITH_INTERVALS | _ADDED_WITH_ADAPTIVE)
"""Attributes an item written by an earlier release lacks: such an item is replaced (kept by a back-fill), not returned."""


def _from_item(item: dict, table: str) -> Prediction | None:
    """The stored prediction; None for an earlier release's item (complete but for the attributes added
    since, so it is replaced); a `CorruptObject` naming the first attribute missing otherwise."""
    def kind(name: str) -> str:
        return "N" if name in _NUMBERS else "BOOL" if name in _BOOLEANS else "S"

    names = Prediction.__dataclass_fields__
    missing = [name for name in names if not (isinstance(item.get(name), dict) and kind(name) in item[name])]
    if set(missing) in EARLIER_RELEASES:
        return None
    if missing:
        where = f"{table} item ({item.get('commodity', {}).get('S')}, {item.get('effective_date', {}).get('S')})"
        raise CorruptObject(f"{where} lacks attribute {missing[0]!r} of type {kind(missing[0])}; it cannot be returned as a prediction")
    def value(name: str):
        if kind(name) == "N":
            return int(item[name]["N"]) if name == "model_age_days" else float(item[name]["N"])
        return item[name][kind(name)]

    return Prediction(**{name: value(name) for name in names})
