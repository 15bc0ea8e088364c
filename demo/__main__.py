"""`make demo`: the main job on a local AWS emulator, no account needed.

Starts moto's server on 127.0.0.1, creates the data plane with the names the dev stack declares,
seeds five-plus years of prices, delivers the newest closes through the real price-feed handler,
runs the real trainer handler and then the real predictor handler for each scheduled predictor with
the exact event its schedule sends, prints the forecasts, the backtest and the mobile app's document,
and writes one chart per commodity under demo-output/.

Exit codes: 0 done, 1 the demo failed (the reason in one line), 2 bad arguments or invalid settings
in Pulumi.dev.yaml.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent

from common.events import today_utc
from common.contract import COMMODITIES, INCOMING_PREFIX, PROCESSED_PREFIX, Env
from common import storage
from common.schema import to_csv
from stack_config import SettingsError, settings_from_config, stack_config
from common.environment import WorkloadEnvironment
from demo.emulator import ACCOUNT_ID, Emulator, apply_environment, create_data_plane, seed_prices, stack_names
from demo import report
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


STACK = "dev"
LEGACY_BUCKET_KEY = "commodity-forecasts:legacy_bucket"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--no-legacy-feed", action="store_true",
                        help=f"run as if Pulumi.{STACK}.yaml set no legacy_bucket: the predictor writes no mobile-app document")
    return parser.parse_args(argv)


def load_settings(legacy_feed: bool = True):
    """The dev stack's settings, validated as `pulumi up` would (without its legacy feed on request)."""
    config = dict(stack_config(ROOT, STACK))
    if not legacy_feed:
        config.pop(LEGACY_BUCKET_KEY, None)
    return settings_from_config(config, stack=STACK, project_dir=ROOT)


def main(options: argparse.Namespace) -> int:
    settings = load_settings(legacy_feed=not options.no_legacy_feed)
    names = stack_names(settings)
    if names.legacy_bucket is None:
        # The handlers read the environment: nothing from the caller's shell may give them a feed.
        for variable in (Env.LEGACY_BUCKET, Env.LEGACY_PREFIX):
            os.environ.pop(variable, None)
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
        if names.legacy_bucket:
            print(f"  legacy bucket {names.legacy_bucket} (prefix {names.legacy_prefix})")
        else:
            print("  legacy bucket none (no legacy feed: legacy_bucket is not set)")
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
        dropped = fed["object"].removeprefix(f"s3://{names.data_bucket}/")
        print(f"price feed ({settings.function_name(settings.price_feed)}): {dropped} {fed['outcome']},")
        print("  new closes " + ", ".join(f"{c} +{n}" for c, n in fed["new_closes"].items()) + f"; moved to {PROCESSED_PREFIX}")
        print(f"trainer ({settings.function_name(trainer)}) trained {len(training['models'])} models in {train_seconds:.1f}s")
        print(f"handler logs and metrics: {log_path.relative_to(ROOT)}\n")
        _check_fed(results, newest)
        legacy = _check_outputs(emulator, names, results)
        published = {commodity: _published(emulator, names, result) for commodity, result in results.items()}
        _print_tables(training["models"], results, published, names)
        _show_legacy(names, results, legacy)
        charts = _charts(emulator, names, results, published)
    print("\ncharts: " + ", ".join(str(path.relative_to(ROOT)) for path in charts))
    return 0


def _published(emulator: Emulator, names: WorkloadEnvironment, result: dict) -> tuple[report.Backtest, dict]:
    """The serving version's backtest.csv and metadata.json (the version the prediction names)."""
    s3 = emulator.client("s3")
    folder = storage.model_folder(names.models_prefix, result["commodity"], result["model_version"])
    backtest = s3.get_object(Bucket=names.data_bucket, Key=f"{folder}backtest.csv")["Body"].read().decode()
    metadata = json.loads(s3.get_object(Bucket=names.data_bucket, Key=f"{folder}metadata.json")["Body"].read())
    return report.Backtest.parse(backtest), metadata


