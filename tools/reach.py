"""Rollback reach, defined once: the versions of a function a rollback may go to, and so the versions whose
images must never be expired. It is the version `live` points at, the version a stack file pins with
`live_version` (when set), and the newest `rollback_versions` published versions.

`tools/rollback.py` refuses a target outside it; `tools/protect_images.py` keeps a protected tag on every
image a version within it runs (the repository lifecycle's first rule keeps those images).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.function import ALIAS
from tools.cli import CannotDecide

IMAGE_URI = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9._/-]+)@(sha256:[0-9a-f]{64})$")
"""A function's image by digest (how the program deploys every function)."""


@dataclass(frozen=True)
class Reach:
    """One function's rollback reach and why each version is in it."""

    function_name: str
    live: int
    pinned: int | None
    newest: tuple[int, ...]
    """The newest published versions, oldest first."""

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted({self.live, *self.newest, *((self.pinned,) if self.pinned is not None else ())}))

    def __contains__(self, version: object) -> bool:
        return version in self.versions

    def describe(self) -> str:
        pinned = f", pinned (live_version) {self.pinned}" if self.pinned is not None else ""
        return f"{ALIAS} {self.live}{pinned}, newest published {', '.join(map(str, self.newest))}"


def reach(function_name: str, published: list[int], live: int, pinned: int | None, newest: int) -> Reach:
    """The reach over a function's published versions (`$LATEST` excluded)."""
    if newest < 1:
        raise ValueError(f"newest must be at least 1, got {newest}")
    return Reach(function_name, live, pinned, tuple(sorted(published)[-newest:]))


def published_versions(lambda_client, function_name: str) -> list[int]:
    return sorted(
        int(v["Version"])
        for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=function_name)
        for v in page["Versions"]
        if v["Version"] != "$LATEST"
    )


def function_reach(lambda_client, function_name: str, pinned: int | None, newest: int) -> Reach:
    """The reach of a deployed function, from its `live` alias and its published versions."""
    live = int(lambda_client.get_alias(FunctionName=function_name, Name=ALIAS)["FunctionVersion"])
    return reach(function_name, published_versions(lambda_client, function_name), live, pinned, newest)


@dataclass(frozen=True)
class VersionImage:
    """The image one published version runs."""

    function_name: str
    version: int
    uri: str
    repository: str
    digest: str


def image_of(lambda_client, function_name: str, version: int) -> VersionImage:
    """The image a published version runs (GetFunction: Code.ImageUri, the digest URI it was deployed with)."""
    uri = lambda_client.get_function(FunctionName=function_name, Qualifier=str(version)).get("Code", {}).get("ImageUri", "")
    match = IMAGE_URI.match(uri)
    if not match:
        raise CannotDecide(f"{function_name} version {version} runs {uri!r}, not an ECR image by digest")
    _, _, repository, digest = match.groups()
    return VersionImage(function_name, version, uri, repository, digest)
