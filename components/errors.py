"""The components' refusals: each component module raises one exception type, carrying a stable `code`
that callers and tests can match on while the message stays free to improve (the way aws-cdk-lib's
`ValidationError` does). Each subclasses `ValueError`, so callers catching that keep working."""

from __future__ import annotations

from typing import Any


class ComponentError(ValueError):
    """A component's plain input was refused before anything was registered."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        """Stable and machine-readable, e.g. `out-of-range`, `reserved-environment`."""


def check_range(error: type[ComponentError], limit: Any, value: float, *, where: str) -> float:
    """`limit.check` (one of components/limits.py's ranges), refused as `error` with code `out-of-range`."""
    try:
        return limit.check(value, where=where)
    except ValueError as refusal:
        raise error("out-of-range", str(refusal)) from None
