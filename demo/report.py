"""What `make demo` shows a person: the forecast and backtest tables (at most 100 columns), the line
saying what the mobile app will display, and one chart per commodity.

Everything here is drawn from what the workloads wrote: the predictor's result (its price, forecast,
direction and served interval bounds), the trainer's backtest.csv (each out-of-sample day's forecasts
and, on the coverage window, the half-widths the predictor's code served) and the serving version's
metadata (`intervals.coverage`, measured by the trainer on the same days).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from common import intervals as interval_methods
from common.contract import INTERVAL_LEVELS
from common.schema import PriceRow
from predictor.service import FLAT_THRESHOLD_PCT

RECENT_CLOSES = 120
"""Trading days (about six months) of closes on a chart's forecast panel."""
ZOOM_CLOSES = 5
"""Trading days of closes beside it, where a one-day fan is wide enough to see."""
CALIBRATION_SHADE, COVERAGE_SHADE = "0.88", "#eef4fa"
"""The backtest panel's two windows: grey where the intervals are calibrated, pale blue where they serve."""
P_VALUE_FLOOR = 0.001
"""p-values below this print as `<0.001`: the test's tail beyond it says nothing a reader can use."""
INTERVAL_NAMES = {interval_methods.ADAPTIVE: "adaptive", interval_methods.SCALED: "scaled", interval_methods.FIXED: "fixed"}
"""A table's short name for each interval method (the notes below the table give the full ones)."""
INTERVAL_NOTES = {
    interval_methods.ADAPTIVE: (
        "split-conformal on errors scaled by the volatility known that day,",
        "calibrated on the older {calibration} of those days, the quantile adapted online from each hit or miss.",
    ),
    interval_methods.SCALED: ("volatility-scaled, the calibrated quantile not adapted (a fallback).",),
    interval_methods.FIXED: ("one width per level (a version published before adaptive intervals).",),
}
"""What each interval method is, in the notes below the forecast table (lines of at most 100 columns)."""


def format_p_value(p: float) -> str:
    """Two significant digits (`0.0042`, `0.19`, `0.050`), or `<0.001` below the floor."""
    if p < P_VALUE_FLOOR:
        return f"<{P_VALUE_FLOOR:g}"
    return f"{p:#.2g}"


def _interval(result: dict, level: int) -> str:
    return f"{result[f'lower_{level}']:.2f}–{result[f'upper_{level}']:.2f}"


def _layout(header: list[tuple[str, str]], rows: list[list[str]], left: int = 1) -> list[str]:
    """Two header lines and the rows, each column as wide as its widest cell; the first `left` columns
    are left-aligned, the rest right-aligned (numbers)."""
    widths = [max(len(top), len(bottom), *(len(row[i]) for row in rows)) for i, (top, bottom) in enumerate(header)]

    def line(cells: list[str]) -> str:
        return " ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [line([top for top, _ in header]), line([bottom for _, bottom in header])]
    return [lines[0], lines[1], "-" * len(lines[1]), *(line(row) for row in rows)]


def _one(results: dict[str, dict], field: str) -> str:
    values = {result[field] for result in results.values()}
    if len(values) != 1:
        raise ValueError(f"the forecast table needs one {field} for every commodity, got {sorted(values)}")
    return values.pop()


