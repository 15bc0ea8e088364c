"""Split-conformal prediction intervals, numpy only: shared by the trainer (calibration and coverage)
and the predictor (versions published before intervals were recorded)."""

from __future__ import annotations

import math

import numpy as np


def conformal_half_width(scores: np.ndarray, level: float) -> float:
    """Split-conformal quantile: the ceil((n + 1) level)-th smallest score, so a new score exchangeable
    with these falls at or below it with probability at least `level`."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    rank = math.ceil((len(ordered) + 1) * level)
    if rank > len(ordered):
        raise ValueError(f"{len(ordered)} calibration errors are too few for a {level:.0%} interval")
    return float(ordered[rank - 1])
