"""A virtual environment holding exactly one exported requirements file, cached by the file's content.

Installed the way the images install it: uv, `--require-hashes`, wheels only, nothing else. Used by the
image-environment tests (each image's locked set alone must be enough) and by the benchmarks (ours and
the baseline measured on the host with only their own dependencies).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "image-envs"


def uv() -> str:
    """The project's pinned uv (the Makefile passes it as UV), else one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise RuntimeError("uv not found: run through `make` (it installs the pinned uv) or put uv on PATH")
    return str(Path(found).resolve()) if os.sep in found else found


def python_for(requirements: Path, label: str, *, require_hashes: bool = True) -> Path:
    """The interpreter of a venv with only `requirements` installed (created on first use)."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    home = CACHE / f"{label}-{digest}"
    python = home / "bin" / "python"
    if not (home / ".complete").exists():
        subprocess.run([uv(), "venv", "--quiet", "--clear", "--python", sys.executable, str(home)], check=True)
        install = [uv(), "pip", "install", "--quiet", "--python", str(python), "--only-binary", ":all:", "-r", str(requirements)]
        if require_hashes:
            install[3:3] = ["--require-hashes", "--no-deps"]
        subprocess.run(install, check=True)
        (home / ".complete").touch()
    return python
