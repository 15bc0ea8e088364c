"""What the prod job no longer does, against what it does instead (issue 26): it built both arm64 images, as
bench/builds.py times them (the dependency stage on the build platform, from an empty layer cache: what a
deploy's build does); it now copies the digests dev tested into its own repositories through ECR's API
(tools/ecr_copy.py copy_image, what `tools.release promote` runs for `promotion: copy`).

The copy is timed on the emulator's ECR (demo/emulator.py: moto over loopback HTTP, layer bytes kept and served
by demo/ecr_emulation.py) with the built images' own layers: each image is exported (`docker save`), its layers
gzip-compressed (level 6) as a registry push sends layers, pushed into dev's repository through the layer API, and then
copied by digest into prod's, whose repository holds none of its blobs yet. A second copy of the same digest
(a re-run of the deploy) is timed too: it finds the digest with its tag and writes nothing.

In `make bench` the builds are bench/builds.py's own (`measure(arm64_builds)`: the same builds, not repeated).
Alone, `python -m bench.promotion` reuses the images that run left (`bench-<image>:arm64-cross`) and times
no build, reporting only the copy; with `--build` it runs the two cross-stage builds (not the emulated ones).

Run: `python -m bench.promotion [--build]`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import builds
from demo.emulator import Emulator
from tools import images
from tools.ecr_copy import ImageRef, copy_image
from tools.release import promoted_tag

ACCOUNT, REGION = "123456789012", "us-east-1"
PART_BYTES = 10 * 1024 * 1024
"""Parts a push sends (ECR accepts up to 20 MiB: tools/ecr_copy.py MAX_PART_BYTES)."""
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def exists(tag: str) -> bool:
    return shutil.which("docker") is not None and subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


@dataclass(frozen=True)
class Blob:
    path: Path
    digest: str
    size: int
    media_type: str


def exported_blobs(tag: str, folder: Path) -> tuple[Blob, list[Blob]]:
    """The image's config and its layers gzip-compressed, as files (`docker save`'s layers are plain tars)."""
    archive = folder / "image.tar"
    with archive.open("wb") as out:
        subprocess.run(["docker", "save", tag], stdout=out, check=True)
    with tarfile.open(archive) as saved:
        [entry] = json.load(saved.extractfile("manifest.json"))
        config_path = folder / "config"
        config_path.write_bytes(saved.extractfile(entry["Config"]).read())
        config = blob(config_path, CONFIG)
        layers = []
        for n, name in enumerate(entry["Layers"]):
            compressed = folder / f"layer-{n}.tar.gz"
            with saved.extractfile(name) as plain, compressed.open("wb") as out, gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as packed:
                shutil.copyfileobj(plain, packed, PART_BYTES)
            layers.append(blob(compressed, LAYER))
    archive.unlink()
    return config, layers


def blob(path: Path, media_type: str) -> Blob:
    """The file as a blob of the manifest: its sha256 and size."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(PART_BYTES):
            digest.update(chunk)
    return Blob(path, f"sha256:{digest.hexdigest()}", path.stat().st_size, media_type)


def push(ecr, repository: str, config: Blob, layers: list[Blob], tag: str) -> str:
    """Push as a registry client does: every blob through the layer API in parts, then the manifest; its digest."""
    for each in (config, *layers):
        upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
        sent = 0
        with each.path.open("rb") as data:
            while chunk := data.read(PART_BYTES):
                ecr.upload_layer_part(repositoryName=repository, uploadId=upload, partFirstByte=sent, partLastByte=sent + len(chunk) - 1,
                                      layerPartBlob=chunk)
                sent += len(chunk)
        ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[each.digest])
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": config.media_type, "size": config.size, "digest": config.digest},
        "layers": [{"mediaType": layer.media_type, "size": layer.size, "digest": layer.digest} for layer in layers],
    }, separators=(",", ":"))
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    ecr.put_image(repositoryName=repository, imageManifest=manifest, imageManifestMediaType=MANIFEST, imageDigest=digest, imageTag=tag)
    return digest


