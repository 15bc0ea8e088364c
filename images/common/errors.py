"""Typed failures of the workloads. Each is raised, never turned into a status code, so Lambda's
retries, the DLQ and the Errors alarm all see it."""


class WorkloadError(Exception):
    """Base of every failure the workloads raise on purpose."""


class MissingConfiguration(WorkloadError):
    """An environment variable the stack must set is absent."""


class InvalidEvent(WorkloadError):
    """The invocation event does not have the documented shape."""


class UnknownCommodity(InvalidEvent):
    """The event names a commodity this deployment does not forecast."""


class ModelNotFound(WorkloadError):
    """No published model (or its `latest.json` pointer) exists for the commodity."""


class ModelChecksumMismatch(WorkloadError):
    """The model file's sha256 differs from the one its pointer recorded."""


class ModelIncompatible(WorkloadError):
    """The model was trained on features this code does not compute."""


class CorruptObject(WorkloadError):
    """A stored object or item is empty, truncated, not UTF-8, not JSON or not the documented shape."""


class ModelMismatch(WorkloadError):
    """The pointer, the metadata and the model do not describe the same model."""


class ConcurrentWrites(WorkloadError):
    """A stored item kept changing under a deliberate replacement; the run raises so it is retried."""


class ObjectConflict(WorkloadError):
    """A write-once object already exists with other contents; it was left as it was."""


class PricesNotFound(WorkloadError):
    """No price history exists for the commodity."""


class InvalidPrices(WorkloadError):
    """Price rows are malformed, missing, NaN, non-positive, duplicated or out of order."""


class PricesGap(InvalidPrices):
    """Price history has a hole: a missing year file between others, or missing days inside the look-back window."""


class PriceFileOutOfRange(InvalidPrices):
    """A price file's name is a year before any history this project keeps (`prices/corn/0001.csv`)."""


class StaleData(WorkloadError):
    """The newest price is older than the freshness limit allows."""


class InsufficientData(WorkloadError):
    """Too few price rows to compute features (or to train)."""


class WriteAccessDenied(WorkloadError):
    """A dry run could not write (or delete) its marker: the function lacks a permission it needs."""


class TrainingFailed(WorkloadError):
    """At least one commodity could not be trained; the others were still attempted."""
