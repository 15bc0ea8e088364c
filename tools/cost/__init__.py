"""What a stack costs a month (`python -m tools.cost`): prices.py (the dated price table), estimate.py
(every line item, from the planned settings and the program's own resources), render.py (tables and the
pull request's comment), cli.py (the command)."""

from tools.cli import stack_settings
from tools.cost.cli import main, stacks_in
from tools.cost.estimate import (
    REQUESTS_PER_RUN,
    ConcurrencyOption,
    Estimate,
    LineItem,
    RunRequests,
    estimate,
    estimate_stack,
    image_size_mb,
    measured_sizes,
    provisioned_seconds,
    runs_per_month,
)
from tools.cost.prices import PRICES, PriceTable, PriceTableError
from tools.cost.render import COMMENT_MARKER, render, render_markdown

__all__ = [
    "COMMENT_MARKER", "PRICES", "REQUESTS_PER_RUN", "ConcurrencyOption", "Estimate", "LineItem", "PriceTable", "PriceTableError",
    "RunRequests", "estimate", "estimate_stack", "image_size_mb", "main", "measured_sizes", "provisioned_seconds", "render",
    "render_markdown", "runs_per_month", "stack_settings", "stacks_in",
]
