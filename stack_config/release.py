"""The release record: what the source stack proved, and the one thing a promoting stack runs.

After the source's update, `python -m tools.release record <source>` writes it: each function's `live`
alias → the version it runs → that version's image (by digest) and architecture, as Lambda reports them
(not the newest build: a `live_version` pin makes them differ); per image and architecture the one digest
those functions serve; and the scan gate's verdict for that digest (`tools.scan_gate --verdict-file`).
The deploy workflow carries it to the promoting stack's job as an artifact of the same run, so that stack's
identity never reads the source's state, and a record exists only within the run that tested it.

A promoting stack's program reads it (`$COMMODITY_FORECASTS_RELEASE`) and `promoted` refuses, before
anything is planned, every digest the record does not show was tested: one absent from what the source's
functions run, one whose scan did not pass, one of another architecture than the functions that would run
it. Each refusal is one line naming the image and the digest.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from stack_config.model import Settings
from stack_config.promotion import RELEASE_RECORD_ENV
from stack_config.reader import SettingsError

FORMAT = 1
"""The record's layout version; another is refused rather than guessed at."""
VERDICTS = ("pass", "blocked", "undecided")
"""The scan gate's verdicts (exit 0, 1, 2): only `pass` may be promoted."""
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_URL = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9._/-]+)$")


@dataclass(frozen=True)
class ScanVerdict:
    """The scan gate's verdict on one digest in one repository."""

    verdict: str
    severity_threshold: str
    blocking: tuple[str, ...] = ()
    """Finding ids that blocked (verdict `blocked`)."""
    reason: str = ""
    """Why the gate could not decide (verdict `undecided`)."""
    checked: str = ""
    """The day the gate judged it (YYYY-MM-DD)."""


@dataclass(frozen=True)
class ServedFunction:
    """What one source function's `live` alias runs."""

    function: str
    image: str
    architecture: str
    version: int
    repository_url: str
    digest: str


@dataclass(frozen=True)
class ReleasedImage:
    """One image and architecture of the release: the digest the source's functions serve."""

    image: str
    architecture: str
    digest: str
    repository_url: str
    scan: ScanVerdict | None

    @property
    def uri(self) -> str:
        return f"{self.repository_url}@{self.digest}"


@dataclass(frozen=True)
class ReleaseRecord:
    stack: str
    """The source stack."""
    account: str
    region: str
    release: str
    """The release's id, its UTC time (`20261203T101500Z`): the protected tags of awaiting digests carry it."""
    functions: tuple[ServedFunction, ...]
    images: tuple[ReleasedImage, ...]
    commit: str = ""
    """The commit the source deployed (GITHUB_SHA), when known."""

    def document(self) -> dict[str, Any]:
        """The record as JSON data (what `to_json` writes and `parse` reads): lists, not tuples."""
        return json.loads(json.dumps({"format": FORMAT, **asdict(self)}))

    def to_json(self) -> str:
        return json.dumps(self.document(), indent=2, sort_keys=True) + "\n"


def released_images(functions: tuple[ServedFunction, ...], verdicts: Mapping[str, ScanVerdict]) -> tuple[ReleasedImage, ...]:
    """Per image and architecture, the digest the functions serve and its verdict (`verdicts` by image URI).
    Two digests for one image and architecture (one function pinned elsewhere) are not one release."""
    by_build: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for served in functions:
        by_build.setdefault((served.image, served.architecture), set()).add((served.repository_url, served.digest))
    images = []
    for (image, architecture), served in sorted(by_build.items()):
        if len(served) > 1:
            names = [f"{f.function} runs {f.digest}" for f in functions if (f.image, f.architecture) == (image, architecture)]
            raise SettingsError(
                f"{image} ({architecture}) is served by more than one digest ({'; '.join(names)}): a release is one tested digest per "
                "image and architecture; move the functions to one version (or remove a live_version pin) before recording")
        [(url, digest)] = served
        images.append(ReleasedImage(image, architecture, digest, url, verdicts.get(f"{url}@{digest}")))
    return tuple(images)


def record_path(environ: Mapping[str, str] | None = None) -> Path | None:
    value = (os.environ if environ is None else environ).get(RELEASE_RECORD_ENV, "").strip()
    return Path(value) if value else None


def load(path: Path) -> ReleaseRecord:
    try:
        text = path.read_text()
    except OSError as error:
        raise SettingsError(f"release record {path} (${RELEASE_RECORD_ENV}) cannot be read: {error.strerror}") from None
    return parse(text, where=str(path))


