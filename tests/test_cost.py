"""tools.cost: hand-computed estimates match to the cent; the estimator prices what the program
deploys (the one resolved plan's schedules, its provisioned-concurrency windows, its alarms); unpriced
regions and broken price tables are refused."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys

from dataclasses import replace

import pytest
import yaml

import tools.cost as cost
from components import cron
from stack_config import settings_from_config
from tests.conftest import ROOT, run_program
from tools.cli import CannotDecide

P = "commodity-forecasts"
HOURS = 730
DAYS = HOURS / 24


def config(mode: str) -> dict:
    """One predictor with two units of provisioned concurrency, in `mode`."""
    return {
        "aws:region": "us-east-1",
        f"{P}:environment": "cost",
        f"{P}:legacy_bucket": "commodity-mobile-legacy-cost",
        f"{P}:log_retention_days": 7,
        f"{P}:ecr_keep_release_images": 2,
        f"{P}:cost_log_kb_per_run": 100,
        f"{P}:cost_data_gb": 2,
        f"{P}:cost_image_mb": {"predictor": 200},
        f"{P}:price_feed": False,  # priced on its own below: these are the concurrency hand computations
        # Inspector's lines have their own hand computation (test_inspector_prices_each_scan_of_each_build).
        f"{P}:cost_pushes_per_month": 0,
        f"{P}:cost_rescans_per_image_month": 0,
        f"{P}:images": {"predictor": {}},
        f"{P}:functions": [{
            "name": "corn", "image": "predictor", "memory_mb": 2048, "timeout_seconds": 60, "expected_duration_seconds": 10,
            "reserved_concurrency": 2, "provisioned_concurrency": 2, "provisioned_concurrency_mode": mode,
            "schedule": {"expression": "cron(0 6 * * ? *)"}, "event": {"commodity": "corn"},
        }],
    }


def estimate_for(values: dict) -> cost.Estimate:
    as_strings = {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    settings = settings_from_config(as_strings, stack="cost")
    graph = run_program(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"), stack="cost", config=as_strings)
    return cost.estimate(settings, graph, cost.PriceTable.load())


def everything_but_concurrency() -> float:
    """By hand, at us-east-1's list prices: one daily run of 10 s at 2 GB on provisioned concurrency."""
    runs = DAYS                                            # cron(0 6 * * ? *): once a day, 730 / 24 days
    requests = runs * 0.20 / 1e6
    duration = runs * 10 * 2 * 0.0000077778                # the provisioned-concurrency duration price, arm64
    ingested_gb = runs * 100 / 1024 / 1024
    logs = ingested_gb * 0.50 + ingested_gb * 7 / DAYS * 0.03
    traces = runs * 5.00 / 1e6
    scheduler = runs * 1.00 / 1e6
    # A prediction reads 4 objects, writes 2 and one item (measured: tests/images/test_request_profiles.py).
    s3 = 2 * 0.023 + round(4 * runs) * 0.0004 / 1000 + round(2 * runs) * 0.005 / 1000
    dynamodb = round(runs) * 0.625 / 1e6 + round(runs) * 12 / 1024 / 1024 * 0.25
    ecr = (200 + 1 * 10) / 1024 * 0.10                     # the image, plus one older release's 10 MB
    # errors, throttles, duration (p99), cold-start, dlq, schedule-dlq, spillover, missed-run, model-age,
    # legacy-feed; custom metrics: init duration, PredictionsWritten, ModelAgeDays, LegacyWriteFailures.
    cloudwatch = 10 * 0.10 + 4 * 0.30 + 1 * 3.00
    kms = 1.00
    return requests + duration + logs + traces + scheduler + s3 + dynamodb + ecr + cloudwatch + kms


def test_fixed_concurrency_matches_a_hand_computation_to_the_cent():
    fixed = 730 * 3600 * 2 * 2 * 0.0000033334             # always on: hours × units × GB × price
    estimate = estimate_for(config("fixed"))
    assert round(estimate.total, 2) == round(everything_but_concurrency() + fixed, 2) == 41.31
    [option] = estimate.concurrency
    assert (option.mode, round(option.usd, 2)) == ("fixed", round(fixed, 2))
    aligned = 20 * 60 * DAYS * 2 * 2 * 0.0000033334
    assert round(option.other_usd, 2) == round(aligned, 2), "the saving of schedule-aligned must be shown"


