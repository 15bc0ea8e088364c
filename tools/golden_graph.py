"""Each stack's resource graph under mocks, as a stable text: `python -m tools.golden_graph [--write]`.

What a move must leave unchanged (tests/test_golden_graph.py compares the program with
`tests/golden/<stack>.json`): every resource's type, name, parent, inputs and options, and the stack's
outputs. What changes with every run or every edit of `images/` is normalised, as tests/test_stacks.py
does: the push id that ends a release tag, and the content hash that names a build and starts its tag
(a change to the workloads' files is a new build by design, not a change of the graph). A change that
alters the graph on purpose rewrites the files with `--write`, in the same commit, and says why.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
STACKS = ("dev", "prod")
_CONTENT = re.compile(r"-build-[0-9a-f]{12}\b")
_TAG = re.compile(r"release-(arm64|x86_64)-[0-9a-f]{20}-[A-Za-z0-9_.-]+")


def _normalise(text: str) -> str:
    return _TAG.sub(r"release-\1-CONTENT-PUSH", _CONTENT.sub("-build-CONTENT", text))


def _parsed(value: Any) -> Any:
    """JSON documents inside inputs (policies, dashboards, event payloads) as structures, so a diff
    points at the statement that changed."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, dict):
        return {key: _parsed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_parsed(item) for item in value]
    return value


def _parent(urn: str) -> str:
    """The parent's name; the stack itself as `(stack)`: its URN names the first stack the process ran."""
    if not urn or urn.split("::")[2] == "pulumi:pulumi:Stack":
        return "(stack)"
    return urn.split("::")[-1]


def dump(graph: Any) -> dict[str, Any]:
    """The graph as plain data, sorted by type and name (the engine registers in no fixed order)."""
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "parent": _parent(r.parent),
            "inputs": _parsed(r.inputs),
            "options": {
                "protect": r.protect, "retain_on_delete": r.retain_on_delete,
                "depends_on": sorted(d.split("::")[-1] for d in r.depends_on), "ignore_changes": sorted(r.ignore_changes),
            },
        }
        for r in sorted(graph.resources, key=lambda r: (r.type, r.name))
    ]
    return json.loads(_normalise(json.dumps({"resources": resources, "outputs": _parsed(graph.outputs)}, sort_keys=True)))


def render(graph: Any) -> str:
    return json.dumps(dump(graph), indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.golden_graph", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite tests/golden/<stack>.json (a change of the graph on purpose)")
    options = parser.parse_args(argv)
    from tools.program_graph import run_stack

    differing = []
    for stack in STACKS:
        text = render(run_stack(stack))
        path = GOLDEN / f"{stack}.json"
        if options.write:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        elif not path.exists() or path.read_text() != text:
            differing.append(stack)
    for stack in differing:
        print(f"{stack}: the program's graph differs from tests/golden/{stack}.json", file=sys.stderr)
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