def forecast_table(
    results: dict[str, dict], models: dict[str, dict], backtests: dict[str, "Backtest"], *,
    horizon: int, significance: float, min_improvement: float = 0.0,
) -> list[str]:
    """Per commodity: the close, the forecast, its change and direction, both intervals, the method
    serving and why (the p-value), the interval method; then what the columns mean."""
    ahead = "the next trading day" if horizon == 1 else f"{horizon} trading days ahead"
    caption = f"forecasts for {_one(results, 'target_date')} ({ahead}) from the closes of {_one(results, 'price_date')}, USD per bushel"
    header = [
        ("", "commodity"), ("", "close"), ("", "forecast"), ("change", "USD"), ("", "%"), ("", "dir"),
        ("80%", "interval"), ("95%", "interval"), ("", "method"), ("", "p-value"), ("interval", "method"),
    ]
    rows = [
        [
            commodity, f"{r['current_price']:.4f}", f"{r['predicted_price']:.4f}", f"{r['predicted_price'] - r['current_price']:+.4f}",
            f"{r['change_pct']:+.2f}", r["direction"], _interval(r, 80), _interval(r, 95), r["method"],
            format_p_value(models[commodity]["p_value"]), INTERVAL_NAMES.get(r["interval_method"], r["interval_method"]),
        ]
        for commodity, r in results.items()
    ]
    some = next(iter(backtests.values()))
    days, calibration = some.rows("calibration") + some.rows("coverage"), some.rows("calibration")
    used = sorted({r["interval_method"] for r in results.values()})
    return [
        caption, "", *_layout(header, rows), "",
        f"dir: up or down; flat for a move under {FLAT_THRESHOLD_PCT:g}% (so the naive forecast is always flat).",
        f"method: model (XGBoost) serves only when a one-sided Diebold-Mariano test on the {days} newest",
        f"out-of-sample days finds it better than naive (the last close): p-value below {significance:g}"
        + ("," if min_improvement else "."),
        *([f"and its MAE more than {min_improvement:.1%} lower than naive's."] if min_improvement else []),
        "interval: the close on the target date falls inside with 80% or 95% probability.",
        *(line for m in used for line in _interval_note(m, calibration)),
    ]


def _interval_note(method: str, calibration: int) -> list[str]:
    first, *more = INTERVAL_NOTES.get(method, ("",))
    return [f"{INTERVAL_NAMES.get(method, method)} = {method}: {first}", *(f"  {line.format(calibration=calibration)}" for line in more)]


def backtest_table(backtests: dict[str, "Backtest"], coverage: dict[str, dict[str, float]], methods: dict[str, str]) -> list[str]:
    """Per commodity, on the out-of-sample days: both methods' mean absolute errors, and the coverage of
    the serving method's intervals on the coverage window (as the trainer measured it)."""
    header = [
        ("", "commodity"), ("", "serving"), ("model", "MAE"), ("naive", "MAE"), ("model vs", "naive"),
        *((f"{level}% interval", "covered") for level in INTERVAL_LEVELS),
    ]
    rows = []
    for commodity, backtest in backtests.items():
        model, naive = backtest.mae("model"), backtest.mae("naive")
        rows.append([
            commodity, methods[commodity], f"{model:.4f}", f"{naive:.4f}", f"{model / naive - 1:+.1%}" if naive else "-",
            *(f"{coverage[commodity][str(level)]:.1%}" for level in INTERVAL_LEVELS),
        ])
    some = next(iter(backtests.values()))
    return [
        f"backtest: {some.rows('calibration') + some.rows('coverage')} out-of-sample trading days, USD per bushel", "",
        *_layout(header, rows, left=2), "",
        "MAE: mean absolute error; model vs naive: the model's MAE relative to naive's (below 0: smaller).",
        f"covered: share of the newest {some.rows('coverage')} days whose close fell inside the interval served that",
        f"day (the older {some.rows('calibration')} calibrate it), as the trainer measured it (the version's metadata).",
    ]


def legacy_explanation(document: dict, result: dict) -> str:
    """One line: what the mobile app will show for this document, and why it can differ from our
    up/down/flat (the replaced pipeline's contract, kept by `predictor.service.legacy_document`: "UP"
    when the forecast is above the close, else "DOWN"; README, "The mobile app's feed")."""
    shown = f"the app will show {document['direction']}"
    predicted, current = document["predicted_price"], document["current_price"]
    if predicted == current:
        forecast = "a naive forecast" if result["method"] == "naive" else "the forecast"
        return f"{shown}: {forecast} equals the close, and only a rise is UP (ours: flat)."
    relation = "above" if predicted > current else "below"
    reason = f"{shown}: the forecast {predicted:.4f} is {relation} the close {current:.4f}"
    if result["direction"] == "flat":
        return f"{reason} (ours: flat, under {FLAT_THRESHOLD_PCT:g}%)."
    return f"{reason} (ours: {result['direction']}, {result['change_pct']:+.2f}%)."


