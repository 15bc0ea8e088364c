"""`make demo`: the main job on a local AWS emulator, no account needed.

Starts moto's server on 127.0.0.1, creates the data plane with the names the dev stack declares,
seeds five-plus years of prices, runs the real trainer handler and then the real predictor handler
for each scheduled predictor with the exact event its schedule sends, prints predictions and
backtest metrics, and writes one chart per commodity under demo-output/. Exits non-zero on failure.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent

from common.events import today_utc
from common.contract import COMMODITIES, INCOMING_PREFIX, PROCESSED_PREFIX
from common.schema import parse_csv, to_csv
from stack_config import settings_from_config, stack_config
from common.environment import WorkloadEnvironment
from demo.emulator import ACCOUNT_ID, Emulator, apply_environment, create_data_plane, seed_prices, stack_names
from demo.prices import generate

OUTPUT = ROOT / "demo-output"


class Context:
    """The Lambda context fields the handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_seconds: int):
        self.function_name = function_name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{function_name}:live"
        self.aws_request_id = f"demo-{function_name}-{int(time.time() * 1000)}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def main() -> int:
    settings = settings_from_config(stack_config(ROOT, "dev"), stack="dev", project_dir=ROOT)
    names = stack_names(settings)
    trainer = next(f for f in settings.functions if f.image == "trainer")
    predictors = [f for f in settings.functions if f.image == "predictor"]
    today = today_utc()
    OUTPUT.mkdir(exist_ok=True)
    log_path = OUTPUT / "lambda-output.jsonl"

    with Emulator(region=settings.region) as emulator:
        apply_environment(emulator.environment)
        apply_environment({"POWERTOOLS_TRACE_DISABLED": "true"})
        print(f"AWS emulator on {emulator.endpoint} (moto); dev stack names:")
        print(f"  data bucket   {names.data_bucket}\n  table         {names.predictions_table}")
        print(f"  legacy bucket {names.legacy_bucket} (prefix {names.legacy_prefix})")
        create_data_plane(emulator, names)
        newest = max(generate(commodity, today)[-1].date for commodity in COMMODITIES)
        counts = seed_prices(emulator, names, COMMODITIES, newest - timedelta(days=1))
        print(f"seeded prices before {newest}: " + ", ".join(f"{c} {n} rows" for c, n in counts.items()))

        results = {}
        with open(log_path, "w") as log, contextlib.redirect_stdout(log):
            # Powertools reads its namespace and service when a handler module is imported.
            apply_environment(names.variables(service=settings.function_name(trainer)))
            from predictor import handler as predictor_handler
            from trainer import handler as trainer_handler

            fed = _feed_the_newest_closes(emulator, names, settings, newest)

            started = time.perf_counter()
            training = trainer_handler.handler(dict(trainer.event), Context(settings.function_name(trainer), trainer.args.memory_mb, trainer.args.timeout_seconds))
            train_seconds = time.perf_counter() - started
            for function in predictors:
                apply_environment(names.variables(service=settings.function_name(function)))
                event = dict(function.event)
                results[event["commodity"]] = predictor_handler.handler(
                    event, Context(settings.function_name(function), function.args.memory_mb, function.args.timeout_seconds)
                )
        print(f"price feed ({settings.function_name(settings.price_feed)}): {fed['object']} {fed['outcome']}, new closes "
              + ", ".join(f"{c} +{n}" for c, n in fed["new_closes"].items()) + f"; moved to {PROCESSED_PREFIX}")
        print(f"trainer ({settings.function_name(trainer)}) trained {len(training['models'])} models in {train_seconds:.1f}s")
        print(f"handler logs and metrics: {log_path.relative_to(ROOT)}\n")
        _print_table(training["models"], results, names)
        backtests = {m["commodity"]: _backtest(emulator, names, m["model_key"]) for m in training["models"]}
        charts = _charts(emulator, names, results, backtests, today)
        _check_outputs(emulator, names, results)
        _check_fed(results, newest)
    print("\ncharts: " + ", ".join(str(path.relative_to(ROOT)) for path in charts))
    return 0


