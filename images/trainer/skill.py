"""How good a forecast is, measured the way a sceptical reader would: a Diebold–Mariano test of one
method against another on the same out-of-sample forecasts, and split-conformal prediction intervals
whose coverage is then checked on a later window the intervals never saw.

Numpy and scipy only (scipy comes with scikit-learn), so the trainer carries no statistics package for
twenty lines of arithmetic; tests/images/test_skill.py checks the variance against statsmodels' HAC
estimator and the test's size on simulated data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from common.contract import INTERVAL_LEVELS
from common.intervals import conformal_half_width


@dataclass(frozen=True)
class Comparison:
    """A one-sided Diebold–Mariano test that `better` has lower expected absolute error than `worse`."""

    better: str
    worse: str
    mean_loss_difference: float
    """Mean of |error of worse| - |error of better|, in price units: positive favours `better`."""
    statistic: float
    p_value: float
    hac_lags: int
    forecasts: int

    def significant(self, level: float) -> bool:
        return self.p_value < level

    def as_dict(self) -> dict:
        return {name: (round(value, 6) if isinstance(value, float) else value) for name, value in asdict(self).items()}


def newey_west_lags(forecasts: int, horizon: int) -> int:
    """Autocovariances the variance includes: at least horizon - 1 (forecasts `horizon` steps ahead made
    on consecutive days overlap, so their errors are correlated up to that lag), and at least the usual
    Newey–West rule floor(4 (n/100)^(2/9)) for serial correlation the overlap does not explain."""
    return max(horizon - 1, int(math.floor(4 * (forecasts / 100) ** (2 / 9))))


def long_run_variance(values: np.ndarray, lags: int) -> float:
    """Newey–West (Bartlett-kernel) estimate of the long-run variance of `values`, never negative."""
    centred = np.asarray(values, dtype=np.float64) - np.mean(values)
    n = len(centred)
    variance = float(centred @ centred) / n
    for lag in range(1, lags + 1):
        variance += 2 * (1 - lag / (lags + 1)) * float(centred[lag:] @ centred[:-lag]) / n
    return max(variance, 0.0)


def diebold_mariano(errors_better: np.ndarray, errors_worse: np.ndarray, *, horizon: int, better: str, worse: str) -> Comparison:
    """Test H0 "equal mean absolute error" against H1 "`better` has the lower one", with the Harvey,
    Leybourne and Newbold (1997) small-sample correction and Student's t with n - 1 degrees of freedom.
    Identical forecasts are no evidence either way (p = 1)."""
    differential = np.abs(np.asarray(errors_worse, dtype=np.float64)) - np.abs(np.asarray(errors_better, dtype=np.float64))
    n = len(differential)
    if n < 2 * horizon + 2:
        raise ValueError(f"{n} forecasts are too few to compare {horizon}-step forecasts")
    lags = newey_west_lags(n, horizon)
    variance = long_run_variance(differential, lags)
    mean = float(np.mean(differential))
    if variance <= 0.0:
        statistic, p_value = 0.0, 1.0
    else:
        correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
        statistic = mean / math.sqrt(variance / n) * correction
        p_value = float(stats.t.sf(statistic, df=n - 1))
    return Comparison(better, worse, mean, float(statistic), p_value, lags, n)


def intervals(calibration_log_errors: np.ndarray, coverage_log_errors: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """Half-widths on the log-price scale for each level in percent, keyed "80", "95" (a forecast p has
    the interval [p·exp(-w), p·exp(w)]), and the share of the later window's outcomes each one covered."""
    calibration = np.abs(np.asarray(calibration_log_errors, dtype=np.float64))
    later = np.abs(np.asarray(coverage_log_errors, dtype=np.float64))
    widths, covered = {}, {}
    for percent in INTERVAL_LEVELS:
        width = round(conformal_half_width(calibration, percent / 100), 6)
        widths[str(percent)] = width
        covered[str(percent)] = round(float(np.mean(later <= width)), 4)
    return widths, covered
