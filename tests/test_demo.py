"""`make demo`: it must succeed, and what it prints and draws must be readable — every line within 100
columns, tables with change, direction and p-values a person can read, the mobile app's document
explained (or one line saying there is no feed), charts whose panels show the recent closes with the
forecast's fan and the backtest with the trainer's windows and measured coverage (checked on the
figure's own artists). Its command line: tests/test_tool_clis.py, and a settings error here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict, replace
from datetime import date, datetime, timezone

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from demo import report  # noqa: E402
from demo.prices import generate  # noqa: E402
from predictor import service  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from trainer import training  # noqa: E402

WIDTH = 100
"""The terminal the demo's tables are written for."""
COMMODITY_ROW = re.compile(r"^(corn|wheat|soybeans) ")
P_VALUE = re.compile(r"^(<0\.001|0\.\d*[1-9]\d|0\.\d*[1-9]0|1\.0)$")
"""Two significant digits, or the floor."""

PREDICTION = service.Prediction(
    commodity="corn", effective_date="2026-12-03", price_date="2026-12-03", target_date="2026-12-04",
    current_price=4.9177, predicted_price=4.9373, change_pct=0.3986, direction="up", method="model",
    lower_80=4.8563, upper_80=5.0196, lower_95=4.8157, upper_95=5.0619, model_version="2026-12-03-abcdef012345",
    model_sha256="ab" * 32, model_age_days=0, input_sha256="cd" * 32, created_at="2026-12-03T14:00:00+00:00",
    interval_method="adaptive-conformal",
)
WRITTEN_AT = datetime(2026, 12, 3, 14, 0, 1, 25005, tzinfo=timezone.utc)


def _naive(prediction: service.Prediction) -> service.Prediction:
    current = prediction.current_price
    return replace(prediction, predicted_price=current, change_pct=0.0, direction="flat", method="naive")


def _demo(*args: str) -> str:
    completed = subprocess.run([sys.executable, "-m", "demo", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    return completed.stdout


@pytest.fixture(scope="module")
def demo_run() -> str:
    return _demo()


def test_demo_prints_predictions_and_writes_charts(demo_run):
    rows = [line.split()[0] for line in demo_run.splitlines() if COMMODITY_ROW.match(line)]
    assert rows == ["corn", "wheat", "soybeans"] * 2, "one row per commodity in the forecast and the backtest tables"
    assert "verified: 3 items" in demo_run
    for commodity in ("corn", "wheat", "soybeans"):
        chart = ROOT / "demo-output" / f"{commodity}.png"
        assert chart.stat().st_size > 10_000 and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_tables_fit_100_columns_with_change_direction_and_readable_p_values(demo_run):
    lines = demo_run.splitlines()
    widest = max(lines, key=len)
    assert len(widest) <= WIDTH, f"every line printed (tables, notes, the app's line) fits {WIDTH} columns: {len(widest)}: {widest}"
    shown = lines[lines.index(next(line for line in lines if line.startswith("forecasts for "))):]
    forecast_rows = [line.split() for line in shown if COMMODITY_ROW.match(line)][:3]
    for commodity, close, forecast, change, pct, direction, _, _, method, p_value, interval_method in forecast_rows:
        assert float(change) == pytest.approx(float(forecast) - float(close), abs=1e-4), f"{commodity}: absolute change"
        assert direction in ("up", "down", "flat") and pct.startswith(("+", "-")), f"{commodity}: direction and change %"
        if method == "naive":
            assert direction == "flat" and float(change) == 0, f"{commodity}: a naive forecast is flat"
        assert P_VALUE.match(p_value), f"{commodity}: p-value {p_value!r} has two significant digits or the floor"
        assert interval_method in report.INTERVAL_NAMES.values(), f"{commodity}: interval method shown"
    assert any(line.startswith(f"{name} = ") for name in report.INTERVAL_NAMES.values() for line in shown), "its legend"


def test_demo_explains_the_mobile_apps_document(demo_run):
    lines = demo_run.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("the mobile app's document, s3://"))) + 1
    end = lines.index("}", start) + 1
    document = json.loads("\n".join(lines[start:end]))
    explanation = lines[end]
    assert explanation.startswith(f"the app will show {document['direction']}"), explanation
    if document["predicted_price"] == document["current_price"]:
        assert "equals the close" in explanation and document["direction"] == "DOWN", explanation
    assert report.NO_LEGACY_FEED not in demo_run


