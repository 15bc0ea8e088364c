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

Two more kinds of protected tag:
- `protected-release-<release id>-<architecture>`: what `tools.release record` puts on each digest it releases,
  so a digest awaiting promotion is kept whatever `ecr_keep_release_images` says, even after it leaves the
  source's own rollback reach. The markers of the `RELEASES_KEPT` newest releases stay (the newest awaits its
  promotion; a promotion of the one before may still be copying); older ones are removed here.
- `protected-<environment>-<digest hex>`: a stack whose functions pull their images from the source's
  repositories (promotion by pull) keeps its rollback reach's images there, under its own name, so the
  source's run never removes them and it never removes the source's.

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


RELEASE_MARKER_PREFIX = f"{PROTECTED_TAG_PREFIX}release-"
RELEASES_KEPT = 2
"""Releases whose markers stay: the newest (awaiting promotion) and the one before (a promotion started before
the newest was recorded may still be copying it)."""


def protected_tag(digest: str, owner: str | None = None) -> str:
    """`protected-<64 hex digits>`: one tag per image, so it never has to move (tags are immutable); another
    stack's protection in these repositories carries its name, `protected-<owner>-<hex>`."""
    return f"{PROTECTED_TAG_PREFIX}{owner + '-' if owner else ''}{digest.removeprefix('sha256:')}"


def release_marker(release: str, architecture: str) -> str:
    """The tag `tools.release record` puts on a released digest: `protected-release-<release id>-<architecture>`."""
    return f"{RELEASE_MARKER_PREFIX}{release}-{architecture}"


@dataclass(frozen=True)
class Place:
    """Where a stack's images are kept and under which protected tags."""

    repositories: tuple[str, ...]
    registry_id: str | None
    """None: the caller's own registry."""
    owner: str | None
    """None: the repositories' own stack (`protected-<hex>`); else the pulling stack's environment."""


def place(settings: Settings) -> Place:
    """The stack's own repositories, or (promotion by pull) its source's, where its functions' images are."""
    names = tuple(sorted(settings.repository_name(image.name) for image in settings.images))
    if settings.owns_repositories:
        return Place(names, None, None)
    source = settings.promotion.source
    return Place(tuple(sorted(source.repository_name(settings.project, image.name) for image in settings.images)),
                 source.account, settings.environment)


def images_in_reach(lambda_client, settings: Settings) -> dict[str, dict[str, list[VersionImage]]]:
    """repository → digest → the versions within reach that run it."""
    wanted: dict[str, dict[str, list[VersionImage]]] = {}
    repositories = set(place(settings).repositories)
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
    registry_id: str | None = None

    @property
    def where(self) -> dict[str, str]:
        """The request parameters naming the repository."""
        return {"repositoryName": self.repository, **({"registryId": self.registry_id} if self.registry_id else {})}


def repository_state(ecr, repository: str, registry_id: str | None = None) -> RepositoryState:
    tags: dict[str, set[str]] = {}
    state = RepositoryState(repository, tags, registry_id)
    for page in ecr.get_paginator("describe_images").paginate(**state.where):
        for detail in page["imageDetails"]:
            tags[detail["imageDigest"]] = set(detail.get("imageTags", []))
    return state


def add_tag(ecr, state: RepositoryState, digest: str, tag: str) -> bool:
    """Tag the image with its own manifest (PutImage of what BatchGetImage returns); True when added now."""
    if tag in state.tags[digest]:
        return False
    [image] = ecr.batch_get_image(**state.where, imageIds=[{"imageDigest": digest}], acceptedMediaTypes=list(MANIFEST_TYPES))["images"]
    try:
        ecr.put_image(
            **state.where, imageManifest=image["imageManifest"], imageTag=tag, imageDigest=digest,
            **({"imageManifestMediaType": image["imageManifestMediaType"]} if image.get("imageManifestMediaType") else {}),
        )
    except ecr.exceptions.ImageAlreadyExistsException:
        return False  # another run tagged it meanwhile
    state.tags[digest].add(tag)
    return True


def add_protection(ecr, state: RepositoryState, digest: str, out, owner: str | None = None) -> bool:
    """Tag the image with its protected tag; True when the tag was added now."""
    tag = protected_tag(digest, owner)
    added = add_tag(ecr, state, digest, tag)
    if added:
        print(f"{state.repository}@{digest}: protected ({tag})", file=out)
    return added


def remove_protection(ecr, state: RepositoryState, keep: set[str], out, owner: str | None = None) -> list[str]:
    """Untag every image protected under `owner`'s tag that is not in `keep`; the digests untagged."""
    removed = []
    for digest, tags in sorted(state.tags.items()):
        tag = protected_tag(digest, owner)
        if digest in keep or tag not in tags:
            continue
        ecr.batch_delete_image(**state.where, imageIds=[{"imageTag": tag}])
        tags.discard(tag)
        removed.append(digest)
        print(f"{state.repository}@{digest}: no version within reach runs it any more; protection removed", file=out)
    return removed


def remove_old_markers(ecr, state: RepositoryState, out) -> list[str]:
    """Remove the release markers of all but the `RELEASES_KEPT` newest releases (ids sort by time)."""
    markers = {tag for tags in state.tags.values() for tag in tags if tag.startswith(RELEASE_MARKER_PREFIX)}
    releases = sorted({tag.removeprefix(RELEASE_MARKER_PREFIX).split("-", 1)[0] for tag in markers})
    stale = sorted(tag for tag in markers if tag.removeprefix(RELEASE_MARKER_PREFIX).split("-", 1)[0] in releases[:-RELEASES_KEPT])
    for tag in stale:
        ecr.batch_delete_image(**state.where, imageIds=[{"imageTag": tag}])
        for tags in state.tags.values():
            tags.discard(tag)
        print(f"{state.repository}: {tag} removed (a newer release superseded it)", file=out)
    return stale


def protect(lambda_client, ecr, settings: Settings, out=sys.stdout) -> dict[str, set[str]]:
    """Make the protected tags of the stack's repositories exactly the images within reach; returns them."""
    wanted = images_in_reach(lambda_client, settings)
    where = place(settings)
    states = {repository: repository_state(ecr, repository, where.registry_id) for repository in where.repositories}
    missing = [
        image for repository, digests in wanted.items() for digest, images in digests.items()
        for image in images if digest not in states[repository].tags
    ]
    for repository, digests in wanted.items():
        for digest in sorted(digests):
            if digest in states[repository].tags:
                add_protection(ecr, states[repository], digest, out, where.owner)
    for repository, state in states.items():
        remove_protection(ecr, state, set(wanted.get(repository, {})), out, where.owner)
        if where.owner is None:
            remove_old_markers(ecr, state, out)
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
