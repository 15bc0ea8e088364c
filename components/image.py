"""LambdaImage: build one image for one Lambda architecture and push it to its EcrRepository."""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from components.registry import CACHE_TAG, RELEASE_TAG_PREFIX, EcrRepository

PLATFORMS = {"arm64": docker_build.Platform.LINUX_ARM64, "x86_64": docker_build.Platform.LINUX_AMD64}
"""Lambda architecture → the one image platform it can run. Deriving one from the other means an
image and its function can never disagree."""
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}


@dataclass(frozen=True)
class LambdaImageArgs:
    image: str
    """Folder under the context holding the Dockerfile: `images/<image>/Dockerfile`."""
    architecture: str
    """`arm64` or `x86_64`; fixes the build platform."""
    repository: EcrRepository
    context_dir: str
    """Build context: the whole `images/` folder, so shared code in `images/common` is reachable."""
    build_args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    build_on_preview: bool = False
    """Off: pulumi-docker-build exports cache manifests even from preview builds ("Images built during
    previews are never exported to registries, however cache manifests are still exported": its own
    description of buildOnPreview, provider/internal/image.go), so a preview would write the
    `buildcache` tag of the stack's repositories, and fail when the preview role cannot push. A broken
    Dockerfile still fails the pull request: `make test` builds both images for both architectures."""


def content_tag(
    context_dir: str | Path, image: str, architecture: str, build_args: Mapping[str, str], settings: Mapping[str, Any] | None = None,
) -> str:
    """A release tag unique to everything that makes the provider push again: every file in the context
    (contents and mode), the Dockerfile's location, the platform, the build arguments and the other
    build settings (cache, build-on-preview). pulumi-docker-build re-pushes its tags on any change to
    these (Diff in provider/internal/image.go); ECR refuses a push to an existing immutable tag even
    with the same digest, so a tag derived from less would fail the deploy.

    Hashing the whole context (not only the image's folder) errs on the side of a new tag: an unrelated
    change yields a new tag on an identical digest, which redeploys nothing."""
    root = Path(context_dir)
    digest = hashlib.sha256()
    digest.update(f"{image}\0{PLATFORMS[architecture].value}\0".encode())
    for key in sorted(build_args):
        digest.update(f"{key}={build_args[key]}\0".encode())
    digest.update(json.dumps(settings or {}, sort_keys=True).encode() + b"\0")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if _IGNORED_PARTS.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(f"{relative.as_posix()}\0{stat.S_IMODE(path.stat().st_mode):o}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{RELEASE_TAG_PREFIX}{architecture}-{digest.hexdigest()[:20]}"


class LambdaImage(pulumi.ComponentResource):
    """One image, one architecture, one plain manifest, referenced by digest.

    pulumi-docker-build drives BuildKit: exactly one platform, no attestation manifests (Lambda
    rejects image indexes), registry cache in the same repository under the mutable `buildcache`
    tag, and a content-derived release tag. `image_uri` is `repository@sha256:…`, so a changed image
    always redeploys its functions and an unchanged one never does.
    """

    image_uri: pulumi.Output[str]
    """`<repository url>@sha256:<digest>`: what a function's `image_uri` takes."""
    tag: str
    """The content-derived release tag pushed with the image."""
    architecture: str
    """The Lambda architecture the image was built for."""
    platform: str
    """The single build platform, e.g. `linux/arm64`."""

    def __init__(self, name: str, args: LambdaImageArgs, opts: pulumi.ResourceOptions | None = None):
        dockerfile = _validate(args)
        super().__init__("commodity-forecasts:image:LambdaImage", name, None, opts)
        platform = PLATFORMS[args.architecture]
        # A cache export that fails (registry hiccup, throttling) never fails the build it belongs to.
        cache = {"image_manifest": True, "oci_media_types": True, "mode": docker_build.CacheMode.MAX.value, "ignore_error": True}
        tag = content_tag(
            args.context_dir, args.image, args.architecture, args.build_args,
            settings={"cache_to": cache, "cache_tag": CACHE_TAG, "build_on_preview": args.build_on_preview, "dockerfile": str(dockerfile)},
        )
        repository = args.repository

        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        cache_ref = repository.url.apply(lambda url: f"{url}:{CACHE_TAG}")
        build = docker_build.Image(
            f"{name}-build",
            context={"location": args.context_dir},
            dockerfile={"location": str(dockerfile)},
            platforms=[platform],
            build_args=dict(args.build_args),
            build_on_preview=args.build_on_preview,
            push=True,
            tags=[repository.url.apply(lambda url: f"{url}:{tag}")],
            registries=[
                {
                    "address": repository.url.apply(lambda url: url.split("/", 1)[0]),
                    "username": token.user_name,
                    "password": token.password,
                }
            ],
            cache_from=[{"registry": {"ref": cache_ref}}],
            cache_to=[{"registry": {"ref": cache_ref, **cache}}],
            # Pulumi never deletes a pushed image (the provider's Delete removes the manifest from ECR):
            # a replaced build may still be what a function runs. ECR's lifecycle policy expires images.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

        self.image_uri = pulumi.Output.concat(repository.url, "@", build.digest)
        self.tag = tag
        self.architecture = args.architecture
        self.platform = platform.value
        self.register_outputs({"image_uri": self.image_uri, "tag": tag, "platform": self.platform})


def _validate(args: LambdaImageArgs) -> Path:
    if args.architecture not in PLATFORMS:
        raise ValueError(f"architecture must be one of {', '.join(PLATFORMS)}, got {args.architecture!r}")
    dockerfile = Path(args.context_dir) / args.image / "Dockerfile"
    if not dockerfile.is_file():
        raise ValueError(f"image {args.image!r} has no Dockerfile at {dockerfile}")
    return dockerfile
