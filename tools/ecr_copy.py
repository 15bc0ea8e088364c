"""Copy one ECR image by digest into another repository, exactly as it was pushed: the same manifest bytes
(so the same digest) and every blob it references, through ECR's own API (no Docker, no registry client).

ECR replicates only across regions or accounts, so two stacks of one account copy. The steps, each a read
before any write, so a retry after any interruption finishes the copy and a finished copy does nothing:

1. DescribeImages on the target: the digest there with the tag already → nothing to do.
2. BatchGetImage on the source: the manifest, refused unless its sha256 is the digest (the bytes are the image)
   and it is one plain manifest (Lambda runs no image index).
3. BatchCheckLayerAvailability on the target; each missing blob (config and layers) is streamed from the
   source (GetDownloadUrlForLayer: a pre-signed URL) into the target (InitiateLayerUpload, UploadLayerPart,
   CompleteLayerUpload), its sha256 and size checked before it is completed.
4. PutImage of the manifest with the digest and the tag (ECR checks that the layers exist and, given
   `imageDigest`, that the manifest has it).

Called by `python -m tools.release promote` (tools/release.py); the calls are the deploy role's
(`tool:promote-copy`, `tool:promote-copy-source` in tools/identities/provider_calls.yaml).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from tools.reach import IMAGE_URI

PLAIN_MANIFESTS = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
"""What Lambda runs (one architecture, one manifest); an index or manifest list is refused."""
MAX_PART_BYTES = 20 * 1024 * 1024
"""UploadLayerPart's largest part (botocore's ECR model: layerPartBlob max 20971520)."""
DEFAULT_PART_BYTES = 10 * 1024 * 1024


class CopyRefused(Exception):
    """The source is not what it must be (digest mismatch, an index, a blob with other bytes), or the tag
    already names another digest: nothing was written for it."""


@dataclass(frozen=True)
class ImageRef:
    registry_id: str
    region: str
    repository: str
    digest: str

    @classmethod
    def parse(cls, uri: str) -> "ImageRef":
        match = IMAGE_URI.match(uri)
        if not match:
            raise CopyRefused(f"{uri!r} is not an ECR image by digest (<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest>)")
        return cls(*match.groups())

    @property
    def uri(self) -> str:
        return f"{self.registry_id}.dkr.ecr.{self.region}.amazonaws.com/{self.repository}@{self.digest}"


@dataclass
class Copied:
    """What one copy did (all zero and False: it was there already)."""

    blobs_uploaded: int = 0
    bytes_uploaded: int = 0
    blobs_present: int = 0
    manifest_put: bool = False
    tags: list[str] = field(default_factory=list)


def _http_get(url: str) -> BinaryIO:
    return urllib.request.urlopen(url, timeout=600)  # noqa: S310 (ECR's pre-signed HTTPS URL)


def copy_image(
    source_ecr, target_ecr, source: ImageRef, target_repository: str, tag: str, *,
    target_registry: str | None = None, fetch: Callable[[str], BinaryIO] = _http_get,
) -> Copied:
    """Copy `source` into `target_repository` under `tag`; idempotent."""
    target = {"repositoryName": target_repository, **({"registryId": target_registry} if target_registry else {})}
    tags = _target_tags(target_ecr, target, source.digest)
    if tags is not None and tag in tags:
        return Copied(tags=sorted(tags))
    manifest, media_type = _manifest(source_ecr, source)
    done = Copied()
    if tags is None:
        blobs = _blobs(manifest, source)
        present = _available(target_ecr, target, sorted({blob["digest"] for blob in blobs}))
        for blob in blobs:
            if blob["digest"] in present:
                done.blobs_present += 1
                continue
            url = source_ecr.get_download_url_for_layer(
                registryId=source.registry_id, repositoryName=source.repository, layerDigest=blob["digest"])["downloadUrl"]
            with fetch(url) as stream:
                done.bytes_uploaded += _upload(target_ecr, target, blob, stream, source)
            done.blobs_uploaded += 1
    _put(target_ecr, target, manifest, media_type, source, tag)
    done.manifest_put = tags is None
    done.tags = sorted({*(tags or ()), tag})
    return done


def _target_tags(ecr, target: dict, digest: str) -> set[str] | None:
    """The target's tags of the digest; None when the target does not hold it."""
    try:
        [detail] = ecr.describe_images(**target, imageIds=[{"imageDigest": digest}])["imageDetails"]
    except ecr.exceptions.ImageNotFoundException:
        return None
    return set(detail.get("imageTags") or ())


