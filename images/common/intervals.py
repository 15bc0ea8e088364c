"""Prediction intervals, numpy only: shared by the trainer (calibration, measured coverage, the state it
hands over) and the predictor (serving), so both compute exactly the same widths.

Two methods:
- fixed (versions published before): the split-conformal quantile of absolute log errors, one width
  for a week;
- adaptive: each day's half-width is `quantile × volatility`. The volatility is known when the forecast
  is made (a fast exponentially weighted and a slow equally weighted average of squared daily log
  returns up to that day's close, blended: VolatilityScale); the quantile is split-conformal on *normalised* errors
  (|log error| / volatility) and is then adapted online from the realised hits by adaptive conformal
  inference (Gibbs & Candès 2021, "Adaptive conformal inference under distribution shift"): after each
  resolved forecast, alpha += step × (nominal miss rate − missed), and the quantile used is the
  ⌈(n + 1)(1 − alpha)⌉-th smallest calibration score. Alpha stays within [−step, 1 + step], so over any
  T consecutive forecasts the miss rate is within (1 + 2 step) / (step × T) of nominal whatever the
  errors do (their Proposition 4.1), except while the widest interval (the largest calibration score)
  still misses and alpha is held at −step. bench/intervals.py measures what it does year by year.

The adaptive state is never stored between nights: it is a pure function of the version (its calibration
and its state at its last price date) and of the prices since, replayed on every run, so re-runs, retries
and back-fills cannot apply a day's update twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FIXED = "fixed-conformal"
"""`interval_method` of a version published before intervals adapted: one width per level."""
SCALED = "scaled-conformal"
"""Volatility-scaled, calibrated quantile not adapted: a back-fill before the version's data, or a fallback."""
ADAPTIVE = "adaptive-conformal"
"""Volatility-scaled, quantile adapted online from the realised hits: what a current version serves."""

VOLATILITY_DECAY = 0.94
"""Weight of yesterday's value in the fast average (RiskMetrics' daily value): a half-life of 11 trading days."""
FAST_RETURNS = 60
"""Returns the fast average runs over, truncated (the older weights it drops add up to 0.94^60 = 2%)."""
SLOW_RETURNS = 100
"""Returns the slow, equally weighted average runs over: about five months."""
FAST_WEIGHT = 0.3
"""Share of the fast variance in the blend. The fast average alone over-reacts (a jump raises it more than
it raises the days after): on the real series of bench/intervals.py the 80% interval then covered 87-89%
of the most volatile quarter of days; blended 0.3/0.7 with the slow one, 84%. Both averages end at the
forecast's own close and need only the prices the predictor reads, so a volatility regime shift reaches
the widths within weeks whatever the version's age (blending with a long-run level fixed at training
instead left the 80% interval within ±7 points in only 7 of 12 of the simulated regime shifts of
tests/images/test_adaptive_intervals.py)."""
ADAPTATION_STEP = 0.01
"""Gibbs & Candès' gamma: how far one hit or miss moves alpha (chosen among 0.005, 0.01 and 0.02 in
bench/intervals.py: a larger step holds each year's coverage tighter and widens the intervals)."""
MIN_VOLATILITY = 1e-6
"""Floor of a daily volatility (a flat spell must not divide by zero)."""
ROWS_NEEDED = SLOW_RETURNS + 1
"""Closes before (and including) a forecast's day that its volatility needs."""


def conformal_half_width(scores: np.ndarray, level: float) -> float:
    """Split-conformal quantile: the ceil((n + 1) level)-th smallest score, so a new score exchangeable
    with these falls at or below it with probability at least `level`."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    rank = math.ceil((len(ordered) + 1) * level)
    if rank > len(ordered):
        raise ValueError(f"{len(ordered)} calibration errors are too few for a {level:.0%} interval")
    return float(ordered[rank - 1])


def recent_volatility(closes: np.ndarray, *, decay: float = VOLATILITY_DECAY, returns: int = FAST_RETURNS) -> np.ndarray:
    """Per row, the exponentially weighted standard deviation of the `returns` daily log returns up to
    and including that row's close; NaN where fewer are known."""
    log_close = np.log(np.asarray(closes, dtype=np.float64))
    out = np.full(len(log_close), np.nan)
    if len(log_close) <= returns:
        return out
    squared = np.diff(log_close) ** 2
    weights = decay ** np.arange(returns)[::-1]
    out[returns:] = np.sqrt(np.lib.stride_tricks.sliding_window_view(squared, returns) @ (weights / weights.sum()))
    return out


