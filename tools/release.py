"""Release records and promotion, the steps tools/deploy.sh runs around a source's and a promoting stack's update:

    python -m tools.release live STACK                     what each function's `live` alias runs, {function: image URI}
                                                            (the scan gate's --images-json)
    python -m tools.release record STACK --verdicts FILE   the release record on stdout (stack_config/release.py),
                                                            each released digest marked in its repository
    python -m tools.release promote STACK [--record FILE]  the record's tested digests brought to the stack:
                                                            copied, or waited for as replicas; nothing to do for pull
    python -m tools.release images STACK [--record FILE]   what a promoting stack's functions will run, {image-arch:
                                                            URI} (the scan gate's --images-json, before the update)
    python -m tools.release mode STACK                     `build`, or the stack's promotion mode (for tools/deploy.sh)
    python -m tools.release current STACK --out FILE       for a pull request's preview: the record a promoting stack
                                                            runs now (its `release` output), `record=` and `preview=`
                                                            lines for $GITHUB_OUTPUT

`record` reads Lambda, not the stack's outputs: per function the version its `live` alias runs and that
version's image by digest and architecture (GetAlias, GetFunction with the version as qualifier), so a
`live_version` pin records what actually serves. It marks each released digest with
`protected-release-<release id>-<architecture>` before it prints the record, so no record names a digest the
source's lifecycle may expire (tools/protect_images.py keeps the markers of the newest releases).

`promote` refuses, as the program does at preview, any digest the record does not show tested; it then
copies each (tools/ecr_copy.py) under `release-<architecture>-promoted-<digest hex>` (a release tag: an
untagged image would expire after `ecr_untagged_expire_days`), or, for replication, waits until the
replica is in the stack's repository (polling DescribeImages there, so it reads nothing of the source) and
tags it the same way. The record is `--record FILE`, else `$COMMODITY_FORECASTS_RELEASE`.

`current` reads the stack's own state (`pulumi stack output release --json`, with the read-only preview
role): a pull request previews its program against the release the stack runs now, and never sees, writes or
uploads another. A promoting stack that has run no release yet has nothing to preview against: `preview=false`.

Exit codes: 0 done; 1 refused (a digest the record does not show tested, two digests serving one image and
architecture, a source image that is not what the record says); 2 could not decide (unknown stack, no record,
no credentials, an AWS error, a replica that did not arrive in time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from components.function import ALIAS
from stack_config import Settings, SettingsError
from stack_config.promotion import RELEASE_RECORD_ENV
from stack_config.release import PromotedDigest, ReleaseRecord, ScanVerdict, ServedFunction, load, parse, promoted, released_images
from tools.cli import CannotDecide, exit_code, stack_settings
from tools.ecr_copy import CopyRefused, ImageRef, copy_image
from tools.protect_images import RepositoryState, add_tag, release_marker
from tools.reach import IMAGE_URI

REPLICA_TIMEOUT_SECONDS = 1800.0
"""How long `promote` waits for a replica: ECR replicates most images within 30 minutes (its user guide,
"Private image replication")."""


def promoted_tag(architecture: str, digest: str) -> str:
    """The release tag of a promoted copy: derived from the digest, so promoting it again writes nothing."""
    return f"release-{architecture}-promoted-{digest.removeprefix('sha256:')}"


def _pinned(function: str, code: dict) -> str:
    """The image by digest: `ImageUri` as deployed (the program deploys by digest), else `ResolvedImageUri`, the
    digest Lambda resolved a tag to (FunctionCodeLocation, Lambda API reference)."""
    for key in ("ImageUri", "ResolvedImageUri"):
        if IMAGE_URI.match(code.get(key) or ""):
            return code[key]
    raise CannotDecide(f"{function} runs {code.get('ImageUri')!r}, not an ECR image by digest")


def served_functions(lambda_client, settings: Settings) -> tuple[ServedFunction, ...]:
    """What each function's `live` alias runs: its version's image by digest and its architecture."""
    served = []
    for spec in settings.all_functions:
        name = settings.function_name(spec)
        version = int(lambda_client.get_alias(FunctionName=name, Name=ALIAS)["FunctionVersion"])
        answer = lambda_client.get_function(FunctionName=name, Qualifier=str(version))
        uri = _pinned(name, answer.get("Code") or {})
        url, digest = uri.split("@")
        if url.split("/", 1)[1] != settings.repository_name(spec.image):
            raise CannotDecide(f"{name} version {version} runs {uri}, not an image of {settings.repository_name(spec.image)}")
        architecture = ((answer.get("Configuration") or {}).get("Architectures") or ["x86_64"])[0]
        served.append(ServedFunction(name, spec.image, architecture, version, url, digest))
    return tuple(served)


def record(
    lambda_client, ecr, settings: Settings, verdicts: dict[str, ScanVerdict], *, now: datetime, commit: str = "", out=None,
) -> ReleaseRecord:
    """The release record of what the stack serves now; each released digest is marked first."""
    out = out or sys.stderr
    served = served_functions(lambda_client, settings)
    images = released_images(served, verdicts)
    release = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    account = served[0].repository_url.split(".", 1)[0] if served else settings.account_id or ""
    for image in images:
        repository = image.repository_url.split("/", 1)[1]
        [detail] = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": image.digest}])["imageDetails"]
        state = RepositoryState(repository, {image.digest: set(detail.get("imageTags") or ())})
        if add_tag(ecr, state, image.digest, release_marker(release, image.architecture)):
            print(f"{image.uri}: kept while it awaits promotion ({release_marker(release, image.architecture)})", file=out)
    return ReleaseRecord(settings.stack, account, settings.region, release, served, images, commit=commit)


def promote(ecr, settings: Settings, record_: ReleaseRecord, where: str, *, out=None,
            timeout_seconds: float = REPLICA_TIMEOUT_SECONDS, poll_seconds: float = 15, sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> dict[tuple[str, str], PromotedDigest]:
    """Bring each tested digest to the stack as its promotion mode says; refuses what was not tested."""
    out = out or sys.stdout
    chosen = promoted(settings, record_, where=where)
    mode = settings.promotion.mode
    for (image, architecture), tested in sorted(chosen.items()):
        source = ImageRef.parse(f"{tested.source_repository_url}@{tested.digest}")
        name = f"{image} ({architecture}) {tested.digest}"
        tag = promoted_tag(architecture, tested.digest)
        if mode == "copy":
            done = copy_image(ecr, ecr, source, settings.repository_name(image), tag)
            what = (f"copied into {settings.repository_name(image)}: {done.blobs_uploaded} blob(s), {done.bytes_uploaded / 1e6:.1f} MB "
                    f"uploaded, {done.blobs_present} already there" if done.manifest_put else f"in {settings.repository_name(image)} already")
            print(f"{name}: {what}; tagged {tag}", file=out)
        elif mode == "replication":
            waited = wait_for_replica(ecr, settings.repository_name(image), tested.digest, tag, timeout_seconds=timeout_seconds,
                                      poll_seconds=poll_seconds, sleep=sleep, clock=clock)
            print(f"{name}: replicated into {settings.repository_name(image)} (waited {waited:.0f} s); tagged {tag}", file=out)
        else:
            print(f"{name}: functions pull it from {tested.source_repository_url} (nothing to copy)", file=out)
    return chosen


def planned_images(settings: Settings, record_: ReleaseRecord, where: str) -> dict[str, str]:
    """The image URI each (image, architecture) of a promoting stack will run, as its program plans it."""
    uris = {}
    for (image, architecture), tested in sorted(promoted(settings, record_, where=where).items()):
        own = f"{settings.account_id}.dkr.ecr.{settings.region}.amazonaws.com/{settings.repository_name(image)}"
        uris[f"{image}-{architecture}"] = f"{own if settings.owns_repositories else tested.source_repository_url}@{tested.digest}"
    return uris


def wait_for_replica(ecr, repository: str, digest: str, tag: str, *, timeout_seconds: float, poll_seconds: float,
                     sleep: Callable[[float], None], clock: Callable[[], float]) -> float:
    """Poll the stack's own repository until the replica is there, then give it the release tag; seconds waited."""
    started = clock()
    while True:
        try:
            [detail] = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])["imageDetails"]
            break
        except ecr.exceptions.ImageNotFoundException:
            if clock() - started >= timeout_seconds:
                raise CannotDecide(f"{repository}@{digest} was not replicated within {timeout_seconds:.0f} s; run the deploy again later") from None
            sleep(poll_seconds)
    add_tag(ecr, RepositoryState(repository, {digest: set(detail.get("imageTags") or ())}), digest, tag)
    return clock() - started


