"""Keep a protected tag on every image a function version within rollback reach runs, and on no other:
`python -m tools.protect_images STACK` (tools/deploy.sh runs it after the full update).

The repositories' lifecycle keeps every `protected-<digest hex>` image whatever `ecr_keep_release_images`
says (its first rule), so no version within reach (tools/reach.py) can lose its image to a cleanup.

1. Reads each function's reach (its `live` alias, its pinned `live_version`, its newest `rollback_versions`
   published versions) and the image each of those versions runs.
2. Adds the tag to each such image that lacks it (PutImage of the image's own manifest under the new tag).
3. Only then removes it from images no version within reach runs (BatchDeleteImage of the tag; the image
   keeps its release tag, and the lifecycle's other rules decide its fate).

Every step reads what is there before it writes, so a run interrupted anywhere is finished by the next one;
adding before removing means an interrupted run leaves extra protection, never too little.

Exit codes: 0 done; 1 a version within reach runs an image its repository no longer holds; 2 could not
decide (unknown stack, no credentials, an AWS error).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from components.registry import PROTECTED_TAG_PREFIX
from stack_config import Settings
from tools.cli import CannotDecide, exit_code, stack_settings
from tools.reach import VersionImage, function_reach, image_of

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class ImageMissing(Exception):
    """A version within reach runs an image its repository no longer holds (exit 1)."""


def protected_tag(digest: str) -> str:
    """`protected-<64 hex digits>`: one tag per image, so it never has to move (tags are immutable)."""
    return f"{PROTECTED_TAG_PREFIX}{digest.removeprefix('sha256:')}"


def images_in_reach(lambda_client, settings: Settings) -> dict[str, dict[str, list[VersionImage]]]:
    """repository → digest → the versions within reach that run it."""
    wanted: dict[str, dict[str, list[VersionImage]]] = {}
    repositories = {f"{settings.repository_prefix}{image.name}" for image in settings.images}
    for spec in settings.all_functions:
        name = settings.function_name(spec)
        within = function_reach(lambda_client, name, spec.args.pinned_version, settings.rollback.versions)
        for version in within.versions:
            image = image_of(lambda_client, name, version)
            if image.repository not in repositories:
                raise CannotDecide(f"{name} version {version} runs {image.uri}, outside the stack's repositories")
            wanted.setdefault(image.repository, {}).setdefault(image.digest, []).append(image)
    return wanted


@dataclass
class RepositoryState:
    repository: str
    tags: dict[str, set[str]]
    """digest → tags."""


def repository_state(ecr, repository: str) -> RepositoryState:
    tags: dict[str, set[str]] = {}
    for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository):
        for detail in page["imageDetails"]:
            tags[detail["imageDigest"]] = set(detail.get("imageTags", []))
    return RepositoryState(repository, tags)


def add_protection(ecr, state: RepositoryState, digest: str, out) -> bool:
    """Tag the image with its own manifest; True when the tag was added now."""
    tag = protected_tag(digest)
    if tag in state.tags[digest]:
        return False
    [image] = ecr.batch_get_image(
        repositoryName=state.repository, imageIds=[{"imageDigest": digest}], acceptedMediaTypes=list(MANIFEST_TYPES),
    )["images"]
    try:
        ecr.put_image(
            repositoryName=state.repository, imageManifest=image["imageManifest"], imageTag=tag, imageDigest=digest,
            **({"imageManifestMediaType": image["imageManifestMediaType"]} if image.get("imageManifestMediaType") else {}),
        )
    except ecr.exceptions.ImageAlreadyExistsException:
        return False  # another run tagged it meanwhile
    state.tags[digest].add(tag)
    print(f"{state.repository}@{digest}: protected ({tag})", file=out)
    return True


def remove_protection(ecr, state: RepositoryState, keep: set[str], out) -> list[str]:
    """Untag every protected image not in `keep`; the digests untagged."""
    removed = []
    for digest, tags in sorted(state.tags.items()):
        tag = protected_tag(digest)
        if digest in keep or tag not in tags:
            continue
        ecr.batch_delete_image(repositoryName=state.repository, imageIds=[{"imageTag": tag}])
        tags.discard(tag)
        removed.append(digest)
        print(f"{state.repository}@{digest}: no version within reach runs it any more; protection removed", file=out)
    return removed


def protect(lambda_client, ecr, settings: Settings, out=sys.stdout) -> dict[str, set[str]]:
    """Make the protected tags of the stack's repositories exactly the images within reach; returns them."""
    wanted = images_in_reach(lambda_client, settings)
    states = {repository: repository_state(ecr, repository) for repository in sorted({
        f"{settings.repository_prefix}{image.name}" for image in settings.images})}
    missing = [
        image for repository, digests in wanted.items() for digest, images in digests.items()
        for image in images if digest not in states[repository].tags
    ]
    for repository, digests in wanted.items():
        for digest in sorted(digests):
            if digest in states[repository].tags:
                add_protection(ecr, states[repository], digest, out)
    for repository, state in states.items():
        remove_protection(ecr, state, set(wanted.get(repository, {})), out)
    if missing:
        raise ImageMissing("; ".join(
            f"{image.function_name} version {image.version} runs {image.uri}, which {image.repository} no longer holds "
            "(Lambda fails it with ImageDeleted: roll that function forward, or re-push the image)" for image in missing
        ))
    print(f"protected images: {sum(len(d) for d in wanted.values())} in {len(wanted)} repository(ies)", file=out)
    return {repository: set(digests) for repository, digests in wanted.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.protect_images", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", help="stack name, e.g. dev (reads Pulumi.<stack>.yaml)")
    args = parser.parse_args(argv)

    def act() -> None:
        import boto3

        settings = stack_settings(args.stack)
        protect(boto3.client("lambda", region_name=settings.region), boto3.client("ecr", region_name=settings.region), settings)

    return exit_code("protect_images", act, refused=(ImageMissing,))


if __name__ == "__main__":
    sys.exit(main())
