"""How often the trainer promotes a model, and how well its intervals cover, over many seeded histories.

Two kinds of history, 2019 to MODEL_AS_OF:
- random walks (daily log-returns N(0, 1.5%)): nothing to learn, so every promotion is a false one;
- the demo's mean-reverting markets (demo/prices.py) with other seeds: a real, learnable edge.

For each history the trainer runs as it is (`training.train`, no model serving yet) and we record whether
it would serve the model, and the coverage of both methods' 80% and 95% intervals on the coverage window
(calibrated on the window before it). tests/images/test_forecast_skill.py holds these figures to the
issue's thresholds; `make bench` prints them.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timezone

import numpy as np

from common.contract import INTERVAL_LEVELS
from common.schema import PriceRow
from common.trading_calendar import trading_days

AS_OF = date(2026, 11, 20)
START = date(2019, 1, 2)
SEEDS = tuple(range(20))


@dataclass(frozen=True)
class Skill:
    kind: str
    horizon: int
    seeds: int
    promotion_rate: float
    coverage: dict[str, dict[str, float]]
    """Method → level ("80", "95") → coverage averaged over the seeds."""
    p_values: tuple[float, ...]

    def lines(self) -> list[str]:
        cover = "; ".join(
            f"{method} " + ", ".join(f"{level}%: {value:.1%}" for level, value in levels.items())
            for method, levels in self.coverage.items()
        )
        return [
            f"{self.kind}, horizon {self.horizon}: model promoted in {self.promotion_rate:.0%} of {self.seeds} seeds "
            f"(median p = {np.median(self.p_values):.3f})",
            f"  interval coverage on the later window, mean over seeds: {cover}",
        ]


def random_walk(seed: int, commodity: str = "corn") -> list[PriceRow]:
    days = trading_days(START, AS_OF)
    closes = 5.0 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.015, len(days))))
    return [PriceRow(day, commodity, round(float(close), 4)) for day, close in zip(days, closes)]


def mean_reverting(seed: int, commodity: str = "corn") -> list[PriceRow]:
    from demo.prices import generate

    return generate(commodity, AS_OF, seed=seed)


HISTORIES = {"random walk": random_walk, "mean-reverting (demo)": mean_reverting}


def _one(args: tuple[str, int, int]) -> tuple[bool, float, dict[str, dict[str, float]]]:
    from trainer import skill, training

    kind, seed, horizon = args
    result = training.train(
        "corn", HISTORIES[kind](seed), as_of=AS_OF, now=datetime(2026, 11, 20, 3, tzinfo=timezone.utc), min_improvement=0.0,
        horizon=horizon,
    )
    backtest = result.backtest
    coverage = {}
    for method, column in (("model", "predicted"), ("naive", "naive")):
        errors = np.log(backtest["actual"].to_numpy() / backtest[column].to_numpy())
        calibration = (backtest["window"] == "calibration").to_numpy()
        _, coverage[method] = skill.intervals(errors[calibration], errors[~calibration])
    return result.serves == "model", result.metadata["tests"]["model_vs_naive"]["p_value"], coverage


def measure(kind: str, horizon: int, seeds: tuple[int, ...] = SEEDS) -> Skill:
    """Train on every seed's history (in parallel, one process per core) and summarise. The workers are
    spawned, not forked: a fork copies the locks of whatever threads the parent runs (the tests' emulator
    server) and can hang the children."""
    workers = max(1, min(len(seeds), os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = list(pool.map(_one, [(kind, seed, horizon) for seed in seeds]))
    coverage = {
        method: {str(level): float(np.mean([run[2][method][str(level)] for run in runs])) for level in INTERVAL_LEVELS}
        for method in ("model", "naive")
    }
    return Skill(kind, horizon, len(seeds), float(np.mean([run[0] for run in runs])), coverage, tuple(run[1] for run in runs))


CONFIGURATIONS = (("random walk", 1), ("random walk", 5), ("mean-reverting (demo)", 1), ("mean-reverting (demo)", 5))
"""What `make bench` measures; the test holds random walks at horizon 1 and the demo at horizon 5."""
TARGETS = {("random walk", 1): (None, 0.10), ("random walk", 5): (None, 0.10), ("mean-reverting (demo)", 5): (0.80, None)}
"""(minimum, maximum) promotion rate; coverage must be within COVERAGE_TOLERANCE of nominal everywhere."""
COVERAGE_TOLERANCE = 0.03


def met(measured: list[Skill]) -> bool:
    for result in measured:
        low, high = TARGETS.get((result.kind, result.horizon), (None, None))
        if (low is not None and result.promotion_rate < low) or (high is not None and result.promotion_rate > high):
            return False
        if any(abs(value - int(level) / 100) > COVERAGE_TOLERANCE for levels in result.coverage.values() for level, value in levels.items()):
            return False
    return True


def report(measured: list[Skill]) -> str:
    rows = ["| history | horizon | promoted | median p | model 80% / 95% | naive 80% / 95% |", "|---|---|---|---|---|---|"]
    for r in measured:
        model, naive = r.coverage["model"], r.coverage["naive"]
        rows.append(
            f"| {r.kind} | {r.horizon} | {r.promotion_rate:.0%} of {r.seeds} | {np.median(r.p_values):.3f} | "
            f"{model['80']:.1%} / {model['95']:.1%} | {naive['80']:.1%} / {naive['95']:.1%} |"
        )
    return "\n".join(rows) + (
        "\n\nCoverage is measured on the 250 newest out-of-sample days, with intervals calibrated on the 250 before them."
    )


def summary(measured: list[Skill]) -> list[str]:
    return [
        f"promotion on {r.kind} at horizon {r.horizon}: {r.promotion_rate:.0%}"
        + {(None, 0.10): " (target <= 10%)", (0.80, None): " (target >= 80%)"}.get(TARGETS.get((r.kind, r.horizon)), " (reported)")
        for r in measured
    ]


def main() -> None:
    measured = [measure(kind, horizon) for kind, horizon in CONFIGURATIONS]
    print(report(measured))
    print("\n".join(summary(measured)))


if __name__ == "__main__":
    main()