@dataclass(frozen=True)
class VolatilityScale:
    """The ex-ante scale of a day's error: a fast and a slow average of squared daily log returns,
    blended (the one-step forecast of a GARCH(1,1) has the same shape: recent news plus a level it
    reverts to), computed from the closes up to the forecast's own day."""

    decay: float = VOLATILITY_DECAY
    fast_returns: int = FAST_RETURNS
    slow_returns: int = SLOW_RETURNS
    fast_weight: float = FAST_WEIGHT

    def of(self, closes: np.ndarray) -> np.ndarray:
        """Per row, the daily volatility known at that row's close; NaN where too few closes precede it."""
        fast = recent_volatility(closes, decay=self.decay, returns=self.fast_returns)
        slow = recent_volatility(closes, decay=1.0, returns=self.slow_returns)
        return np.maximum(np.sqrt(self.fast_weight * fast**2 + (1 - self.fast_weight) * slow**2), MIN_VOLATILITY)

    def as_dict(self) -> dict:
        return {"decay": self.decay, "fast_returns": self.fast_returns, "slow_returns": self.slow_returns, "fast_weight": self.fast_weight}


def normalised_scores(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """|log(actual / predicted)| in units of the forecast day's volatility."""
    return np.abs(np.log(np.asarray(actual, dtype=np.float64) / np.asarray(predicted, dtype=np.float64))) / scale


def adapted_quantile(calibration: np.ndarray, alpha: float) -> float:
    """The ⌈(n + 1)(1 − alpha)⌉-th smallest of the sorted calibration scores, the rank held within 1..n
    (never an unbounded interval, never an empty one)."""
    n = len(calibration)
    rank = min(max(math.ceil((n + 1) * (1 - alpha) - 1e-9), 1), n)
    return float(calibration[rank - 1])


def adapt(
    calibration: np.ndarray, scores: np.ndarray, initial: list[float], *, level: float, step: float, horizon: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alpha and the quantile for each of consecutive forecasts (one per trading day), and whether each
    missed (NaN while its outcome is unknown). The first `horizon` alphas are `initial` (forecasts made
    before any of them resolved); after that, the forecast of day i uses the alpha updated by the
    forecast of day i − horizon, the newest one resolved by then (the delayed feedback of a multi-day
    horizon)."""
    nominal_miss = 1 - level
    alphas = np.empty(len(scores))
    quantiles = np.empty(len(scores))
    missed = np.full(len(scores), np.nan)
    for i in range(len(scores)):
        if i < horizon:
            alphas[i] = initial[i] if i < len(initial) else nominal_miss
        else:
            resolved = missed[i - horizon]
            update = 0.0 if np.isnan(resolved) else step * (nominal_miss - resolved)
            alphas[i] = min(max(alphas[i - 1] + update, -step), 1 + step)
        quantiles[i] = adapted_quantile(calibration, alphas[i])
        if not np.isnan(scores[i]):
            missed[i] = float(scores[i] > quantiles[i])
    return alphas, quantiles, missed


CALIBRATION_DIGITS = 6
"""Scores and alphas are stored rounded; the trainer measures coverage with the rounded values it stores."""


@dataclass(frozen=True)
class Adaptive:
    """What a version needs to serve adaptive intervals: the scale, the sorted calibration scores, the
    step, and its state at its last price date (the alphas of the `horizon` newest forecasts, not yet
    resolved then)."""

    scale: VolatilityScale
    calibration: np.ndarray
    step: float
    horizon: int
    state_date: str
    """ISO date of the version's newest close: the replay starts there."""
    state: dict[str, list[float]]
    """Level in percent → the alphas of the forecasts made on the `horizon` newest days up to state_date."""

    def as_dict(self) -> dict:
        return {
            "method": ADAPTIVE,
            "volatility": self.scale.as_dict(),
            "step": self.step,
            "calibration_scores": [round(float(v), CALIBRATION_DIGITS) for v in self.calibration],
            "state": {"price_date": self.state_date, "alpha": self.state},
        }

    @classmethod
    def from_dict(cls, document, *, horizon: int, levels: tuple[int, ...]) -> "Adaptive":
        """The stored form, checked; any flaw is a ValueError saying what (the caller falls back)."""
        volatility = document["volatility"]
        scale = VolatilityScale(
            decay=float(volatility["decay"]), fast_returns=int(volatility["fast_returns"]),
            slow_returns=int(volatility["slow_returns"]), fast_weight=float(volatility["fast_weight"]),
        )
        if not (0 < scale.decay <= 1 and 1 <= scale.fast_returns and 1 <= scale.slow_returns and 0 <= scale.fast_weight <= 1):
            raise ValueError(f"volatility parameters {volatility} are out of range")
        calibration = np.asarray(document["calibration_scores"], dtype=np.float64)
        if calibration.ndim != 1 or len(calibration) < 20 or not np.all(np.isfinite(calibration)) or np.any(calibration < 0) \
                or np.any(np.diff(calibration) < 0):
            raise ValueError("calibration_scores must be at least 20 finite, non-negative, sorted numbers")
        step = float(document["step"])
        if not 0 <= step <= 0.5:
            raise ValueError(f"step {step} is not between 0 and 0.5")
        return cls(scale, calibration, step, horizon, "", {}).with_state(document.get("state"), levels=levels)

    def with_state(self, state, *, levels: tuple[int, ...]) -> "Adaptive":
        """This calibration with `state` checked: a date and `horizon` alphas per level. A flawed state
        is a ValueError; `state=None` starts from the calibrated quantile (alpha = 1 − level)."""
        if state is None:
            return Adaptive(self.scale, self.calibration, self.step, self.horizon, "", {})
        price_date = str(state["price_date"])
        alphas = {str(level): [float(a) for a in state["alpha"][str(level)]] for level in levels}
        if len(price_date) != 10 or any(len(a) != self.horizon or not all(-1 <= x <= 2 for x in a) for a in alphas.values()):
            raise ValueError(f"state {str(state)[:80]} must name a date and {self.horizon} alphas in [-1, 2] per level")
        return Adaptive(self.scale, self.calibration, self.step, self.horizon, price_date, alphas)


def calibrate(
    closes: np.ndarray, forecast_rows: np.ndarray, actual: np.ndarray, predicted: np.ndarray, *, horizon: int,
    levels: tuple[int, ...], state_date: str, scale: VolatilityScale = VolatilityScale(), step: float = ADAPTATION_STEP,
    calibration_rows: int = 250,
) -> tuple[Adaptive, dict, dict[str, np.ndarray]]:
    """Calibrate on the first `calibration_rows` out-of-sample forecasts (made at `forecast_rows` of
    `closes`, consecutive days), then walk the rest as the predictor would serve them, day by day, and on
    through the `horizon` newest days (not yet resolved): the version's state. Returns it, what the walk
    measured (coverage per level, overall and on the quarter of days with the highest volatility), and
    the log half-width it served each walked day, per level."""
    volatility = scale.of(closes)[forecast_rows]
    scores = np.round(normalised_scores(actual, predicted, volatility), CALIBRATION_DIGITS)
    calibration = np.sort(scores[:calibration_rows])
    walked = np.concatenate([scores[calibration_rows:], np.full(horizon, np.nan)])
    walked_volatility = volatility[calibration_rows:]
    volatile = walked_volatility >= np.quantile(walked_volatility, 0.75)
    state, measured = {}, {"coverage": {}, "top_volatility_quarter_coverage": {}, "calibrated_quantile": {}}
    walked_widths = {}
    for level in levels:
        alphas, quantiles, missed = adapt(calibration, walked, [], level=level / 100, step=step, horizon=horizon)
        state[str(level)] = [round(float(a), CALIBRATION_DIGITS) for a in alphas[-horizon:]]
        walked_widths[str(level)] = quantiles[: len(walked_volatility)] * walked_volatility
        resolved = missed[: len(walked_volatility)]
        measured["coverage"][str(level)] = round(1 - float(np.mean(resolved)), 4)
        measured["top_volatility_quarter_coverage"][str(level)] = round(1 - float(np.mean(resolved[volatile])), 4)
        measured["calibrated_quantile"][str(level)] = round(conformal_half_width(calibration, level / 100), CALIBRATION_DIGITS)
    return Adaptive(scale, calibration, step, horizon, state_date, state), measured, walked_widths


def served_half_widths(adaptive: Adaptive, scores: np.ndarray, volatility: float, *, levels: tuple[int, ...]) -> dict[str, float]:
    """Log half-widths for today's forecast: the alphas replayed from the version's state over `scores`
    (one per forecast day from the first pending one to today, NaN while unresolved; empty with no
    state: the calibrated quantile), times today's volatility."""
    widths = {}
    for level in levels:
        initial = adaptive.state.get(str(level), [])
        if len(scores) == 0 or not initial:
            quantile = adapted_quantile(adaptive.calibration, 1 - level / 100)
        else:
            _, quantiles, _ = adapt(adaptive.calibration, scores, initial, level=level / 100, step=adaptive.step, horizon=adaptive.horizon)
            quantile = float(quantiles[-1])
        widths[str(level)] = quantile * volatility
    return widths
