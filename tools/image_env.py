"""A virtual environment holding exactly one requirements file, cached by the file's content.

Used by the image-environment tests (each image's requirements alone must be enough) and by the
benchmarks (ours and the baseline measured on the host with only their own dependencies).
"""

from __future__ import annotations

import hashlib
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "image-envs"


def python_for(requirements: Path, label: str) -> Path:
    """The interpreter of a venv with only `requirements` installed (created on first use)."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    home = CACHE / f"{label}-{digest}"
    python = home / "bin" / "python"
    if not (home / ".complete").exists():
        venv.create(home, with_pip=True, clear=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
            check=True,
        )
        (home / ".complete").touch()
    return python
