"""Promotion: a stack that builds nothing and runs the digests another stack (its source) tested.

A promoting stack's file says where its images come from (`promote_from: dev`) and how they reach it
(`promotion`):

- `copy`: the source's digests are copied, manifest and layers as pushed, into the stack's own
  repositories (`tools.release promote`). Same account: ECR replicates only across regions or accounts.
- `replication`: the source account's registry replicates the source's repositories into this account.
  ECR keeps a replicated repository's name, so this stack's repositories are named after the source's
  (`commodity-forecasts/<source environment>/<image>`, in this account); the deploy waits for the digests.
- `pull`: this stack's functions run the source's repository images; the source's repository policy lets
  this account's Lambda, for this stack's functions only, pull them.

`replication` and `pull` are for stacks in another account of the same region (Lambda pulls a
cross-account image only within one region). The source needs to know who promotes from it only for those
two (it owns the replication configuration, or the repository policy): it reads the stack files beside its
own (`consumers`), as the registry-owner check does, so each account id is written once, in its own file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from stack_config import identities
from stack_config.reader import Doc, Reader, SettingsError, decode, show

PROMOTE_FROM = "promote_from"
PROMOTION = "promotion"
MODES = ("copy", "replication", "pull")
ACROSS_ACCOUNTS = ("replication", "pull")
RELEASE_RECORD_ENV = "COMMODITY_FORECASTS_RELEASE"
"""The release record's path: where the source's deploy writes it, and where a promoting stack's program and
tools read it (one name both sides import)."""
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

PROMOTE_FROM_DOC = Doc(
    "The stack whose tested digests this stack runs: it then builds nothing, and its previews and deploys read that "
    f"stack's release record (the file `${RELEASE_RECORD_ENV}` names). Unset: the stack builds its own images.",
    allowed="another stack of the project that builds its images",
)
PROMOTION_DOC = Doc(
    "How the promoted digests reach this stack: `copy` into its own repositories (both stacks name the same account); "
    "`replication` by the source account's registry, or `pull` from the source's repositories (another account, same "
    "region). Only with `promote_from`.",
)


@dataclass(frozen=True)
class Source:
    """The stack a promoting stack takes its images from, as that stack's own file configures it."""

    stack: str
    environment: str
    region: str
    account: str
    images: tuple[tuple[str, str], ...]
    """(image, architecture) pairs the source builds: all it can release."""

    def repository_name(self, project: str, image: str) -> str:
        return f"{project}/{self.environment}/{image}"

    def repository_url(self, project: str, image: str) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.repository_name(project, image)}"

    def repository_arn(self, project: str, image: str) -> str:
        partition = identities.partition(self.region)
        return f"arn:{partition}:ecr:{self.region}:{self.account}:repository/{self.repository_name(project, image)}"


@dataclass(frozen=True)
class Promotion:
    """Where a promoting stack's images come from and how they reach it."""

    source: Source
    mode: str = MODES[0]
    """`copy`, `replication` or `pull` (module docstring)."""

    @property
    def owns_copies(self) -> bool:
        """copy and replication put the digests into repositories in this stack's account; pull does not."""
        return self.mode != "pull"


@dataclass(frozen=True)
class Consumer:
    """A stack in another account that promotes from this one: what this stack's resources must name."""

    stack: str
    environment: str
    region: str
    account: str
    mode: str

    def deploy_role_arn(self, project: str) -> str:
        return identities.deploy_role_arn(self.region, self.account, project, self.environment)

    def function_arns(self, project: str) -> str:
        """The consumer's functions (`aws:sourceArn` of Lambda's pulls for them)."""
        return f"arn:{identities.partition(self.region)}:lambda:{self.region}:{self.account}:function:{project}-{self.environment}-*"


def read(top: Reader) -> tuple[str | None, str]:
    """`promote_from` and `promotion` as written; `resolve` checks them against the source's file."""
    mode_given = PROMOTION in top.leftover()
    source = top.optional_string(PROMOTE_FROM, pattern=_STACK_NAME, pattern_text="a stack name", doc=PROMOTE_FROM_DOC)
    mode = top.string(PROMOTION, MODES[0], choices=MODES, doc=PROMOTION_DOC)
    if source is None and mode_given:
        raise SettingsError(f"{PROMOTION} is set ({mode!r}) but {PROMOTE_FROM} is not: only a stack that promotes from another has a promotion mode")
    return source, mode