NO_LEGACY_FEED = "no legacy feed: the stack sets no legacy_bucket, so the predictor wrote no mobile-app document."
"""What the demo prints instead of the app's document when the stack has no legacy feed."""


@dataclass(frozen=True)
class Backtest:
    """The trainer's backtest.csv: one row per out-of-sample day, in date order."""

    frame: pd.DataFrame

    @classmethod
    def parse(cls, text: str) -> "Backtest":
        return cls(pd.read_csv(io.StringIO(text), parse_dates=["date", "target_date"]))

    def rows(self, window: str) -> int:
        return int((self.frame["window"] == window).sum())

    @property
    def dates(self) -> np.ndarray:
        """The day each forecast was made (its close the last one known)."""
        return self.frame["date"].to_numpy(dtype="datetime64[D]")

    @property
    def target_dates(self) -> np.ndarray:
        return self.frame["target_date"].to_numpy(dtype="datetime64[D]")

    def window(self, window: str) -> tuple[date, date]:
        """The first and last forecast date of a window ("calibration" or "coverage")."""
        days = self.frame.loc[self.frame["window"] == window, "date"].dt.date
        return days.iloc[0], days.iloc[-1]

    def forecast(self, method: str) -> np.ndarray:
        return self.frame["predicted" if method == "model" else "naive"].to_numpy(dtype=np.float64)

    def mae(self, method: str) -> float:
        return float(np.mean(np.abs(self.frame["actual"].to_numpy() - self.forecast(method))))

    def error_pct(self, method: str) -> np.ndarray:
        """How far each day's close fell from the forecast, in percent of the forecast."""
        return (self.frame["actual"].to_numpy() / self.forecast(method) - 1) * 100

    def band_pct(self, method: str, level: int) -> tuple[np.ndarray, np.ndarray]:
        """The served interval `forecast × exp(∓half-width)` in the same percent; NaN on calibration days."""
        width = self.frame[f"{method}_half_width_{level}"].to_numpy(dtype=np.float64)
        return np.expm1(-width) * 100, np.expm1(width) * 100


@dataclass(frozen=True)
class ChartInputs:
    commodity: str
    closes: list[PriceRow]
    """The commodity's closes through the forecast's price date."""
    result: dict
    """The predictor's result."""
    backtest: Backtest
    """The serving version's backtest.csv."""
    metadata: dict
    """The serving version's metadata.json: its `calibration_window` and `coverage_window` (the forecast
    dates of each, as the trainer recorded them) and `intervals.coverage` (level → share of the coverage
    window covered, as the trainer measured it)."""

    @property
    def coverage(self) -> dict[str, float]:
        return self.metadata["intervals"]["coverage"]

    def window(self, window: str) -> tuple[date, date, int]:
        """A window's first and last forecast date and its days, from the metadata; refused when the
        backtest says otherwise (a backtest and metadata of different versions)."""
        recorded = self.metadata[f"{window}_window"]
        first, last = date.fromisoformat(recorded["first"]), date.fromisoformat(recorded["last"])
        if (first, last) != self.backtest.window(window) or recorded["rows"] != self.backtest.rows(window):
            raise ValueError(f"{self.commodity}: the metadata's {window} window {recorded} is not the backtest's")
        return first, last, recorded["rows"]


