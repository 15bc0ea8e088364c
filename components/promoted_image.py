"""PromotedImage: an image another stack built and tested, run by digest: what a function takes instead of
a LambdaImage in a stack that builds nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

from .errors import ComponentError
from .image import PLATFORMS

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class PromotedImageArgs:
    image: str
    """The image's name (`predictor`), for messages and outputs."""
    architecture: str
    """`arm64` or `x86_64`: the architecture the digest was tested on, which the functions running it take."""
    digest: str
    """`sha256:<64 hex>`: exactly the manifest the source stack's functions ran and its scan gate passed."""
    repository_url: pulumi.Input[str]
    """Where the function pulls it: this stack's repository holding the copy (or the replica), or the source's
    repository itself (cross-account pull)."""


class PromotedImage(pulumi.ComponentResource):
    """A tested digest, by reference: no build, no push. A sibling of LambdaImage rather than a mode of it,
    because nothing that defines a LambdaImage (the build, its content tag, the pinned base, the build
    arguments) exists here; what a function reads of either is the same two things, `image_uri` and
    `architecture`. Bringing the digest into the repository is the deploy's step before the update
    (`tools.release promote`), so a preview plans exactly the URI the function will run."""

    image_uri: pulumi.Output[str]
    """`<repository url>@sha256:<digest>`: what a function's `image_uri` takes."""
    digest: str
    architecture: str
    platform: str
    """The single platform the architecture implies, e.g. `linux/arm64`."""

    def __init__(self, name: str, args: PromotedImageArgs, opts: pulumi.ResourceOptions | None = None):
        _validate(args)
        super().__init__("commodity-forecasts:promoted_image:PromotedImage", name, None, opts)
        self.digest = args.digest
        self.architecture = args.architecture
        self.platform = PLATFORMS[args.architecture].value
        self.image_uri = pulumi.Output.concat(args.repository_url, "@", args.digest)
        self.register_outputs({"image_uri": self.image_uri, "digest": args.digest, "platform": self.platform})


class PromotedImageError(ComponentError):
    """A PromotedImage's inputs were refused."""


def _validate(args: PromotedImageArgs) -> None:
    if args.architecture not in PLATFORMS:
        raise PromotedImageError("architecture", f"{args.image}: architecture must be one of {', '.join(PLATFORMS)}, got {args.architecture!r}")
    if not DIGEST.match(args.digest):
        raise PromotedImageError("digest", f"{args.image}: digest must be sha256:<64 lowercase hex digits>, got {args.digest!r}")