def test_demo_without_a_legacy_feed_says_so_in_one_line_and_writes_no_app_document():
    output = _demo("--no-legacy-feed")
    lines = output.splitlines()
    assert "  legacy bucket none (no legacy feed: legacy_bucket is not set)" in lines
    assert f"verified: 3 items in {_names().predictions_table}, full JSON in S3 (no legacy feed)" in lines
    assert lines.count(report.NO_LEGACY_FEED) == 1 and "the mobile app's document" not in output and "the app will show" not in output
    assert [line.split()[0] for line in lines if COMMODITY_ROW.match(line)] == ["corn", "wheat", "soybeans"] * 2, "the rest as before"
    assert max(len(line) for line in lines) <= WIDTH


def _names():
    from demo.__main__ import load_settings
    from demo.emulator import stack_names

    return stack_names(load_settings())


def test_a_settings_error_in_the_dev_stack_is_one_line_and_exit_2(monkeypatch, capsys):
    from demo import __main__ as demo_main

    real = demo_main.stack_config

    def broken(root, stack):
        config = real(root, stack)
        defaults = json.loads(config["commodity-forecasts:function_defaults"])
        return {**config, "commodity-forecasts:function_defaults": json.dumps({**defaults, "memroy_mb": 512})}

    monkeypatch.setattr(demo_main, "stack_config", broken)
    assert demo_main.run([]) == 2
    said = capsys.readouterr()
    assert said.out == "" and len(said.err.splitlines()) == 1, said
    assert said.err.startswith("demo could not start: stack 'dev': ") and "unknown key 'memroy_mb' in function_defaults" in said.err


def test_without_a_legacy_feed_the_settings_have_no_legacy_bucket():
    from demo.__main__ import load_settings

    assert load_settings().legacy_bucket and load_settings(legacy_feed=False).legacy_bucket is None


@pytest.mark.parametrize(
    ("p", "shown"),
    [(0.0, "<0.001"), (0.000999, "<0.001"), (0.001, "0.0010"), (0.0042, "0.0042"), (0.00351, "0.0035"),
     (0.05, "0.050"), (0.19234, "0.19"), (0.5, "0.50"), (0.996, "1.0"), (1.0, "1.0")],
)
def test_p_values_print_with_two_significant_digits_and_a_floor(p, shown):
    assert report.format_p_value(p) == shown


def _backtest_stub(calibration: int = 250, coverage: int = 250) -> report.Backtest:
    header = "date,window,close,target_date,actual,predicted,naive,model_half_width_80,model_half_width_95,naive_half_width_80,naive_half_width_95"
    body = ["2025-01-01,calibration,1,2025-01-02,1.02,1.01,1,,,," for _ in range(calibration)]
    body += ["2026-01-01,coverage,1,2026-01-02,1.02,1.01,1,0.01,0.02,0.01,0.02" for _ in range(coverage)]
    return report.Backtest.parse("\n".join([header, *body]))


def test_forecast_table_fits_100_columns_at_its_widest():
    """Prices in the tens, a large fall, the floor p-value, and every interval method with its note."""
    wide = replace(PREDICTION, current_price=19.8765, predicted_price=17.8888, change_pct=-10.0003, direction="down",
                   lower_80=16.1234, upper_80=19.9999, lower_95=15.0001, upper_95=21.4321)
    results = {
        "corn": asdict(replace(wide, interval_method="adaptive-conformal")),
        "wheat": asdict(replace(wide, commodity="wheat", interval_method="scaled-conformal")),
        "soybeans": asdict(replace(_naive(wide), commodity="soybeans", interval_method="fixed-conformal")),
    }
    models = {"corn": {"p_value": 1e-9}, "wheat": {"p_value": 0.0042}, "soybeans": {"p_value": 0.19}}
    lines = report.forecast_table(results, models, {c: _backtest_stub() for c in results}, horizon=5, significance=0.05, min_improvement=0.02)
    assert max(len(line) for line in lines) <= WIDTH, "\n".join(line for line in lines if len(line) > WIDTH)
    rows = {line.split()[0]: line.split() for line in lines if COMMODITY_ROW.match(line)}
    assert rows["corn"][1:6] == ["19.8765", "17.8888", "-1.9877", "-10.00", "down"]
    assert rows["soybeans"][3:6] == ["+0.0000", "+0.00", "flat"] and rows["soybeans"][8] == "naive"
    assert [rows[c][9:] for c in ("corn", "wheat", "soybeans")] == [["<0.001", "adaptive"], ["0.0042", "scaled"], ["0.19", "fixed"]]
    notes = "\n".join(lines)
    for abbreviation, method in (("adaptive", "adaptive-conformal"), ("scaled", "scaled-conformal"), ("fixed", "fixed-conformal")):
        assert f"{abbreviation} = {method}:" in notes, f"the legend explains {abbreviation}"
    assert "5 trading days ahead" in lines[0] and "its MAE more than 2.0% lower than naive's." in notes


