"""URNs of the resources that build and store images, from `pulumi preview --json` on stdin.

`tools/deploy.sh` passes them to `pulumi up --target …` so images are pushed (and scanned) before any
function is pointed at them.
"""

from __future__ import annotations

import json
import sys

IMAGE_COMPONENTS = ("commodity-forecasts:registry:EcrRepository", "commodity-forecasts:image:LambdaImage")


def image_urns(preview: dict) -> list[str]:
    """URNs whose type chain passes through an EcrRepository or LambdaImage component, in preview order."""
    urns = []
    for step in preview.get("steps", []):
        urn = step.get("urn", "")
        type_chain = urn.split("::")[2].split("$") if urn.count("::") >= 3 else []
        if any(part in IMAGE_COMPONENTS for part in type_chain) and urn not in urns:
            urns.append(urn)
    return urns


if __name__ == "__main__":
    for found in image_urns(json.load(sys.stdin)):
        print(found)
