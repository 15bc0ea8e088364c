"""The README's configuration reference is generated from the code that reads the keys
(tools/config_reference.py): it matches, it lists every key the reader takes, and each has a description."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT
from tools import config_reference


def test_the_readme_tables_are_the_generated_ones():
    done = subprocess.run([sys.executable, "-m", "tools.config_reference", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_key_the_reader_takes_is_listed_with_a_description():
    taken = config_reference.fields()
    tables = config_reference.tables(taken)
    for field in taken:
        if field.path == "":
            assert f"| `{field.name}` |" in tables["project"], field.name
        elif field.path.startswith("functions["):
            key = f"schedule.{field.name}" if field.path.endswith(".schedule") else field.name
            assert f"| `{key}` |" in tables["functions"], key
    for line in (tables["project"] + "\n" + tables["functions"]).splitlines()[2:]:
        if line.startswith("| `"):
            assert not line.endswith("| — |"), f"no description: {line}"


def test_a_changed_limit_changes_the_table_and_fails_the_check(monkeypatch):
    """The table follows the limits the reader checks against, so the README cannot keep a stale copy."""
    import dataclasses

    import stack_config.functions

    text = config_reference.tables()["functions"]
    assert "| `memory_mb` | integer | `1024` | 128–10240 |" in text, "the default and range come from components/limits.py"
    monkeypatch.setattr(stack_config.functions, "MEMORY_MB", dataclasses.replace(stack_config.functions.MEMORY_MB, default=2048, maximum=4096))
    changed = config_reference.tables()
    assert "| `memory_mb` | integer | `2048` | 128–4096 |" in changed["functions"]
    readme = (ROOT / "README.md").read_text()
    assert config_reference.render_readme(readme, changed) != readme, "--check would fail on the stale README"
