"""The README's configuration reference, generated from the code that reads the keys:
`python -m tools.config_reference` prints the tables, `--write` puts them into README.md between their
markers, `--check` exits 1 when README.md differs (tests/test_config_reference.py runs it).

Every key is recorded as the settings reader takes it (stack_config/reader.py `recording`), so the table
lists exactly the keys that are read, with the defaults and ranges they are read with (the components'
Args and limits, the contract's knobs) and the docstrings of the fields they fill.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from stack_config import settings_from_config
from stack_config.reader import REQUIRED, Field, recording
from stack_config.stack import REGION_DOC

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKERS = {
    "project": ("<!-- config-reference:project -->", "<!-- /config-reference:project -->"),
    "functions": ("<!-- config-reference:functions -->", "<!-- /config-reference:functions -->"),
}
P = "commodity-forecasts"
REFERENCE_CONFIG = {
    "aws:region": "us-east-1",
    f"{P}:environment": "dev",
    f"{P}:legacy_bucket": "reference-legacy-bucket",
    f"{P}:images": json.dumps({"predictor": {}}),
    f"{P}:functions": json.dumps([{"name": "corn", "image": "predictor", "event": {"commodity": "corn"},
                                   "schedule": {"expression": "cron(0 2 * * ? *)"}}]),
}
"""The smallest stack that makes the reader take every key: one scheduled predictor."""


def fields() -> list[Field]:
    with recording() as taken:
        settings_from_config(REFERENCE_CONFIG, stack="reference")
    return taken


def _default(field: Field) -> str:
    if field.doc.default is not None:
        return field.doc.default
    if field.default is REQUIRED:
        return "— (required)"
    value = field.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, (dict, list, tuple)) or value is None:
        return "—" if value is None else f"`{json.dumps(value if not isinstance(value, tuple) else list(value))}`"
    return f"`{value}`"


def _row(key: str, field: Field) -> str:
    allowed = field.doc.allowed if field.doc.allowed is not None else field.allowed
    cells = [f"`{key}`", field.kind, _default(field), allowed or "—", field.doc.text or "—"]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def tables(taken: list[Field] | None = None) -> dict[str, str]:
    """Markdown per table: the project's keys, and each entry of `functions`."""
    taken = fields() if taken is None else taken
    header = ["| key | type | default | allowed | what it does |", "|---|---|---|---|---|"]
    project = [*header, f"| `aws:region` | string | — (required) | {REGION_DOC.allowed} | {REGION_DOC.text} |"]
    functions = list(header)
    seen: set[str] = set()
    for field in taken:
        if field.path == "":
            key, rows = field.name, project
        elif re.fullmatch(r"functions\[[^\]]+\](\.schedule)?", field.path):
            key = f"schedule.{field.name}" if field.path.endswith(".schedule") else field.name
            rows = functions
        else:
            continue  # entries of images and scan_allow_list: described by their parent key
        if (id(rows), key) not in seen:
            seen.add((id(rows), key))
            rows.append(_row(key, field))
    return {"project": "\n".join(project), "functions": "\n".join(functions)}


def render_readme(text: str, generated: dict[str, str]) -> str:
    for name, (start, end) in MARKERS.items():
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no {start} … {end} section")
        text = pattern.sub(lambda _: f"{start}\n{generated[name]}\n{end}", text)
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--write"], ["--check"]):
        print("usage: python -m tools.config_reference [--write | --check]", file=sys.stderr)
        return 2
    generated = tables()
    if not argv:
        print(f"{generated['project']}\n\n{generated['functions']}")
        return 0
    current = README.read_text()
    updated = render_readme(current, generated)
    if argv == ["--write"]:
        README.write_text(updated)
        return 0
    if updated != current:
        print("README.md's configuration reference differs from the code: run python -m tools.config_reference --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
