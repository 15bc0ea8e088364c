"""LambdaImage: build one image for one Lambda architecture and push it to its EcrRepository."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import pulumi
import pulumi_docker_build as docker_build

from components.errors import ComponentError
from components.registry import CACHE_TAG, RELEASE_TAG_PREFIX, EcrRepository

PLATFORMS = {"arm64": docker_build.Platform.LINUX_ARM64, "x86_64": docker_build.Platform.LINUX_AMD64}
"""Lambda architecture → the one image platform it can run. Deriving one from the other means an
image and its function can never disagree."""
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_PUSH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def push_id_now() -> str:
    """The default push id: this run's UTC time to the second, e.g. `20261126T154030Z`. Runs of one
    stack never overlap (the stack's update lock), so no two of its pushes share one."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


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
    push_id: str | None = None
    """Ends the release tag of a new build, so that no push ever targets a tag that exists (default:
    `push_id_now()`). Only a new build uses it: an unchanged one keeps the tag it was pushed with."""


def content_tag(
    context_dir: str | Path, image: str, architecture: str, build_args: Mapping[str, str], settings: Mapping[str, Any] | None = None,
) -> str:
    """`release-<architecture>-<hash>`, the hash of everything that makes the provider push again: every
    file in the context (contents and mode), the Dockerfile's location, the platform, the build
    arguments and the other build settings (cache, build-on-preview). pulumi-docker-build re-pushes
    its tags on any change to these (Diff in provider/internal/image.go). It names the build resource;
    the pushed tag adds the push id (`LambdaImage`).

    Hashing the whole context (not only the image's folder) errs on the side of a new build: an
    unrelated change yields a new tag on an identical digest, which redeploys nothing."""
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
    tag: pulumi.Output[str]
    """The release tag the build was pushed with, `<content tag>-<push id>`; an unchanged image keeps
    the tag it was first pushed with (the build ignores later changes to it)."""
    content_tag: str
    """`release-<architecture>-<hash>` of everything the build depends on (`content_tag()`)."""
    build: docker_build.Image
    """The build-and-push resource, named after the content tag."""
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
        content = content_tag(
            args.context_dir, args.image, args.architecture, args.build_args,
            settings={
                "cache_to": cache, "cache_tag": CACHE_TAG, "build_on_preview": args.build_on_preview, "dockerfile": str(dockerfile),
                # A new repository is a new build: the ignored tags would otherwise still name the old one.
                "repository": args.repository.args.repository_name,
            },
        )
        tag = f"{content}-{args.push_id or push_id_now()}"
        repository = args.repository

        cache_ref = repository.url.apply(lambda url: f"{url}:{CACHE_TAG}")
        # Every push goes to a tag that cannot exist yet. ECR refuses any push to an existing immutable
        # tag, even of the same digest (aws/containers-roadmap#2179), and neither a rebuild (a revert to
        # earlier content, a retry after a run that pushed but was cancelled before Pulumi saved it)
        # nor BuildKit (timestamps) promises the same bytes. So the resource is named after the content:
        # new content is a new resource, created with this run's tag, while the resource of unchanged
        # content ignores the tag, which changes with every run, and pushes nothing.
        build = docker_build.Image(
            f"{name}-build-{content.rsplit('-', 1)[1][:12]}",
            context={"location": args.context_dir},
            dockerfile={"location": str(dockerfile)},
            platforms=[platform],
            build_args=dict(args.build_args),
            build_on_preview=args.build_on_preview,
            push=True,
            tags=[repository.url.apply(lambda url: f"{url}:{tag}")],
            # No `registries`: the provider layers them over the host's Docker credentials
            # (provider/internal/host.go newHost: ConfigFile().GetAllCredentials()), and the deploy job
            # logs in to ECR first (tools/ecr_login.py). Credentials given here would be stored in the
            # stack's state, which previews can read: an ECR token acts as the deploying role for 12 hours.
            cache_from=[{"registry": {"ref": cache_ref}}],
            cache_to=[{"registry": {"ref": cache_ref, **cache}}],
            # Pulumi never deletes a pushed image (the provider's Delete removes the manifest from ECR):
            # a replaced build may still be what a function runs. ECR's lifecycle policy expires images.
            # `registries` is ignored too: builds pushed with it in their state must not see its removal as an
            # update (the provider would push their tags again, which ECR refuses).
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, ignore_changes=["tags", "registries"]),
        )

        self.build = build
        self.content_tag = content
        self.image_uri = pulumi.Output.concat(repository.url, "@", build.digest)
        self.tag = build.tags.apply(lambda refs: (refs or [tag])[0].rsplit(":", 1)[1])
        self.architecture = args.architecture
        self.platform = platform.value
        self.register_outputs({"image_uri": self.image_uri, "tag": tag, "content_tag": content, "platform": self.platform})


class ImageError(ComponentError):
    """A LambdaImage's inputs were refused."""


def _validate(args: LambdaImageArgs) -> Path:
    if args.architecture not in PLATFORMS:
        raise ImageError("architecture", f"architecture must be one of {', '.join(PLATFORMS)}, got {args.architecture!r}")
    if args.push_id is not None and not _PUSH_ID.match(args.push_id):
        raise ImageError(
            "push-id",
            f"push_id must be 1-40 letters, digits, '.', '_' or '-' (an ECR tag's characters), got {args.push_id!r}"
        )
    dockerfile = Path(args.context_dir) / args.image / "Dockerfile"
    if not dockerfile.is_file():
        raise ImageError("dockerfile", f"image {args.image!r} has no Dockerfile at {dockerfile}")
    return dockerfile
