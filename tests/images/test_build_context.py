"""The build context Docker really sends is the one content_tag hashes (components/image.py reads
images/.dockerignore): built by a real engine from a copy of images/ holding a developer's leftovers."""

from __future__ import annotations

import shutil
import subprocess
import uuid

from components.image import context_files
from tests.images.test_containers import ROOT, engine  # noqa: F401  (the engine fixture: skip without Docker)
from tools import images


def test_docker_sends_exactly_the_files_the_content_tag_hashes(engine, tmp_path):  # noqa: F811
    context = tmp_path / "images"
    shutil.copytree(ROOT / "images", context, ignore=shutil.ignore_patterns("__pycache__", ".mypy_cache", ".pytest_cache"))
    for folder in ("__pycache__", ".mypy_cache", ".pytest_cache", "tests"):
        (context / "predictor" / folder).mkdir(exist_ok=True)
        (context / "predictor" / folder / "leftover.py").write_text("a developer's leftovers")
    (context / "common" / "storage.cpython-311.pyc").write_bytes(b"bytecode")
    tag = f"{images.LOCAL_REPOSITORY}/context-listing:{uuid.uuid4().hex[:10]}"
    dockerfile = f"FROM {images.base_image(images.host_architecture())}\nCOPY . /context/\n"
    try:
        subprocess.run(["docker", "build", "-q", "-t", tag, "-f", "-", str(context)], input=dockerfile, text=True,
                       capture_output=True, check=True, env=images.build_environment())
        listing = subprocess.run(["docker", "run", "--rm", "--entrypoint", "find", tag, "/context", "-type", "f"],
                                 capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)
    sent = sorted(line.removeprefix("/context/") for line in listing.split())
    hashed = sorted(path.relative_to(context).as_posix() for path in context_files(context))
    assert sent == hashed, "images/.dockerignore and content_tag disagree on what the build context is"
    assert not [path for path in sent if "leftover" in path or path.endswith(".pyc")]