def parse(text: str, *, where: str) -> ReleaseRecord:
    """A record as `to_json` wrote it; anything else is refused naming the field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"release record {where} is not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SettingsError(f"release record {where} must be a format {FORMAT} record (tools.release record), got format {_get(data, 'format')!r}")
    try:
        functions = tuple(ServedFunction(**_digested(where, f)) for f in data["functions"])
        images = tuple(
            ReleasedImage(**{**_digested(where, i), "scan": _verdict(where, i["scan"])}) for i in data["images"]
        )
        return ReleaseRecord(
            stack=str(data["stack"]), account=str(data["account"]), region=str(data["region"]), release=str(data["release"]),
            functions=functions, images=images, commit=str(data.get("commit") or ""),
        )
    except (KeyError, TypeError) as error:
        raise SettingsError(f"release record {where} is malformed ({type(error).__name__}: {error})") from None


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


def _digested(where: str, entry: dict) -> dict:
    if not isinstance(entry, dict) or not DIGEST.match(str(entry.get("digest", ""))) or not _URL.match(str(entry.get("repository_url", ""))):
        raise SettingsError(f"release record {where}: {json.dumps(entry)[:200]} needs a sha256 digest and an ECR repository URL")
    return {key: value for key, value in entry.items() if key != "scan"}


def _verdict(where: str, scan: Any) -> ScanVerdict | None:
    if scan is None:
        return None
    verdict = ScanVerdict(**{**scan, "blocking": tuple(scan.get("blocking") or ())})
    if verdict.verdict not in VERDICTS:
        raise SettingsError(f"release record {where}: scan verdict must be one of {', '.join(VERDICTS)}, got {verdict.verdict!r}")
    return verdict


@dataclass(frozen=True)
class PromotedDigest:
    """A tested digest a promoting stack runs, with where the source keeps it."""

    image: str
    architecture: str
    digest: str
    source_repository_url: str


@dataclass(frozen=True)
class Promoted:
    """A promoting stack's release: the record, and per (image, architecture) it runs the tested digest."""

    record: ReleaseRecord
    images: Mapping[tuple[str, str], PromotedDigest]


def promoted_images(settings: Settings, environ: Mapping[str, str] | None = None) -> Promoted:
    """The tested digests a promoting stack runs, from the record `$COMMODITY_FORECASTS_RELEASE` names."""
    path = record_path(environ)
    if path is None:
        source = settings.promotion.source.stack if settings.promotion else "its source"
        raise SettingsError(
            f"{settings.stack} promotes from {source} and builds nothing, but no release record was given: set ${RELEASE_RECORD_ENV} "
            f"to the record {source}'s deploy wrote (python -m tools.release record {source})")
    record = load(path)
    return Promoted(record, promoted(settings, record, where=str(path)))


def promoted(settings: Settings, record: ReleaseRecord, *, where: str) -> dict[tuple[str, str], PromotedDigest]:
    """Per (image, architecture) the stack runs, the record's tested digest; refuses what was not tested."""
    promotion = settings.promotion
    if promotion is None:
        raise SettingsError(f"{settings.stack} builds its own images: it reads no release record")
    source = promotion.source
    if (record.stack, record.account, record.region) != (source.stack, source.account, source.region):
        raise SettingsError(
            f"release record {where} is {record.stack}'s in {record.account}/{record.region}; {settings.stack} promotes from "
            f"{source.stack} in {source.account}/{source.region}")
    chosen = {}
    for image, architecture in settings.image_builds():
        released = _released(settings, record, image, architecture, where)
        _check_tested(record, released, source.repository_url(settings.project, image), where)
        chosen[(image, architecture)] = PromotedDigest(image, architecture, released.digest, released.repository_url)
    return chosen


def _released(settings: Settings, record: ReleaseRecord, image: str, architecture: str, where: str) -> ReleasedImage:
    runners = ", ".join(settings.function_name(f) for f in settings.all_functions if (f.image, f.architecture) == (image, architecture))
    candidates = [entry for entry in record.images if entry.image == image]
    if not candidates:
        raise SettingsError(f"release record {where} has no {image} image: {record.stack} released no digest for {runners or image}")
    of_architecture = [entry for entry in candidates if entry.architecture == architecture]
    if not of_architecture:
        other = ", ".join(f"{entry.digest} ({entry.architecture})" for entry in candidates)
        raise SettingsError(
            f"release record {where}: {image} {other} is not {architecture}, the architecture of {runners or image}: "
            f"{record.stack} tested no {architecture} {image}")
    if len(of_architecture) > 1:
        raise SettingsError(
            f"release record {where} names {len(of_architecture)} digests for {image} ({architecture}): "
            + ", ".join(entry.digest for entry in of_architecture))
    return of_architecture[0]


def _check_tested(record: ReleaseRecord, released: ReleasedImage, repository_url: str, where: str) -> None:
    name = f"{released.image} ({released.architecture}) {released.digest}"
    served = [f for f in record.functions if (f.repository_url, f.digest) == (released.repository_url, released.digest)]
    if not served:
        raise SettingsError(f"release record {where}: {name} is absent from what {record.stack}'s functions run: it was not tested there")
    wrong = [f for f in served if f.architecture != released.architecture or f.image != released.image]
    if wrong:
        raise SettingsError(
            f"release record {where}: {name} is what {wrong[0].function} runs as {wrong[0].image} on {wrong[0].architecture}: "
            "another image or architecture than the release names")
    if released.repository_url != repository_url:
        raise SettingsError(f"release record {where}: {name} is in {released.repository_url}, not {record.stack}'s {released.image} repository {repository_url}")
    scan = released.scan
    if scan is None:
        raise SettingsError(f"release record {where}: {name} has no scan verdict: {record.stack}'s scan gate did not judge it")
    if scan.verdict != "pass":
        detail = ", ".join(scan.blocking) or scan.reason or "no detail"
        raise SettingsError(f"release record {where}: {name} did not pass {record.stack}'s scan gate ({scan.verdict}: {detail})")