def chart(inputs: ChartInputs):
    """The figure: the recent closes with the forecast's fan on top (and the fan zoomed beside them, a
    one-day fan being a sliver of six months), the backtest's errors below."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplot_mosaic(
        [["recent", "zoom"], ["backtest", "backtest"]], figsize=(12, 9), width_ratios=(3.3, 1), height_ratios=(3, 2),
    )
    _forecast_panel(axes["recent"], inputs)
    _zoom_panel(axes["zoom"], inputs)
    _backtest_panel(axes["backtest"], inputs)
    figure.suptitle(f"{inputs.commodity} (synthetic data): the next forecast, and how its method did out of sample")
    figure.text(0.01, 0.005, "Synthetic prices generated by demo/prices.py - not market data.", fontsize=8, color="0.4")
    figure.tight_layout(rect=(0, 0.015, 1, 1))
    return figure


def _fan(axis, inputs: ChartInputs, *, bars: bool) -> None:
    """From the last close to the target date, both served intervals as a fan (with `bars`, drawn
    again as bars on the forecast point, the 80% the thicker), and the forecast."""
    result = inputs.result
    last, target = inputs.closes[-1].date, date.fromisoformat(result["target_date"])
    current, predicted = result["current_price"], result["predicted_price"]
    for level, alpha, bar in ((95, 0.18, 1.5), (80, 0.35, 5)):
        lower, upper = result[f"lower_{level}"], result[f"upper_{level}"]
        axis.fill_between([last, target], [current, lower], [current, upper], color="tab:blue", alpha=alpha, linewidth=0,
                          label=f"{level}% interval {lower:.2f}–{upper:.2f}")
        if bars:
            axis.plot([target, target], [lower, upper], color="tab:blue", alpha=min(1, 2 * alpha + 0.2), linewidth=bar,
                      solid_capstyle="butt")
    axis.plot([last, target], [current, predicted], color="tab:red", linestyle="--", linewidth=1)
    axis.plot([target], [predicted], "o", color="tab:red", zorder=5, label=f"{result['method']} forecast {predicted:.4f}")
    axis.plot([last], [current], "o", color="0.1", markersize=4, zorder=5)


def _forecast_panel(axis, inputs: ChartInputs) -> None:
    """The newest RECENT_CLOSES closes and the fan; the current price (the last close) and the forecast labelled."""
    result, rows = inputs.result, inputs.closes[-RECENT_CLOSES:]
    last, target = rows[-1].date, date.fromisoformat(result["target_date"])
    current, predicted = result["current_price"], result["predicted_price"]
    axis.plot([r.date for r in rows], [r.close for r in rows], color="0.25", linewidth=1.3, label=f"daily close (last {len(rows)})")
    _fan(axis, inputs, bars=True)
    axis.annotate(
        f"{result['method']} forecast {predicted:.4f}\nfor {target}: {result['change_pct']:+.2f}%, {result['direction']}",
        (target, predicted), xytext=(12, 10), textcoords="offset points", va="bottom", fontsize=9, color="tab:red",
    )
    axis.annotate(f"current price {current:.4f}\n(the close of {last})", (last, current), xytext=(12, -10), textcoords="offset points",
                  va="top", fontsize=9, arrowprops={"arrowstyle": "-", "color": "0.4", "shrinkA": 0})
    axis.set_xlim(rows[0].date, target + (target - rows[0].date) * 0.34)
    axis.set_title(f"the last {len(rows)} trading days and the forecast for {target}", fontsize=10)
    axis.set_ylabel("USD per bushel")
    bottom, top = axis.get_ylim()
    # The legend goes in the empty margin right of the target date, away from the forecast's labels.
    axis.legend(loc="lower right" if predicted > (bottom + top) / 2 else "upper right", fontsize=8)
    axis.grid(alpha=0.3)


def _zoom_panel(axis, inputs: ChartInputs) -> None:
    """The last ZOOM_CLOSES closes and the fan, each interval bound labelled."""
    import matplotlib.dates as mdates

    result, rows = inputs.result, inputs.closes[-ZOOM_CLOSES:]
    target = date.fromisoformat(result["target_date"])
    axis.plot([r.date for r in rows], [r.close for r in rows], ".-", color="0.25", linewidth=1.3, markersize=5)
    _fan(axis, inputs, bars=False)
    for level in INTERVAL_LEVELS:
        for bound in ("lower", "upper"):
            value = result[f"{bound}_{level}"]
            axis.annotate(f"{level}%: {value:.2f}", (target, value), xytext=(8, 0), textcoords="offset points", va="center",
                          fontsize=8, color="tab:blue")
    axis.annotate(f"{result['predicted_price']:.2f}", (target, result["predicted_price"]), xytext=(8, 0),
                  textcoords="offset points", va="center", fontsize=8, color="tab:red")
    axis.set_xlim(rows[0].date - timedelta(days=1), target + (target - rows[0].date) * 0.6)
    axis.set_title(f"zoomed: the last {len(rows)} closes and the fan", fontsize=10)
    axis.set_xticks([r.date for r in rows] + [target])
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    axis.tick_params(axis="x", labelrotation=90, labelsize=8)
    axis.grid(alpha=0.3)


def _backtest_panel(axis, inputs: ChartInputs) -> None:
    """Each out-of-sample forecast's error (by the day it was made), the bands the serving method
    served on the coverage window (misses marked), both windows shaded as the trainer recorded them,
    and the coverage it measured printed."""
    import matplotlib.dates as mdates

    backtest, method = inputs.backtest, inputs.result["method"]
    dates, error = backtest.dates, backtest.error_pct(method)
    calibration_first, _, calibration_days = inputs.window("calibration")
    coverage_first, coverage_last, coverage_days = inputs.window("coverage")
    # A window runs from its first forecast date to the next one's, so the two spans meet.
    axis.axvspan(calibration_first, coverage_first, color=CALIBRATION_SHADE, zorder=0, linewidth=0, gid="calibration window")
    axis.axvspan(coverage_first, coverage_last, color=COVERAGE_SHADE, zorder=0, linewidth=0, gid="coverage window")
    axis.axvline(coverage_first, color="0.4", linewidth=0.8, linestyle=":")
    axis.axhline(0, color="0.5", linewidth=0.8)
    covered = (backtest.frame["window"] == "coverage").to_numpy()
    for level, alpha in ((95, 0.18), (80, 0.35)):
        lower, upper = backtest.band_pct(method, level)
        axis.fill_between(dates[covered], lower[covered], upper[covered], color="tab:blue", alpha=alpha, linewidth=0,
                          label=f"{level}% interval served")
    lower, upper = backtest.band_pct(method, 80)
    missed = covered & ((error < lower) | (error > upper))
    axis.plot(dates[~missed], error[~missed], ".", color="0.35", markersize=2.5, label=f"{method} forecast's error")
    axis.plot(dates[missed], error[missed], ".", color="tab:red", markersize=4, label="outside the 80% interval")
    measured = ", ".join(f"{level}% interval {inputs.coverage[str(level)]:.1%}" for level in INTERVAL_LEVELS)
    for x, text in (
        (calibration_first, f"calibration window: the older {calibration_days} days set the intervals"),
        (coverage_first, f"coverage window: the newest {coverage_days} days, as served;\n  measured coverage: {measured}"),
    ):
        axis.annotate(f"  {text}", (x, 1), xycoords=("data", "axes fraction"), va="top", fontsize=8, color="0.25",
                      xytext=(0, -4), textcoords="offset points")
    axis.set_title(
        f"backtest: the {method} forecast's error on {len(dates)} out-of-sample days "
        f"(MAE model {backtest.mae('model'):.4f}, naive {backtest.mae('naive'):.4f} USD)", fontsize=10,
    )
    axis.set_ylabel("close vs forecast, %")
    horizon = inputs.metadata["horizon"]
    later = "the next trading day" if horizon == 1 else f"{horizon} trading days later"
    axis.set_xlabel(f"the day each forecast was made (its error: the close {later} vs the forecast)", fontsize=8)
    largest = np.nanmax(np.abs(error))
    axis.set_ylim(-1.1 * largest, 1.4 * largest)  # room above for the windows' labels
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=4, frameon=False)
    axis.grid(alpha=0.3)
