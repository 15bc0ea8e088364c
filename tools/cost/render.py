"""An estimate as a table for people, and as the pull request's comment."""

from __future__ import annotations

from typing import Any, Iterable

from tools.cost.estimate import Estimate

COMMENT_MARKER = "<!-- commodity-forecasts:cost -->"
"""The pull-request comment's first line: the workflow finds and updates its own comment by it."""


def render(estimate: Estimate) -> str:
    lines = [f"{estimate.stack} ({estimate.region}), monthly USD at the prices of {estimate.as_of} (tools/aws_prices.yaml)"]
    width = max(len(i.item) for i in estimate.items)
    for item in estimate.items:
        quantity = _quantity(item.quantity)
        lines.append(f"  {item.service:<22} {item.item:<{width}}  {quantity:>16} {item.unit:<19} ${item.usd:>9.4f}")
    lines.append("  by service: " + ", ".join(f"{s} ${usd:.2f}" for s, usd in estimate.by_service().items()))
    for option in estimate.concurrency:
        if option.other_usd is None:
            lines.append(f"  provisioned concurrency, {option.function}: {option.mode} ${option.usd:.2f}/month ({option.other_mode} is not possible for this schedule)")
        else:
            saving = option.other_usd - option.usd
            lines.append(
                f"  provisioned concurrency, {option.function}: {option.mode} ${option.usd:.2f}/month; {option.other_mode} would be "
                f"${option.other_usd:.2f}/month ({'saves' if saving >= 0 else 'costs'} ${abs(saving):.2f} by staying {option.mode})"
            )
    for note in estimate.notes:
        lines.append(f"  note: {note}")
    if estimate.unverified:
        lines.append(f"  note: {len(estimate.unverified)} price(s) used are not confirmed in a stored copy of AWS's pages: "
                     f"{', '.join(sorted(estimate.unverified))}")
    lines.append(f"total: ${estimate.total:.2f}/month")
    return "\n".join(lines)


def _quantity(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 1:
        return f"{value:.3g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def render_markdown(estimates: Iterable[Estimate], baseline: dict[str, Any]) -> str:
    lines = [COMMENT_MARKER, "### Monthly cost estimate", "", "| stack | region | total | change against main | largest services |", "|---|---|---|---|---|"]
    for e in estimates:
        before = baseline.get(e.stack, {}).get("total_usd")
        change = "new" if before is None else f"{e.total - before:+.2f} USD"
        top = sorted(e.by_service().items(), key=lambda kv: -kv[1])[:3]
        lines.append(f"| {e.stack} | {e.region} | ${e.total:.2f} | {change} | {', '.join(f'{s} ${u:.2f}' for s, u in top)} |")
    lines.append("")
    for e in estimates:
        for option in e.concurrency:
            if option.other_usd is not None:
                lines.append(f"- {e.stack}/{option.function}: provisioned concurrency {option.mode} ${option.usd:.2f}, "
                             f"{option.other_mode} would be ${option.other_usd:.2f}")
    lines.append("")
    lines.append("Prices as of the date in `tools/aws_prices.yaml`; usage assumptions and what is not estimated: `python -m tools.cost STACK`.")
    return "\n".join(lines)
