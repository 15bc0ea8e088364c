"""Images pushed into the emulator's ECR the way a build pushes them: each blob through the layer API (in
parts), then the manifest by its digest. What the promotion tests copy."""

from __future__ import annotations

import gzip
import hashlib
import json

from tools.ecr_copy import PLAIN_MANIFESTS

OCI = PLAIN_MANIFESTS[0]


def upload(ecr, repository: str, data: bytes, part: int = 7) -> str:
    """One blob through the layer API, in parts (as a push sends it)."""
    upload_id = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
    for start in range(0, len(data), part):
        chunk = data[start:start + part]
        ecr.upload_layer_part(repositoryName=repository, uploadId=upload_id, partFirstByte=start, partLastByte=start + len(chunk) - 1,
                              layerPartBlob=chunk)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return ecr.complete_layer_upload(repositoryName=repository, uploadId=upload_id, layerDigests=[digest])["layerDigest"]


def push(ecr, repository: str, seed: str, *, media_type: str = OCI, tag: str | None = None) -> tuple[str, str, list[bytes]]:
    """An arm64 image as a build pushes it: a config blob and two gzip layers, then the manifest by digest."""
    config = json.dumps({"architecture": "arm64", "os": "linux", "rootfs": {"type": "layers"}, "seed": seed}).encode()
    layers = [gzip.compress(f"{seed}-layer-{n}".encode() * 50, mtime=0) for n in range(2)]
    descriptor = lambda data, kind: {"mediaType": kind, "size": len(data), "digest": upload(ecr, repository, data)}  # noqa: E731
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": descriptor(config, "application/vnd.oci.image.config.v1+json"),
        "layers": [descriptor(layer, "application/vnd.oci.image.layer.v1.tar+gzip") for layer in layers],
    }, separators=(",", ":"))
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    ecr.put_image(repositoryName=repository, imageManifest=manifest, imageManifestMediaType=media_type, imageDigest=digest,
                  imageTag=tag or f"release-arm64-{seed}")
    return digest, manifest, [config, *layers]
