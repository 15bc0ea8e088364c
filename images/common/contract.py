"""The contract between the stack and the workloads, defined once and imported by both halves.

The Pulumi program (components/, __main__.py) injects these names and values into every function; the
workloads (common/, predictor/, trainer/) read them; the demo, the benchmarks and the tests use them too.
Dependency-free on purpose: it is imported by the program, which never imports workload code, and it
ships inside every image.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMODITIES = ("corn", "wheat", "soybeans")
"""What this deployment forecasts: a predictor's `event.commodity` must be one of these."""

# The data bucket's layout (see common/storage.py).
PRICES_PREFIX = "prices/"
MODELS_PREFIX = "models/"
PREDICTIONS_PREFIX = "predictions/"
INCOMING_PREFIX = "incoming/"
"""The price feed's drop zone: each CSV file written here is merged into `prices/` (predictor/ingest.py)."""
PROCESSED_PREFIX = "processed/"
"""Where a merged feed file is moved (same name below the prefix)."""
REJECTED_PREFIX = "rejected/"
"""Where a refused feed file is kept, with `<name>.reasons.txt` beside it."""
LEGACY_PREFIX = "predictions/latest/"
"""Default prefix of the mobile app's documents in its own bucket."""
DRY_RUN_MARKERS = "_dry-run/"
"""A dry run proves each write permission by writing and deleting one marker object under
`<writable prefix>_dry-run/`; nothing reads there, and only there may a function delete."""
DRY_RUN_ITEM = "_dry-run"
"""The partition key of the predictions-table marker item a dry run writes and deletes (never a commodity)."""


class Env:
    """Names of the environment variables a function receives."""

    DATA_BUCKET = "DATA_BUCKET"
    PREDICTIONS_TABLE = "PREDICTIONS_TABLE"
    LEGACY_BUCKET = "LEGACY_BUCKET"
    LEGACY_PREFIX = "LEGACY_PREFIX"
    LEGACY_FILE_NAMES = "LEGACY_FILE_NAMES"
    PRICES_PREFIX = "PRICES_PREFIX"
    MODELS_PREFIX = "MODELS_PREFIX"
    PREDICTIONS_PREFIX = "PREDICTIONS_PREFIX"
    MAX_PRICE_AGE_DAYS = "MAX_PRICE_AGE_DAYS"
    MIN_IMPROVEMENT = "MIN_IMPROVEMENT"
    FORECAST_HORIZON_DAYS = "FORECAST_HORIZON_DAYS"
    SIGNIFICANCE_LEVEL = "SIGNIFICANCE_LEVEL"
    SERVICE = "POWERTOOLS_SERVICE_NAME"
    METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"


@dataclass(frozen=True)
class Knob:
    """A workload setting with its range, checked by the stack settings and again by the handler."""

    name: str
    default: float
    minimum: float
    maximum: float
    description: str

    def check(self, value: float, *, where: str) -> float:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{where} must be between {self.minimum:g} and {self.maximum:g}, got {value:g}")
        return value


FORECAST_HORIZON_DAYS = Knob(
    "forecast_horizon_days", 1, 1, 20,
    "Trading days ahead the trainer trains and the predictor serves; 1 is the next trading day, what the "
    "replaced pipeline forecast and the mobile app shows.",
)
MAX_PRICE_AGE_DAYS = Knob(
    "max_price_age_days", 4, 1, 30, "The newest price may be at most this many days older than the run date (a weekend plus a holiday).",
)
MIN_IMPROVEMENT = Knob(
    "min_improvement", 0.0, 0.0, 1.0,
    "Minimum effect size on top of significance: fraction by which a model's MAE must beat the naive forecast's to be promoted.",
)
SIGNIFICANCE_LEVEL = Knob(
    "significance_level", 0.05, 0.001, 0.5,
    "A method replaces the serving one only when a Diebold-Mariano test finds it better at this level (one-sided p-value below it).",
)

INTERVAL_LEVELS = (80, 95)
"""Every forecast carries a prediction interval at each of these nominal coverages (percent)."""
FORECAST_METHODS = ("model", "naive")
"""What a forecast was made by: the promoted XGBoost model, or the last close carried forward."""


class MetricNames:
    """The workloads' business metrics (CloudWatch embedded metric format, one namespace)."""

    NAMESPACE = "CommodityForecasts"
    COMMODITY_DIMENSION = "commodity"
    SERVICE_DIMENSION = "service"
    """Powertools adds it to every metric: the function's physical name."""
    PREDICTIONS_WRITTEN = "PredictionsWritten"
    PREDICTED_CHANGE_PCT = "PredictedChangePct"
    MODEL_AGE_DAYS = "ModelAgeDays"
    LEGACY_WRITE_FAILURES = "LegacyWriteFailures"
    MODELS_TRAINED = "ModelsTrained"
    MODEL_PROMOTED = "ModelPromoted"
    MODEL_IMPROVEMENT_PCT = "ModelImprovementPct"
    TRAINING_FAILURES = "TrainingFailures"
    STRAY_PRICE_FILES = "StrayPriceFiles"
    OLDER_THAN_SERVING = "OlderThanServing"
    DRY_RUN = "DryRun"
    """A dry run (pre-traffic check or manual): the only metric a dry run emits."""
    MODEL_DEMOTED = "ModelDemoted"
    """The naive forecast was significantly better than the serving model, and replaced it."""
    NEW_CLOSES = "NewCloses"
    """Closes a commodity gained from the price feed; the stale-feed alarm treats none as breaching."""
    PRICE_FILES_INGESTED = "PriceFilesIngested"
    PRICE_FILES_REJECTED = "PriceFilesRejected"
    INTERVAL_FALLBACKS = "IntervalFallbacks"
    """A prediction's intervals fell back from adaptive (its version's state or calibration unusable)."""


@dataclass(frozen=True)
class AccessProfile:
    """What one image's code touches: the stack grants exactly this and nothing more."""

    read_prefixes: tuple[str, ...] = ()
    write_prefixes: tuple[str, ...] = ()
    table_actions: tuple[str, ...] = ()
    legacy_write: bool = False
    emits_business_metrics: bool = False
    """Emits PredictionsWritten and ModelAgeDays per commodity (missed-run and model-age alarms)."""
    delete_prefixes: tuple[str, ...] = ()
    """Prefixes it deletes from (the price feed moves files out of its drop zone)."""


ACCESS = {
    "predictor": AccessProfile(
        read_prefixes=(MODELS_PREFIX, PRICES_PREFIX),
        write_prefixes=(PREDICTIONS_PREFIX,),
        table_actions=("dynamodb:GetItem", "dynamodb:PutItem"),
        legacy_write=True,
        emits_business_metrics=True,
    ),
    "trainer": AccessProfile(read_prefixes=(PRICES_PREFIX,), write_prefixes=(MODELS_PREFIX,)),
}
"""Per image (see predictor/service.py and trainer/training.py)."""
PRICE_FEED_ACCESS = AccessProfile(
    read_prefixes=(INCOMING_PREFIX, PRICES_PREFIX),
    write_prefixes=(PRICES_PREFIX, PROCESSED_PREFIX, REJECTED_PREFIX),
    delete_prefixes=(INCOMING_PREFIX,),
)
PRICE_FEED = "price-feed"
"""The price feed's function name (below the stack's prefix) and access profile."""
PRICE_FEED_HANDLER = "predictor.ingest.handler"
"""The price feed's entry point in the predictor's image (the function overrides the image's command)."""
"""The price feed: the predictor's image with its own handler (predictor/ingest.py)."""
