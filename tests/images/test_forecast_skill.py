"""The promotion rule and the intervals, measured over 20 seeded histories each (bench/skill.py):
false promotions on random walks stay at or below 10%, a real edge is promoted in at least 80% of seeds,
and interval coverage on the later window, averaged over seeds, is within 3 points of nominal for both
methods. One seed's 250 errors are too few to judge coverage; twenty seeds' 5000 are enough.

The demo's edge is judged at a week's horizon: at the next trading day it is 0-4.5% of MAE, which 500
out-of-sample days cannot tell from noise in most seeds (make bench prints that figure too)."""

from __future__ import annotations

import pytest

from bench import skill

NOMINAL = {"80": 0.80, "95": 0.95}
TOLERANCE = 0.03


@pytest.fixture(scope="module")
def random_walks():
    return skill.measure("random walk", horizon=1)


@pytest.fixture(scope="module")
def mean_reverting():
    return skill.measure("mean-reverting (demo)", horizon=5)


def test_random_walks_are_almost_never_promoted(random_walks):
    assert random_walks.seeds >= 20
    assert random_walks.promotion_rate <= 0.10, random_walks.lines()


def test_a_real_edge_is_promoted_in_most_seeds(mean_reverting):
    assert mean_reverting.seeds >= 20
    assert mean_reverting.promotion_rate >= 0.80, mean_reverting.lines()


@pytest.mark.parametrize("history", ["random_walks", "mean_reverting"])
@pytest.mark.parametrize("method", ["model", "naive"])
def test_intervals_cover_what_they_promise_on_later_data(request, history, method):
    measured = request.getfixturevalue(history)
    for level, nominal in NOMINAL.items():
        assert abs(measured.coverage[method][level] - nominal) <= TOLERANCE, measured.lines()