def _charts(emulator: Emulator, names: WorkloadEnvironment, results: dict, published: dict) -> list[Path]:
    """One chart per commodity: its closes of this year and the last, the prediction, the serving
    version's backtest and measured coverage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s3 = emulator.client("s3")
    paths = []
    for commodity, result in results.items():
        price_date = date.fromisoformat(result["price_date"])
        closes = storage.read_prices(s3, names.data_bucket, names.prices_prefix, commodity, first_year=price_date.year - 1, until=price_date)
        backtest, metadata = published[commodity]
        figure = report.chart(report.ChartInputs(commodity, closes, result, backtest, metadata))
        path = OUTPUT / f"{commodity}.png"
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


def _check_outputs(emulator: Emulator, names: WorkloadEnvironment, results: dict) -> dict[str, tuple[str, bytes]]:
    """Read back what the predictor wrote: one item per commodity and date, the full JSON, and the
    mobile app's document when the stack has a legacy feed (none, and none claimed, without one).
    Returns each commodity's app document (its key and the bytes as written)."""
    s3, dynamodb = emulator.client("s3"), emulator.client("dynamodb")
    legacy = {}
    for commodity, result in results.items():
        item = dynamodb.get_item(
            TableName=names.predictions_table,
            Key={"commodity": {"S": commodity}, "effective_date": {"S": result["effective_date"]}},
        ).get("Item")
        if item is None or float(item["predicted_price"]["N"]) != result["predicted_price"]:
            raise SystemExit(f"{commodity}: prediction missing from {names.predictions_table}")
        full_key = storage.prediction_key(names.predictions_prefix, commodity, date.fromisoformat(result["effective_date"]))
        full = json.loads(s3.get_object(Bucket=names.data_bucket, Key=full_key)["Body"].read())
        if full["predicted_price"] != result["predicted_price"]:
            raise SystemExit(f"{commodity}: the full JSON does not match the stored prediction")
        if result["legacy_written"] != bool(names.legacy_bucket):
            raise SystemExit(f"{commodity}: legacy_written is {result['legacy_written']} with legacy bucket {names.legacy_bucket}")
        if names.legacy_bucket is None:
            continue
        legacy_key = names.legacy_key(commodity)
        legacy_body = s3.get_object(Bucket=names.legacy_bucket, Key=legacy_key)["Body"].read()
        if json.loads(legacy_body)["predicted_price"] != result["predicted_price"]:
            raise SystemExit(f"{commodity}: legacy JSON does not match the stored prediction")
        legacy[commodity] = legacy_key, legacy_body
    written = "full and legacy JSON in S3" if names.legacy_bucket else "full JSON in S3 (no legacy feed)"
    print(f"verified: {len(results)} items in {names.predictions_table}, {written}\n")
    return legacy


def _print_tables(models: list[dict], results: dict, published: dict, names: WorkloadEnvironment) -> None:
    by_commodity = {model["commodity"]: model for model in models}
    backtests = {commodity: backtest for commodity, (backtest, _) in published.items()}
    print("\n".join(report.forecast_table(
        results, by_commodity, backtests, horizon=names.forecast_horizon_days, significance=names.significance_level,
        min_improvement=names.min_improvement,
    )))
    print()
    print("\n".join(report.backtest_table(
        backtests,
        {commodity: metadata["intervals"]["coverage"] for commodity, (_, metadata) in published.items()},
        {commodity: result["method"] for commodity, result in results.items()},
    )))


def _show_legacy(names: WorkloadEnvironment, results: dict, legacy: dict[str, tuple[str, bytes]]) -> None:
    """One commodity's mobile-app document as written (a naive one if any: the case the app shows
    differently from us) and what the app will display; or the one line saying there is no feed."""
    if names.legacy_bucket is None:
        print(f"\n{report.NO_LEGACY_FEED}")
        return
    commodity = next((c for c, result in results.items() if result["method"] == "naive"), next(iter(results)))
    key, body = legacy[commodity]
    print(f"\nthe mobile app's document, s3://{names.legacy_bucket}/{key}:\n{body.decode()}")
    print(report.legacy_explanation(json.loads(body), results[commodity]))


def run(argv: list[str] | None = None) -> int:
    """The command line: its arguments (usage and exit 2 when wrong), then the demo with one line
    on stderr for what stopped it."""
    options = parse_args(argv)
    try:
        return main(options)
    except SettingsError as error:
        print(f"demo could not start: stack {STACK!r}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the demo's one job is to say clearly that it failed, and exit non-zero
        print(f"demo failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