NO_RELEASE_YET = ("does not have output property 'release'", "no stack named")
"""What the CLI says when a stack has no `release` output, or no state at all (pulumi/pulumi: `stack output`'s
`current stack does not have output property '<name>'`; loading a stack that does not exist, `no stack named '<name>' found`)."""


def current(settings: Settings, out: Path, *, pulumi: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> dict[str, str]:
    """What a pull request's preview of the stack reads: `record` (the file written, or empty) and `preview`."""
    if settings.promotion is None:
        return {"record": "", "preview": "true"}
    done = pulumi(["pulumi", "stack", "output", "release", "--json", "--stack", settings.stack], capture_output=True, text=True)
    if done.returncode != 0:
        if any(marker in done.stderr for marker in NO_RELEASE_YET):
            print(f"{settings.stack} has run no release yet: nothing to preview its program against (its first deploy promotes "
                  f"{settings.promotion.source.stack}'s record)", file=sys.stderr)
            return {"record": "", "preview": "false"}
        raise CannotDecide(f"pulumi stack output release --stack {settings.stack}: {done.stderr.strip() or done.returncode}")
    try:
        record_ = parse(done.stdout, where=f"{settings.stack}'s release output")
    except SettingsError as error:
        raise CannotDecide(str(error)) from None
    out.write_text(record_.to_json())
    return {"record": str(out), "preview": "true"}


def record_file(given: str | None) -> tuple[ReleaseRecord, str]:
    path = Path(given) if given else Path(os.environ[RELEASE_RECORD_ENV]) if os.environ.get(RELEASE_RECORD_ENV) else None
    if path is None:
        raise CannotDecide(f"no release record: give --record FILE or set ${RELEASE_RECORD_ENV} (the source's deploy writes it)")
    try:
        return load(path), str(path)
    except SettingsError as error:
        raise CannotDecide(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("live", help="what each function's live alias runs (JSON: function → image URI)").add_argument("stack")
    recording = commands.add_parser("record", help="the release record of what the stack serves now, on stdout")
    recording.add_argument("stack")
    recording.add_argument("--verdicts", required=True, help="the scan gate's --verdict-file for the digests the functions serve")
    promoting = commands.add_parser("promote", help="bring the record's tested digests to a promoting stack")
    promoting.add_argument("stack")
    promoting.add_argument("--record", help=f"the release record (default: ${RELEASE_RECORD_ENV})")
    planned = commands.add_parser("images", help="what a promoting stack's functions will run (JSON: image-architecture → URI)")
    planned.add_argument("stack")
    planned.add_argument("--record", help=f"the release record (default: ${RELEASE_RECORD_ENV})")
    commands.add_parser("mode", help="`build`, or the stack's promotion mode").add_argument("stack")
    now = commands.add_parser("current", help="the record a promoting stack runs now, for a pull request's preview")
    now.add_argument("stack")
    now.add_argument("--out", required=True, help="where to write the record")
    options = parser.parse_args(argv)
    return exit_code("release", lambda: _run(options), refused=(SettingsError, CopyRefused))


def _run(options: argparse.Namespace) -> None:
    import boto3

    from tools.scan_gate import GateError, read_verdicts

    settings = stack_settings(options.stack)
    if options.command == "mode":
        print(settings.promotion.mode if settings.promotion else "build")
        return
    if options.command == "current":
        print("\n".join(f"{key}={value}" for key, value in current(settings, Path(options.out)).items()))
        return
    if options.command in ("promote", "images"):
        if settings.promotion is None:
            raise CannotDecide(f"stack {options.stack!r} builds its own images: it promotes nothing (no promote_from)")
        record_, where = record_file(options.record)
        if options.command == "images":
            print(json.dumps(planned_images(settings, record_, where), indent=2))
        else:
            promote(boto3.client("ecr", region_name=settings.region), settings, record_, where)
        return
    ecr = boto3.client("ecr", region_name=settings.region)
    lambda_client = boto3.client("lambda", region_name=settings.region)
    if options.command == "live":
        print(json.dumps({f.function: f"{f.repository_url}@{f.digest}" for f in served_functions(lambda_client, settings)}, indent=2))
        return
    try:
        verdicts = read_verdicts(Path(options.verdicts))
    except (OSError, ValueError, GateError) as error:
        raise CannotDecide(f"--verdicts {options.verdicts}: {error}") from None
    made = record(lambda_client, ecr, settings, verdicts, now=datetime.now(timezone.utc), commit=os.environ.get("GITHUB_SHA", ""))
    print(made.to_json(), end="")


if __name__ == "__main__":
    sys.exit(main())