def test_schedule_aligned_concurrency_matches_a_hand_computation_to_the_cent():
    # Warm 10 minutes before 06:00, cool after the 60 s timeout (1 minute) plus 5 minutes of drain:
    # 16 minutes, billed in 5-minute steps as 20, once a day.
    aligned = 20 * 60 * DAYS * 2 * 2 * 0.0000033334
    estimate = estimate_for(config("schedule_aligned"))
    assert round(estimate.total, 2) == round(everything_but_concurrency() + aligned, 2) == 6.76
    [option] = estimate.concurrency
    assert (option.mode, option.other_mode) == ("schedule_aligned", "fixed")
    assert round(option.other_usd, 2) == round(730 * 3600 * 2 * 2 * 0.0000033334, 2) == 35.04


def test_the_windows_priced_are_the_windows_the_program_creates(prod_graph):
    """Schedule-aligned concurrency is priced over the program's own ScheduledActions, to the second."""
    settings = cost.stack_settings("prod")
    for spec in settings.functions:
        if spec.args.provisioned_concurrency_mode != "schedule_aligned":
            continue
        actions = [r for r in prod_graph.of_type("aws:appautoscaling/scheduledAction:ScheduledAction") if r.name.startswith(f"{spec.name}-")]
        warm = sorted(r.inputs["schedule"] for r in actions if "-warm-" in r.name)
        cool = sorted(r.inputs["schedule"] for r in actions if "-cool-" in r.name)
        assert warm and len(warm) == len(cool)
        deployed = sum(
            (cron.parse(c).minutes_of_day()[0] - cron.parse(w).minutes_of_day()[0]) % 1440 for w, c in zip(warm, cool)
        )
        priced = cost.provisioned_seconds(spec.args, "schedule_aligned")
        assert priced == pytest.approx(-(-deployed // 5) * 5 * 60 * cron.runs_per_month(spec.args.schedule_expression))


def test_the_estimator_and_the_program_read_the_one_resolved_plan(dev_graph, prod_graph):
    """Not copies: the estimate prices the plan's expressions, and the program deploys the same ones."""
    for stack, graph in (("dev", dev_graph), ("prod", prod_graph)):
        settings = cost.stack_settings(stack)
        estimate = cost.estimate(settings, graph, cost.PriceTable.load())
        deployed = {r.parent.split("::")[-1].removesuffix("-schedule"): r.inputs["scheduleExpression"]
                    for r in graph.of_type("aws:scheduler/schedule:Schedule")}
        planned = {f.name: f.args.schedule_expression for f in settings.functions if f.schedule is not None}
        assert estimate.schedules == deployed == planned, stack
    assert {"cron(0 2 * * ? *)", "cron(15 2 * * ? *)", "cron(30 2 * * ? *)"} <= set(estimate.schedules.values()), "wheat and soybeans are staggered"
    settings = cost.stack_settings("dev")
    unplanned = replace(settings, functions=tuple(
        replace(f, schedule=None, args=replace(f.args, schedule_expression=None)) for f in settings.functions
    ))
    unscheduled = cost.estimate(unplanned, dev_graph, cost.PriceTable.load())
    assert unscheduled.total < estimate.total and any("no schedule" in note for note in unscheduled.notes)


def test_architectures_are_priced_separately():
    values = config("fixed")
    values[f"{P}:functions"][0]["architecture"] = "x86_64"
    x86 = estimate_for(values)
    [pc] = [i for i in x86.items if i.price_key.startswith("lambda_provisioned_gb_second_")]
    assert pc.price_key == "lambda_provisioned_gb_second_x86_64" and pc.unit_price == 0.0000041667
    [duration] = [i for i in x86.items if i.item.startswith("corn duration")]
    assert duration.price_key == "lambda_provisioned_duration_gb_second_x86_64" and duration.unit_price == 0.0000097222


def test_an_unpriced_region_is_refused_not_priced_at_zero():
    table = cost.PriceTable.load()
    with pytest.raises(CannotDecide, match=r"region eu-west-1 is not in the price table \(tools/aws_prices.yaml prices us-east-1, "):
        table.region("eu-west-1")
    values = config("fixed")
    values["aws:region"] = "eu-west-1"
    settings = settings_from_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}, stack="cost")
    with pytest.raises(CannotDecide, match="eu-west-1"):
        cost.estimate(settings, None, table)


