"""The trainer's statistics (trainer/skill.py), checked against an independent implementation and by
simulation: the HAC variance equals statsmodels' Newey–West estimate, the Diebold–Mariano test rejects
about as often as its level says when two methods are equally good (also with the overlapping errors of
multi-step forecasts), and detects a real difference; conformal intervals cover what they promise."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from trainer import skill


@pytest.mark.parametrize("lags", [0, 1, 4, 9])
def test_long_run_variance_is_statsmodels_newey_west(lags):
    values = np.random.default_rng(lags).standard_t(df=5, size=400).cumsum() % 3.0
    fitted = sm.OLS(values, np.ones_like(values)).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False})
    assert skill.long_run_variance(values, lags) / len(values) == pytest.approx(float(fitted.cov_params()[0, 0]), rel=1e-10)


def test_lags_cover_the_overlap_of_multi_step_forecasts():
    assert skill.newey_west_lags(500, 1) == 5
    assert skill.newey_west_lags(500, 10) == 9


def _ma_errors(rng, n: int, horizon: int, scale: float = 1.0) -> np.ndarray:
    """Errors of `horizon`-step forecasts made daily: a moving sum of `horizon` shocks (overlapping)."""
    shocks = rng.normal(0, scale, n + horizon - 1)
    return np.convolve(shocks, np.ones(horizon), mode="valid")


@pytest.mark.parametrize("horizon", [1, 5])
def test_equally_good_methods_are_called_better_about_as_often_as_the_level(horizon):
    rng = np.random.default_rng(2026 + horizon)
    trials, level = 1000, 0.05
    rejections = sum(
        skill.diebold_mariano(_ma_errors(rng, 500, horizon), _ma_errors(rng, 500, horizon), horizon=horizon, better="a", worse="b").p_value < level
        for _ in range(trials)
    )
    # Binomial(1000, 0.05) lies in [30, 72] with probability > 99.9 %; overlap ignored would reject far more at horizon 5.
    assert 25 <= rejections <= 75, f"{rejections / trials:.1%} rejections at the {level:.0%} level"


def test_a_real_difference_is_detected():
    rng = np.random.default_rng(1)
    better, worse = _ma_errors(rng, 500, 1, scale=0.9), _ma_errors(rng, 500, 1, scale=1.0)
    comparison = skill.diebold_mariano(better, worse, horizon=1, better="model", worse="naive")
    assert comparison.p_value < 0.05 and comparison.mean_loss_difference > 0
    reverse = skill.diebold_mariano(worse, better, horizon=1, better="naive", worse="model")
    assert reverse.p_value > 0.95, "one-sided: the worse method is never called better"


def test_identical_forecasts_are_no_evidence():
    errors = np.random.default_rng(3).normal(size=300)
    assert skill.diebold_mariano(errors, errors.copy(), horizon=1, better="a", worse="b").p_value == 1.0


def test_too_few_forecasts_are_refused():
    with pytest.raises(ValueError, match="too few"):
        skill.diebold_mariano(np.ones(10), np.ones(10), horizon=5, better="a", worse="b")


def test_conformal_intervals_cover_at_least_their_level_on_exchangeable_errors():
    rng = np.random.default_rng(5)
    covered = {"80": [], "95": []}
    for _ in range(400):
        errors = rng.laplace(0, 0.01, 500)
        _, coverage = skill.intervals(errors[:250], errors[250:])
        for level, value in coverage.items():
            covered[level].append(value)
    # Split conformal: expected coverage is exactly ceil((n+1) level) / (n+1) on exchangeable errors
    # (0.8008 and 0.9522 for n = 250); 400 repetitions estimate it to within about ±0.004 (3 standard errors).
    for level in ("80", "95"):
        expected = np.ceil(251 * int(level) / 100) / 251
        assert abs(np.mean(covered[level]) - expected) < 0.006, (level, np.mean(covered[level]), expected)


def test_too_few_calibration_errors_for_a_level_are_refused():
    with pytest.raises(ValueError, match="too few for a 95% interval"):
        skill.conformal_half_width(np.ones(10), 0.95)