@dataclass(frozen=True)
class Stack:
    """What the checks need of each side."""

    stack: str
    region: str
    account: str | None
    registry_owner: bool
    images: tuple[tuple[str, str], ...]


def check(own: Stack, source: Stack, mode: str, *, source_promotes: bool, build_args: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse a promotion the accounts, regions, registry ownership or images make impossible."""
    where = f"{PROMOTE_FROM}: {source.stack}"
    if source.stack == own.stack:
        raise SettingsError(f"{where}: a stack cannot promote from itself")
    if source_promotes:
        raise SettingsError(f"{where} promotes from another stack itself: promote from the stack that builds and tests the images")
    if source.region != own.region:
        raise SettingsError(
            f"{where} is in {source.region}, {own.stack} in {own.region}: promotion is within one region "
            "(Lambda pulls a cross-account image only within its region)")
    _check_accounts(own, source, mode)
    if mode == "replication" and not (source.registry_owner and own.registry_owner):
        raise SettingsError(
            f"{PROMOTION}: replication needs registry_owner in both stack files ({source.stack}'s registry replicates, "
            f"{own.stack}'s registry policy lets it): set registry_owner: true in "
            + " and ".join(f"Pulumi.{s.stack}.yaml" for s in (source, own) if not s.registry_owner))
    for image, arguments in build_args.items():
        if arguments:
            raise SettingsError(f"images[{image}].build_args: {own.stack} promotes from {source.stack} and builds nothing; set them in {source.stack}'s file")
    for image, architecture in own.images:
        if (image, architecture) not in source.images:
            built = ", ".join(f"{i} ({a})" for i, a in source.images)
            what = "an image" if all(i != image for i, _ in source.images) else "an architecture"
            raise SettingsError(
                f"images[{image}] on {architecture}: {own.stack} promotes from {source.stack}, which builds no such image "
                f"({what} only {own.stack} would run); {source.stack} builds {built}")


def _check_accounts(own: Stack, source: Stack, mode: str) -> None:
    if own.account is None or source.account is None:
        missing = " and ".join(f"Pulumi.{s.stack}.yaml" for s in (own, source) if s.account is None)
        raise SettingsError(f"{PROMOTION}: {mode} needs each stack's account: set aws:allowedAccountIds in {missing}")
    if mode == "copy" and own.account != source.account:
        raise SettingsError(
            f"{PROMOTION}: copy is within one account, but {source.stack} is in {source.account} and {own.stack} in {own.account}: "
            "use replication or pull")
    if mode in ACROSS_ACCOUNTS and own.account == source.account:
        raise SettingsError(
            f"{PROMOTION}: {mode} is across accounts, but {source.stack} and {own.stack} are both in {own.account}: use copy "
            "(ECR replicates only across regions or accounts)")


def consumers(project_dir: str | Path, stack: str, project: str) -> tuple[Consumer, ...]:
    """The stacks that promote from `stack` by replication or pull, from the stack files beside it."""
    found = []
    for path in sorted(Path(project_dir).glob("Pulumi.*.yaml")):
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        config = _raw(path)
        if name == stack or config.get(f"{project}:{PROMOTE_FROM}") != stack:
            continue
        mode = config.get(f"{project}:{PROMOTION}", MODES[0])
        if mode not in ACROSS_ACCOUNTS:
            continue
        accounts = decode(f"{path.name}: aws:allowedAccountIds", config.get("aws:allowedAccountIds") or [], list)
        environment, region = config.get(f"{project}:environment"), config.get("aws:region")
        if len(accounts) != 1 or not isinstance(environment, str) or not isinstance(region, str):
            raise SettingsError(
                f"{path.name} promotes from {stack} by {mode} but does not name its one account, environment and region "
                f"(aws:allowedAccountIds, {project}:environment, aws:region), got {show(accounts)}, {show(environment)}, {show(region)}")
        found.append(Consumer(name, environment, region, str(accounts[0]), mode))
    return tuple(found)


def _raw(path: Path) -> dict[str, Any]:
    import yaml

    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    return {key: json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value for key, value in config.items()}