def _manifest(ecr, source: ImageRef) -> tuple[str, str]:
    answer = ecr.batch_get_image(
        registryId=source.registry_id, repositoryName=source.repository, imageIds=[{"imageDigest": source.digest}],
        acceptedMediaTypes=list(PLAIN_MANIFESTS),
    )
    if not answer.get("images"):
        failure = (answer.get("failures") or [{}])[0]
        raise CopyRefused(f"{source.uri}: the source does not hold it ({failure.get('failureCode', 'no image')}: {failure.get('failureReason', '')})")
    image = answer["images"][0]
    manifest = image["imageManifest"]
    actual = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    if actual != source.digest:
        raise CopyRefused(f"{source.uri}: the source's manifest has digest {actual}; a copy must keep the bytes (and digest) it was tested as")
    media_type = image.get("imageManifestMediaType") or json.loads(manifest).get("mediaType", "")
    if media_type not in PLAIN_MANIFESTS:
        raise CopyRefused(f"{source.uri} is a {media_type or 'manifest without a media type'}: Lambda runs one plain image manifest")
    return manifest, media_type


def _blobs(manifest: str, source: ImageRef) -> list[dict]:
    document = json.loads(manifest)
    blobs = [document.get("config") or {}, *(document.get("layers") or [])]
    for blob in blobs:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", str(blob.get("digest", ""))) or not isinstance(blob.get("size"), int):
            raise CopyRefused(f"{source.uri}: its manifest names a blob without a sha256 digest and size: {json.dumps(blob)[:200]}")
    return blobs


def _available(ecr, target: dict, digests: list[str]) -> set[str]:
    """The blobs the target holds already (BatchCheckLayerAvailability takes at most 100 digests a call)."""
    found: set[str] = set()
    for start in range(0, len(digests), 100):
        answer = ecr.batch_check_layer_availability(**target, layerDigests=digests[start:start + 100])
        found |= {layer["layerDigest"] for layer in answer.get("layers", []) if layer.get("layerAvailability") == "AVAILABLE"}
    return found


def _upload(ecr, target: dict, blob: dict, stream: BinaryIO, source: ImageRef) -> int:
    """Stream one blob into the target in ECR's part size; completed only when its bytes have its digest."""
    started = ecr.initiate_layer_upload(**target)
    upload_id = started["uploadId"]
    part = min(int(started.get("partSize") or DEFAULT_PART_BYTES), MAX_PART_BYTES)
    digest, sent = hashlib.sha256(), 0
    while chunk := stream.read(part):
        ecr.upload_layer_part(**target, uploadId=upload_id, partFirstByte=sent, partLastByte=sent + len(chunk) - 1, layerPartBlob=chunk)
        digest.update(chunk)
        sent += len(chunk)
    actual = "sha256:" + digest.hexdigest()
    if actual != blob["digest"] or sent != blob["size"]:
        raise CopyRefused(
            f"{source.uri}: blob {blob['digest']} ({blob['size']} bytes) downloaded as {actual} ({sent} bytes); the upload is left "
            "incomplete (ECR discards it)")
    try:
        completed = ecr.complete_layer_upload(**target, uploadId=upload_id, layerDigests=[blob["digest"]])
    except ecr.exceptions.LayerAlreadyExistsException:
        return sent  # another run completed the same blob meanwhile
    if completed["layerDigest"] != blob["digest"]:
        raise CopyRefused(f"{source.uri}: the target computed {completed['layerDigest']} for blob {blob['digest']}")
    return sent


def _put(ecr, target: dict, manifest: str, media_type: str, source: ImageRef, tag: str) -> None:
    try:
        put = ecr.put_image(**target, imageManifest=manifest, imageManifestMediaType=media_type, imageDigest=source.digest, imageTag=tag)
    except (ecr.exceptions.ImageAlreadyExistsException, ecr.exceptions.ImageTagAlreadyExistsException):
        if tag in (_target_tags(ecr, target, source.digest) or ()):
            return  # the same manifest under the same tag: another run finished it
        raise CopyRefused(f"{target['repositoryName']}: tag {tag} already names another image (tags are immutable)") from None
    if put["image"]["imageId"]["imageDigest"] != source.digest:
        raise CopyRefused(f"{target['repositoryName']}: stored {put['image']['imageId']['imageDigest']}, not {source.digest}")
