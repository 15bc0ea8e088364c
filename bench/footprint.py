"""Image footprint: megabytes each image adds over the Lambda base, its largest packages, and the
predictor's ratio to the seed-style baseline. Run: `python -m bench.footprint`."""

from __future__ import annotations

import sys

from bench import images
from tools.images import added_megabytes, largest_entries


def measure() -> dict:
    built = [images.ours("predictor"), images.ours("trainer"), images.baseline()]
    results = {}
    for image in built:
        results[image.label] = {"added_mb": added_megabytes(image.tag), "top": largest_entries(image.tag)}
    results["ratio"] = results["predictor"]["added_mb"] / results["baseline"]["added_mb"]
    return results


def report(results: dict) -> str:
    lines = ["| image | MB added over the base | largest entries (MB) |", "|---|---:|---|"]
    for label in ("predictor", "trainer", "baseline"):
        top = ", ".join(f"{name} {mb:.0f}" for name, mb in results[label]["top"][:6])
        lines.append(f"| {label} | {results[label]['added_mb']:.1f} | {top} |")
    lines.append("")
    lines.append(f"predictor / baseline added MB: {results['ratio']:.2f}x (target <= 0.5x)")
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = measure()
    print(report(outcome))
    sys.exit(0 if outcome["ratio"] <= 0.5 else 1)
