"""URNs of the resources that build, store and scan images, from `pulumi preview --json --show-sames` on
stdin; with `--errors`, the preview's error diagnostics instead (what a failed preview said).

`tools/deploy.sh` passes the URNs to `pulumi up --target …` so images are pushed (and scanned) before
any function is pointed at them. The registry's scanning configuration is among them: on a first
deployment enhanced scanning must be on before the first push, or the gate would judge a basic scan. A
promoting stack's PromotedImage references are too (they hold nothing; their outputs follow the repositories').
"""

from __future__ import annotations

import argparse
import json
import sys

IMAGE_COMPONENTS = (
    "commodity-forecasts:registry:EcrRepository", "commodity-forecasts:image:LambdaImage",
    "commodity-forecasts:account_registry:AccountRegistry", "commodity-forecasts:promoted_image:PromotedImage",
)


def image_urns(preview: dict) -> list[str]:
    """URNs whose type chain passes through an EcrRepository or LambdaImage component, in preview order.
    Deletions are left to the full update: a build of earlier content leaves the program when new
    content is built under a new name (components/image.py), and removing it from the state (the image
    stays in ECR: retain_on_delete) has nothing to do with what the gate scans."""
    urns = []
    for step in preview.get("steps", []):
        urn = step.get("urn", "")
        if step.get("op") == "delete":
            continue
        type_chain = urn.split("::")[2].split("$") if urn.count("::") >= 3 else []
        if any(part in IMAGE_COMPONENTS for part in type_chain) and urn not in urns:
            urns.append(urn)
    return urns


def errors(preview: dict) -> list[str]:
    """The messages of the preview's error diagnostics, as the CLI reported them."""
    return [d.get("message", "").strip() for d in preview.get("diagnostics", []) if d.get("severity") == "error"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.image_targets", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--errors", action="store_true", help="print the preview's error diagnostics instead of the image URNs")
    options = parser.parse_args(argv)
    text = sys.stdin.read()
    try:
        preview = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        print(f"the preview's output is not JSON: {text[:200]!r}", file=sys.stderr)
        return 1
    for line in errors(preview) if options.errors else image_urns(preview):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
