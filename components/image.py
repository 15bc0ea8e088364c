"""LambdaImage: build one image for one Lambda architecture and push it to its EcrRepository."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from importlib.metadata import version
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import pulumi
import pulumi_docker_build as docker_build

from .errors import ComponentError
from .registry import CACHE_TAG, RELEASE_TAG_PREFIX, EcrRepository

PLATFORMS = {"arm64": docker_build.Platform.LINUX_ARM64, "x86_64": docker_build.Platform.LINUX_AMD64}
"""Lambda architecture → the one image platform it can run. Deriving one from the other means an
image and its function can never disagree."""
_PUSH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
BASE_IMAGE_ARG = "BASE_IMAGE"
"""The build argument every Dockerfile's `FROM` takes. Its default there is the same digest as
`base-image.txt` (a test keeps them equal), so a build that is not given the pin still never takes whatever a
moving tag means that day."""
BASE_IMAGE_FILE = "base-image.txt"
"""In the build context: the one place the base image is pinned (`repository:tag@sha256:<digest>`), so the
content tag covers it and the bump bot (renovate.json) edits one line."""
PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9.-]*(?::\d+)?/[a-z0-9._/-]+(?::[A-Za-z0-9_.-]{1,128})?@sha256:[0-9a-f]{64}$")
"""An image reference pinned by digest, e.g. `public.ecr.aws/lambda/python:3.12@sha256:…`."""
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
"""What `base-image.txt` holds until the first bump: no registry serves it, so a real build fails on it."""
DOCKERIGNORE = ".dockerignore"


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
    file Docker sends as the context (contents and mode; what `.dockerignore` excludes is never sent, so
    it never counts), the Dockerfile's location, the platform, the build arguments (the pinned base among
    them), the other build settings (cache, build-on-preview) and the provider's version. pulumi-docker-build
    re-pushes its tags on any change to these (Diff in provider/internal/image.go), and another provider
    version may build other bytes. It names the build resource; the pushed tag adds the push id (`LambdaImage`).

    Hashing the whole context (not only the image's folder) errs on the side of a new build: an
    unrelated change yields a new tag on an identical digest, which redeploys nothing."""
    root = Path(context_dir)
    digest = hashlib.sha256()
    digest.update(f"{image}\0{PLATFORMS[architecture].value}\0docker-build {provider_version()}\0".encode())
    for key in sorted(build_args):
        digest.update(f"{key}={build_args[key]}\0".encode())
    digest.update(json.dumps(settings or {}, sort_keys=True).encode() + b"\0")
    for path in context_files(root):
        relative = path.relative_to(root)
        digest.update(f"{relative.as_posix()}\0{stat.S_IMODE(path.stat().st_mode):o}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{RELEASE_TAG_PREFIX}{architecture}-{digest.hexdigest()[:20]}"


@cache
def provider_version() -> str:
    """The installed pulumi-docker-build SDK's version: the SDK asks the engine for the provider plugin of
    exactly this version, so it is the version that builds."""
    return version("pulumi-docker-build")


def context_files(context_dir: str | Path) -> list[Path]:
    """The files Docker sends as the build context, sorted: every file under it that the context's
    `.dockerignore` does not exclude (the one list of what is left out, for the build and the content tag)."""
    root = Path(context_dir)
    rules = dockerignore_rules(root / DOCKERIGNORE)
    return sorted(p for p in root.rglob("*") if p.is_file() and not ignored(p.relative_to(root).as_posix(), rules))


def dockerignore_rules(path: Path) -> list[tuple[re.Pattern[str], bool]]:
    """`.dockerignore` as (pattern, excludes) pairs in file order, with Docker's syntax (moby/patternmatcher):
    `#` comments, a leading `!` re-includes, `**` spans directories, `*` and `?` stay within one."""
    if not path.is_file():
        return []
    rules = []
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        excludes = not text.startswith("!")
        text = text.lstrip("!").strip().strip("/")
        rules.append((re.compile("^" + _glob_to_regex(text) + "$"), excludes))
    return rules


def _glob_to_regex(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return "".join(out)


def ignored(relative: str, rules: list[tuple[re.Pattern[str], bool]]) -> bool:
    """Docker's rule: the last pattern that matches the path, or a directory above it, decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
    verdict = False
    for pattern, excludes in rules:
        if any(pattern.match(candidate) for candidate in candidates):
            verdict = excludes
    return verdict


def read_base_image(context_dir: str | Path) -> str:
    """The pinned base image from `<context>/base-image.txt` (one reference; `#` lines are comments)."""
    path = Path(context_dir) / BASE_IMAGE_FILE
    if not path.is_file():
        raise ImageError("base-image", f"{path} is missing: it pins the base image every Dockerfile builds on (repository:tag@sha256:<digest>)")
    references = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(references) != 1 or not PINNED_IMAGE.match(references[0]):
        raise ImageError(
            "base-image-not-pinned",
            f"{path} must hold exactly one image reference pinned by digest (repository:tag@sha256:<64 hex digits>), got {references}",
        )
    return references[0]


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
    base_image: str
    """The pinned base it builds on (`<context>/base-image.txt`), passed as the `BASE_IMAGE` build argument."""

    def __init__(self, name: str, args: LambdaImageArgs, opts: pulumi.ResourceOptions | None = None):
        dockerfile = _validate(args)
        base_image = read_base_image(args.context_dir)
        super().__init__("commodity-forecasts:image:LambdaImage", name, None, opts)
        platform = PLATFORMS[args.architecture]
        build_args = {BASE_IMAGE_ARG: base_image, **args.build_args}
        if base_image.endswith(PLACEHOLDER_DIGEST):
            pulumi.log.warn(
                f"{Path(args.context_dir) / BASE_IMAGE_FILE} still pins the placeholder digest: a build will fail to pull it. "
                "Merge Renovate's digest pull request, or pin the tag's index digest by hand (docs/images.md)",
                resource=self,
            )
        # A cache export that fails (registry hiccup, throttling) never fails the build it belongs to.
        cache = {"image_manifest": True, "oci_media_types": True, "mode": docker_build.CacheMode.MAX.value, "ignore_error": True}
        content = content_tag(
            args.context_dir, args.image, args.architecture, build_args,
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
            build_args=build_args,
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
            # update (the provider would push their tags again, which ECR refuses). The push waits for the
            # repository's policy: a deployer its push restriction refuses fails the same way every time,
            # and no push precedes the restriction.
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, ignore_changes=["tags", "registries"],
                depends_on=[repository.policy] if repository.policy is not None else [],
            ),
        )

        self.build = build
        self.content_tag = content
        self.image_uri = pulumi.Output.concat(repository.url, "@", build.digest)
        self.tag = build.tags.apply(lambda refs: (refs or [tag])[0].rsplit(":", 1)[1])
        self.architecture = args.architecture
        self.platform = platform.value
        self.base_image = base_image
        self.register_outputs({
            "image_uri": self.image_uri, "tag": tag, "content_tag": content, "platform": self.platform, "base_image": base_image,
        })


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
    if BASE_IMAGE_ARG in args.build_args:
        raise ImageError(
            "base-image-override",
            f"build_args may not set {BASE_IMAGE_ARG}: the base is pinned once, in {Path(args.context_dir) / BASE_IMAGE_FILE}",
        )
    dockerfile = Path(args.context_dir) / args.image / "Dockerfile"
    if not dockerfile.is_file():
        raise ImageError("dockerfile", f"image {args.image!r} has no Dockerfile at {dockerfile}")
    return dockerfile