def test_forecast_table_refuses_mixed_dates_rather_than_mislabel_them():
    results = {"corn": asdict(PREDICTION), "wheat": asdict(replace(PREDICTION, commodity="wheat", price_date="2026-12-02"))}
    with pytest.raises(ValueError, match="one price_date"):
        report.forecast_table(results, {"corn": {"p_value": 0.1}, "wheat": {"p_value": 0.1}}, {"corn": _backtest_stub()}, horizon=1, significance=0.05)


def test_backtest_table_fits_100_columns_and_shows_the_measured_coverage():
    lines = report.backtest_table({"soybeans": _backtest_stub()}, {"soybeans": {"80": 0.824, "95": 0.948}}, {"soybeans": "naive"})
    assert max(len(line) for line in lines) <= WIDTH
    [row] = [line.split() for line in lines if COMMODITY_ROW.match(line)]
    assert row[1:] == ["naive", "0.0100", "0.0200", "-50.0%", "82.4%", "94.8%"]
    assert "newest 250 days" in "\n".join(lines) and "older 250" in "\n".join(lines)


@pytest.mark.parametrize(
    ("prediction", "shown", "says"),
    [
        (_naive(PREDICTION), "DOWN", ": a naive forecast equals the close, and only a rise is UP (ours: flat)."),
        (PREDICTION, "UP", "the forecast 4.9373 is above the close 4.9177 (ours: up, +0.40%)"),
        (replace(PREDICTION, predicted_price=4.9001, change_pct=-0.3579, direction="down"), "DOWN", "below the close 4.9177 (ours: down"),
        (replace(PREDICTION, predicted_price=4.9180, change_pct=0.0061, direction="flat"), "UP", "above the close 4.9177 (ours: flat, under 0.1%)"),
    ],
    ids=["naive: unchanged is DOWN", "up", "down", "a rise under the flat threshold is UP"],
)
def test_legacy_explanation_says_what_the_app_shows_and_why(prediction, shown, says):
    document = service.legacy_document(prediction, WRITTEN_AT)
    line = report.legacy_explanation(document, asdict(prediction))
    assert document["direction"] == shown and line.startswith(f"the app will show {shown}"), line
    assert says in line and len(line) <= WIDTH, line


@pytest.fixture(scope="module")
def trained():
    """A real training run on the demo's corn history: its backtest.csv as published, its metadata."""
    as_of = date(2026, 12, 3)
    result = training.train("corn", generate("corn", as_of), as_of=as_of, now=datetime(2026, 12, 3, 14, tzinfo=timezone.utc), min_improvement=0.0)
    return report.Backtest.parse(result.backtest.to_csv(index=False)), result.metadata, generate("corn", as_of)


@pytest.fixture(scope="module")
def figure(trained):
    backtest, metadata, closes = trained
    result = asdict(replace(PREDICTION, current_price=closes[-1].close, predicted_price=round(closes[-1].close * 1.004, 4)))
    figure = report.chart(report.ChartInputs("corn", closes, result, backtest, metadata))
    yield figure, result, closes, backtest, metadata
    import matplotlib.pyplot as plt

    plt.close(figure)


def _texts(axis) -> str:
    return "\n".join(text.get_text() for text in axis.texts)