def _print_table(models: list[dict], results: dict[str, dict], names: WorkloadEnvironment) -> None:
    header = (
        f"{'commodity':10} {'price date':10} {'current':>8} {'target date':11} {'predicted':>9} {'80% interval':>19} "
        f"{'95% interval':>19} {'method':6} {'intervals':18} {'p-value':>7} {'model MAE':>9} {'naive MAE':>9}"
    )
    print(header)
    print("-" * len(header))
    for model in models:
        result = results[model["commodity"]]
        print(
            f"{model['commodity']:10} {result['price_date']:10} {result['current_price']:8.4f} {result['target_date']:11} "
            f"{result['predicted_price']:9.4f} {_interval(result, 80):>19} {_interval(result, 95):>19} {result['method']:6} "
            f"{result['interval_method']:18} {model['p_value']:7.3f} {model['model_mae']:9.4f} {model['naive_mae']:9.4f}"
        )
    horizon = names.forecast_horizon_days
    ahead = "the next trading day" if horizon == 1 else f"{horizon} trading days ahead"
    print(
        f"\nforecasts for {ahead}. method: the model serves only when a Diebold-Mariano test finds it better than the\n"
        f"naive last value (one-sided p-value below {names.significance_level:g}) on the 500 newest out-of-sample days; otherwise the naive\n"
        "forecast serves. Intervals (adaptive-conformal): split-conformal on errors scaled by the volatility known that day,\n"
        "calibrated on the older 250 of those days, the quantile adapted online from each day's hit or miss since."
    )


def _interval(result: dict, level: int) -> str:
    return f"[{result[f'lower_{level}']:.4f}, {result[f'upper_{level}']:.4f}]"


