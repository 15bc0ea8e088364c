"""What moto's ECR lacks and a promotion relies on: the layers' bytes, GetDownloadUrlForLayer, and scan on push.

moto 5.2.5 accepts layer uploads (InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload, which computes
the digest from the bytes as ECR does) but keeps only each layer's size, and GetDownloadUrlForLayer raises
NotImplementedError. `enable()` keeps each completed layer's bytes on its repository's backend, and answers
GetDownloadUrlForLayer the way ECR does: for a layer (or config blob) an image of the repository references,
a URL that serves the blob to a plain GET (ECR's is a pre-signed S3 URL; here a loopback server), and
`LayersNotFoundException` otherwise ("You can only get URLs for image layers that are referenced in an
image": ECR API reference, GetDownloadUrlForLayer). A repository created with `scanOnPush` scans each newly
pushed image, as ECR's basic scanning does (moto scans only on StartImageScan), so the scan gate can judge a copy.
Everything else is moto's own, over real HTTP.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr import models, responses

_server: ThreadingHTTPServer | None = None
_lock = threading.Lock()


class LayersNotFoundException(ServiceException):
    code = "LayersNotFoundException"


def _blobs(repository) -> dict[str, bytes]:
    """digest → bytes, on moto's repository object, so deleting the repository (or moto's reset) forgets them."""
    return repository.__dict__.setdefault("_layer_blobs", {})


def _referenced(repository, digest: str) -> bool:
    for image in repository.images:
        try:
            manifest = json.loads(image.image_manifest)
        except (TypeError, json.JSONDecodeError):
            continue
        blobs = [manifest.get("config") or {}, *(manifest.get("layers") or [])]
        if any(blob.get("digest") == digest for blob in blobs):
            return True
    return False


def _complete_layer_upload(original):
    def complete(self, repository_name, upload_id, layer_digests, registry_id=None):
        repository = self._get_repository(repository_name, registry_id)
        upload = repository.uploads.get(upload_id)
        data = bytes(upload.layer_parts) if upload is not None else b""
        result = original(self, repository_name, upload_id, layer_digests, registry_id=registry_id)
        _blobs(repository)[result["layerDigest"]] = data
        return result

    return complete


def _put_image(original):
    def put(self, repository_name, *args, **kwargs):
        image = original(self, repository_name, *args, **kwargs)
        repository = self.repositories[repository_name]
        if repository.image_scanning_configuration.get("scanOnPush") and image.last_scan is None:
            image.last_scan = datetime.today()
        return image

    return put


def _get_download_url_for_layer(self) -> ActionResult:
    name, digest = self._get_param("repositoryName"), self._get_param("layerDigest")
    repository = self.ecr_backend._get_repository(name, self._get_param("registryId"))
    if digest not in _blobs(repository) or not _referenced(repository, digest):
        raise LayersNotFoundException(f"The layer {digest} does not exist in, or is not referenced by an image of, {name}")
    backend = self.ecr_backend
    url = f"http://127.0.0.1:{_server.server_address[1]}/{backend.account_id}/{backend.region_name}/{quote(name, safe='')}/{digest}"
    return ActionResult({"downloadUrl": url, "layerDigest": digest})


class _Blobs(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        try:
            account, region, name, digest = self.path.strip("/").split("/")
            data = _blobs(models.ecr_backends[account][region]._get_repository(unquote(name)))[digest]
        except (ValueError, KeyError, ServiceException):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def enable() -> None:
    """Patch moto's ECR in this process (the emulator's server runs in it) and start the blob server; once."""
    global _server
    with _lock:
        if _server is not None:
            return
        _server = ThreadingHTTPServer(("127.0.0.1", 0), _Blobs)
        threading.Thread(target=_server.serve_forever, daemon=True).start()
        models.ECRBackend.complete_layer_upload = _complete_layer_upload(models.ECRBackend.complete_layer_upload)
        models.ECRBackend.put_image = _put_image(models.ECRBackend.put_image)
        responses.ECRResponse.get_download_url_for_layer = _get_download_url_for_layer