def test_chart_top_panel_shows_the_recent_closes_and_the_forecasts_fan(figure):
    figure, result, closes, _, _ = figure
    recent, zoom, _ = figure.axes
    [close_line] = [line for line in recent.lines if line.get_label().startswith("daily close")]
    assert len(close_line.get_xdata()) == report.RECENT_CLOSES, "about six months of closes, not three years"
    assert "synthetic data" in figure.get_suptitle() and any("not market data" in t.get_text() for t in figure.texts)
    labels = _texts(recent)
    assert f"current price {result['current_price']:.4f}\n(the close of {closes[-1].date})" in labels, "the current price labelled"
    assert f"model forecast {result['predicted_price']:.4f}" in labels and result["target_date"] in labels, "the forecast labelled"
    last, target = matplotlib.dates.date2num(closes[-1].date), matplotlib.dates.date2num(date.fromisoformat(result["target_date"]))
    for axis in (recent, zoom):
        fans = [c for c in axis.collections if "% interval" in c.get_label()]
        assert len(fans) == 2, "both intervals drawn"
        for fan, level in zip(fans, (95, 80)):
            vertices = {tuple(np.round(v, 6)) for v in fan.get_paths()[0].vertices}
            for point in ((last, result["current_price"]), (target, result[f"lower_{level}"]), (target, result[f"upper_{level}"])):
                assert tuple(np.round(point, 6)) in vertices, f"the {level}% fan runs from the last close to the served bounds"
    assert {f"{level}%: {result[f'{bound}_{level}']:.2f}" for level in (80, 95) for bound in ("lower", "upper")} <= set(_texts(zoom).split("\n"))


def test_chart_bottom_panel_marks_the_trainers_windows_and_prints_its_coverage(figure):
    figure, _, _, backtest, metadata = figure
    panel = figure.axes[2]
    calibration, coverage_window = metadata["calibration_window"], metadata["coverage_window"]
    assert (calibration["rows"], coverage_window["rows"]) == (training.CALIBRATION_ROWS, training.COVERAGE_ROWS)
    labels = _texts(panel)
    assert f"older {training.CALIBRATION_ROWS} days" in labels and f"newest {training.COVERAGE_ROWS} days" in labels
    coverage = metadata["intervals"]["coverage"]
    assert f"measured coverage: 80% interval {coverage['80']:.1%}, 95% interval {coverage['95']:.1%}" in labels, "printed"
    spans = {patch.get_gid(): patch.get_bbox() for patch in panel.patches if patch.get_gid()}
    day = matplotlib.dates.datestr2num
    assert (spans["calibration window"].x0, spans["calibration window"].x1) == pytest.approx((day(calibration["first"]), day(coverage_window["first"])))
    assert (spans["coverage window"].x0, spans["coverage window"].x1) == pytest.approx((day(coverage_window["first"]), day(coverage_window["last"])))
    assert spans["calibration window"].y0 == 0 and spans["coverage window"].y1 == 1, "each window shaded full height"
    [errors] = [line for line in panel.lines if line.get_label().endswith("forecast's error")]
    [missed] = [line for line in panel.lines if line.get_label() == "outside the 80% interval"]
    drawn = np.sort(np.concatenate([matplotlib.dates.date2num(errors.get_xdata()), matplotlib.dates.date2num(missed.get_xdata())]))
    assert len(drawn) == training.EVALUATION_ROWS, "every out-of-sample day drawn"
    assert drawn[0] == day(calibration["first"]) and drawn[-1] == day(coverage_window["last"]), "by the day each forecast was made"
    assert (matplotlib.dates.date2num(missed.get_xdata()) >= day(coverage_window["first"])).all(), "misses only where intervals served"
    assert 1 - len(missed.get_xdata()) / training.COVERAGE_ROWS == pytest.approx(coverage["80"], abs=1 / training.COVERAGE_ROWS), (
        "the misses marked from the served half-widths agree with the coverage the trainer measured"
    )


def test_chart_refuses_a_backtest_and_metadata_of_different_versions(trained):
    backtest, metadata, closes = trained
    shifted = {**metadata, "coverage_window": {**metadata["coverage_window"], "first": metadata["calibration_window"]["last"]}}
    inputs = report.ChartInputs("corn", closes, asdict(PREDICTION), backtest, shifted)
    with pytest.raises(ValueError, match="coverage window"):
        inputs.window("coverage")