def copy_figures(emulator: Emulator, image: str, config: Blob, layers: list[Blob]) -> dict:
    """Push the image into dev's repository, then time its copy by digest into prod's (once, then again)."""
    ecr = emulator.client("ecr")
    source, target = f"commodity-forecasts/dev/{image}", f"commodity-forecasts/prod/{image}"
    for repository in (source, target):
        ecr.create_repository(repositoryName=repository)
    digest = push(ecr, source, config, layers, f"release-{builds.ARCHITECTURE}-bench")
    reference, release_tag = ImageRef(ACCOUNT, REGION, source, digest), promoted_tag(builds.ARCHITECTURE, digest)
    started = time.perf_counter()
    copied = copy_image(ecr, ecr, reference, target, release_tag)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = copy_image(ecr, ecr, reference, target, release_tag)
    again_seconds = time.perf_counter() - started
    [stored] = ecr.batch_get_image(repositoryName=target, imageIds=[{"imageDigest": digest}], acceptedMediaTypes=[MANIFEST])["images"]
    return {
        "copy_s": seconds, "again_s": again_seconds, "blobs": copied.blobs_uploaded, "megabytes": copied.bytes_uploaded / 1e6,
        "rewritten": again.manifest_put or again.blobs_uploaded > 0, "same_digest": "sha256:" + hashlib.sha256(stored["imageManifest"].encode()).hexdigest() == digest,
    }


def measure(arm64_builds: dict[str, dict] | None = None, *, build: bool = False) -> dict[str, dict]:
    """Per image: the build's seconds (bench/builds.py's, or None when not timed here) and its copy's figures."""
    results: dict[str, dict] = {}
    with Emulator() as emulator:
        emulator.reset()  # moto's state is the process's: start from an empty registry
        for image in images.IMAGES:
            seconds = arm64_builds[image]["cross_s"] if arm64_builds else None
            if arm64_builds is None and build:
                _, seconds, _ = builds.timed_build(image, emulated=False)
            tag = builds.built_tag(image, emulated=False)
            if not exists(tag):
                results[image] = {"build_s": seconds, "missing": tag}
                continue
            with tempfile.TemporaryDirectory() as folder:
                results[image] = {"build_s": seconds, **copy_figures(emulator, image, *exported_blobs(tag, Path(folder)))}
    return results


def report(results: dict[str, dict]) -> str:
    lines = [
        "| arm64 image | prod's build before, s (cross-stage, empty cache) | copy by digest, s | blobs copied | MB copied | copy again, s | digest kept |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for image, r in results.items():
        built = f"{r['build_s']:.0f}" if r.get("build_s") is not None else "not timed in this run"
        if "missing" in r:
            lines.append(f"| {image} | {built} | not measured: no image {r['missing']} (run `python -m bench.builds` first) | | | | |")
            continue
        kept = "yes" if r["same_digest"] and not r["rewritten"] else "no"
        lines.append(f"| {image} | {built} | {r['copy_s']:.1f} | {r['blobs']} | {r['megabytes']:.0f} | {r['again_s']:.2f} | {kept} |")
    lines += ["", *summary(results), "",
              "The copy ran on the emulator over loopback (moto's ECR in this process, the blobs served by a local HTTP server): "
              "no network, so it times the API round trips, the base64 the JSON protocol adds to each part and the checks "
              "(every blob's sha256 and size before it is completed). On AWS the bytes travel twice, down from the pre-signed "
              "URL and up in parts, within one region; the same digests' builds also need QEMU and Buildx set up first, which "
              "is not timed here."]
    return "\n".join(lines)


def summary(results: dict[str, dict]) -> list[str]:
    measured = [r for r in results.values() if "copy_s" in r]
    if not measured:
        return ["prod's copy by digest: not measured (no built arm64 image)"]
    copy = sum(r["copy_s"] for r in measured)
    line = f"prod's copy by digest of both arm64 images: {copy:.1f} s for {sum(r['megabytes'] for r in measured):.0f} MB"
    if all(r.get("build_s") is not None for r in measured) and len(measured) == len(results):
        build = sum(r["build_s"] for r in measured)
        line += f"; the two builds it replaces: {build:.0f} s ({copy / build:.3f}x)"
    return [line]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.promotion", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="time the two cross-stage arm64 builds first (about 6 minutes here)")
    options = parser.parse_args(argv)
    print(report(measure(build=options.build)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