def _backtest(emulator: Emulator, names: WorkloadEnvironment, model_key: str) -> list[dict]:
    key = model_key.rsplit("/", 1)[0] + "/backtest.csv"
    body = emulator.client("s3").get_object(Bucket=names.data_bucket, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def _charts(emulator: Emulator, names: WorkloadEnvironment, results: dict, backtests: dict, today) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import numpy as np

    s3 = emulator.client("s3")
    paths = []
    for commodity, result in results.items():
        rows = []
        for year in (today.year - 2, today.year - 1, today.year):
            key = f"{names.prices_prefix}{commodity}/{year}.csv"
            body = s3.get_object(Bucket=names.data_bucket, Key=key)["Body"].read().decode()
            rows += parse_csv(body, source=key)
        figure, axis = plt.subplots(figsize=(11, 5))
        axis.plot([r.date for r in rows], [r.close for r in rows], color="0.55", linewidth=1, label="daily close")
        backtest = backtests[commodity]
        target_dates = np.array([b["target_date"] for b in backtest], dtype="datetime64[D]").astype(object)
        model_line = np.array([float(b["predicted"]) for b in backtest])
        naive_line = np.array([float(b["naive"]) for b in backtest])
        axis.plot(target_dates, model_line, color="tab:blue", linewidth=1, label="backtest: model forecast")
        axis.plot(target_dates, naive_line, color="tab:orange", linewidth=0.8, alpha=0.7, label="backtest: naive last value")
        # The serving method's adaptive 80% and 95% bands as served day by day over the held-out year (the
        # trainer's walk, the predictor's own code), widening and narrowing with the volatility of the day.
        serving = model_line if result["method"] == "model" else naive_line
        walked = np.array([b[f"{result['method']}_half_width_80"] != "" for b in backtest])
        for level, alpha in ((95, 0.12), (80, 0.22)):
            width = np.array([float(b[f"{result['method']}_half_width_{level}"] or "nan") for b in backtest])
            axis.fill_between(
                target_dates[walked], (serving * np.exp(-width))[walked], (serving * np.exp(width))[walked], color="tab:green",
                alpha=alpha, linewidth=0, label=f"{level}% interval ({result['method']}, {result['interval_method']})",
            )
        target = np.datetime64(result["target_date"]).astype(object)
        axis.errorbar(
            [target], [result["predicted_price"]],
            yerr=[[result["predicted_price"] - result["lower_95"]], [result["upper_95"] - result["predicted_price"]]],
            color="tab:red", fmt="o", capsize=4, zorder=5, label=f"{result['method']} forecast for {result['target_date']}, 95% interval",
        )
        axis.annotate(f"{result['predicted_price']:.2f}", (target, result["predicted_price"]), textcoords="offset points", xytext=(6, 6))
        axis.set_title(f"{commodity} (synthetic data): history, out-of-sample backtest and the next forecast")
        figure.text(0.01, 0.01, "Synthetic prices generated by demo/prices.py - not market data.", fontsize=8, color="0.4")
        axis.set_ylabel("USD per bushel")
        axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
        axis.legend(loc="upper left", fontsize=8)
        axis.grid(alpha=0.3)
        path = OUTPUT / f"{commodity}.png"
        figure.tight_layout()
        figure.savefig(path, dpi=110)
        plt.close(figure)
        paths.append(path)
    return paths


def _feed_the_newest_closes(emulator: Emulator, names: WorkloadEnvironment, settings, newest: date) -> dict:
    """The day's closes arrive the way a daily feed delivers them: one CSV written under incoming/, then
    the price feed's real handler with the ObjectCreated event S3 sends (AWS's documented sample,
    demo/s3_object_created.json, with this bucket and key). moto runs no container function, so the
    demo invokes the handler itself."""
    from predictor import ingest

    key = f"{INCOMING_PREFIX}closes-{newest}.csv"
    closes = [row for commodity in COMMODITIES for row in generate(commodity, newest) if row.date == newest]
    emulator.client("s3").put_object(Bucket=names.data_bucket, Key=key, Body=to_csv(closes).encode())
    event = json.loads((ROOT / "demo" / "s3_object_created.json").read_text())
    record = event["Records"][0]["s3"]
    record["bucket"].update(name=names.data_bucket, arn=f"arn:aws:s3:::{names.data_bucket}")
    record["object"]["key"] = quote_plus(key, safe="/")
    feed = settings.price_feed
    apply_environment(names.variables(service=settings.function_name(feed)))
    [outcome] = ingest.handler(event, Context(settings.function_name(feed), feed.args.memory_mb, feed.args.timeout_seconds))["files"]
    if outcome["outcome"] != "processed":
        raise SystemExit(f"the price feed did not merge {key}: {outcome}")
    return outcome


def _check_fed(results: dict, newest: date) -> None:
    """Each prediction starts from the close the feed delivered."""
    for commodity, result in results.items():
        if result["price_date"] != newest.isoformat():
            raise SystemExit(f"{commodity}: predicted from the close of {result['price_date']}, not the fed {newest}")
    print(f"every prediction starts from the close the feed delivered ({newest})")


def _check_outputs(emulator: Emulator, names: WorkloadEnvironment, results: dict) -> None:
    """Read back what the predictor wrote: one item per commodity and date, and both JSON files."""
    s3, dynamodb = emulator.client("s3"), emulator.client("dynamodb")
    for commodity, result in results.items():
        item = dynamodb.get_item(
            TableName=names.predictions_table,
            Key={"commodity": {"S": commodity}, "effective_date": {"S": result["effective_date"]}},
        ).get("Item")
        if item is None or float(item["predicted_price"]["N"]) != result["predicted_price"]:
            raise SystemExit(f"{commodity}: prediction missing from {names.predictions_table}")
        legacy_key = names.legacy_key(commodity)
        legacy_body = s3.get_object(Bucket=names.legacy_bucket, Key=legacy_key)["Body"].read()
        legacy = json.loads(legacy_body)
        if legacy["predicted_price"] != result["predicted_price"]:
            raise SystemExit(f"{commodity}: legacy JSON does not match the stored prediction")
    print(f"\nverified: {len(results)} items in {names.predictions_table}, full and legacy JSON in S3")
    print(f"the mobile app's document, s3://{names.legacy_bucket}/{legacy_key}:\n{legacy_body.decode()}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # the demo's one job is to say clearly that it failed, and exit non-zero
        print(f"demo failed: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