def test_the_price_table_is_dated_sourced_and_complete(tmp_path):
    table = cost.PriceTable.load()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.as_of)
    assert len(table.regions) >= 4 and "us-east-1" in table.regions
    for service in ("lambda", "ecr", "cloudwatch", "kms", "scheduler", "sqs", "dynamodb", "s3", "xray", "inspector"):
        assert table.sources[service]["source"].startswith("https://aws.amazon.com/"), service
    for region, unconfirmed in table.unverified.items():
        assert unconfirmed <= set(table.regions[region]), f"{region}: unverified names an unknown price"
    data = yaml.safe_load((ROOT / "tools" / "aws_prices.yaml").read_text())
    del data["regions"]["ap-northeast-1"]["logs_storage_gb_month"]
    (tmp_path / "prices.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(CannotDecide, match="region ap-northeast-1 has no price for logs_storage_gb_month"):
        cost.PriceTable.load(tmp_path / "prices.yaml")


def test_unconfirmed_prices_are_named_in_the_estimate():
    values = config("fixed")
    values["aws:region"] = "us-west-2"
    estimate = estimate_for(values)
    assert "lambda_provisioned_gb_second_arm64" in estimate.unverified, "us-west-2's concurrency price is not confirmed"
    assert "lambda_gb_second_arm64" not in estimate.unverified
    assert "not confirmed" in cost.render(estimate)
    assert estimate_for(config("fixed")).unverified == {"inspector_ecr_initial_scan", "inspector_ecr_rescan"}, (
        "every us-east-1 price is confirmed in a stored page, but Inspector's")


def test_the_cli_prints_each_stack_with_a_total_line_and_json():
    done = subprocess.run([sys.executable, "-m", "tools.cost", "--all"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    totals = re.findall(r"^total: \$(\d+\.\d\d)/month$", done.stdout, re.M)
    assert len(totals) == 2, done.stdout[-2000:]
    assert "Exception ignored" not in done.stderr
    as_json = subprocess.run([sys.executable, "-m", "tools.cost", "prod", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    prod = json.loads(as_json.stdout)["prod"]
    assert f"{prod['total_usd']:.2f}" == totals[1]
    assert {c["mode"] for c in prod["provisioned_concurrency"]} == {"schedule_aligned"}


def test_an_unknown_stack_exits_2():
    done = subprocess.run([sys.executable, "-m", "tools.cost", "staging"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and "unknown stack 'staging'" in done.stderr


def test_the_pull_request_comment_shows_the_change_against_main(tmp_path):
    estimate = estimate_for(config("schedule_aligned"))
    comment = cost.render_markdown([estimate], {"cost": {"total_usd": round(estimate.total, 2) - 1.5}})
    assert f"| cost | us-east-1 | ${estimate.total:.2f} | +1.50 USD |" in comment
    assert comment.splitlines()[0] == cost.COMMENT_MARKER, "the workflow finds its comment by the first line"
    assert "| cost | us-east-1 |" in cost.render_markdown([estimate], {}) and "| new |" in cost.render_markdown([estimate], {})


def test_the_readme_quotes_the_current_figures_and_the_price_date():
    readme = (ROOT / "README.md").read_text()
    table = cost.PriceTable.load()
    for stack in ("dev", "prod"):
        total = cost.estimate_stack(stack, table).total
        assert f"| {stack} | ${total:.2f} |" in readme, f"README's cost table is stale for {stack} (run make cost)"
    assert f"prices of {table.as_of}" in readme


def test_image_storage_uses_the_setting_then_make_images_measurement_then_the_size_budget(tmp_path, dev_graph):
    settings = cost.stack_settings("dev")
    sizes = tmp_path / "image-sizes.json"
    sizes.write_text(json.dumps({"predictor": {"arm64": 91.5}}))
    measured = cost.measured_sizes(sizes)
    estimate = cost.estimate(settings, dev_graph, cost.PriceTable.load(), measured)
    ecr = {i.item.split(" (")[0]: i for i in estimate.items if i.service == "ECR"}
    assert "91.5 MB, measured by make images" in ecr["predictor arm64"].item
    assert ecr["predictor arm64"].quantity == pytest.approx((91.5 + 2 * 10) / 1024)
    assert "340 MB, the Dockerfile's size budget" in ecr["trainer arm64"].item, "no measurement for the trainer: its budget"
    assert cost.measured_sizes(tmp_path / "absent.json") == {}


def test_inspector_prices_each_scan_of_each_build():
    """By hand: one build (predictor, arm64) pushed 5 times a month, 2 kept images rescanned 3 times each."""
    values = {**config("fixed"), f"{P}:cost_pushes_per_month": 5, f"{P}:cost_rescans_per_image_month": 3}
    lines = {item.price_key: item for item in estimate_for(values).items if item.service == "Inspector"}
    assert (lines["inspector_ecr_initial_scan"].quantity, lines["inspector_ecr_rescan"].quantity) == (5, 6)
    assert round(sum(item.usd for item in lines.values()), 2) == round(5 * 0.09 + 6 * 0.01, 2) == 0.51
