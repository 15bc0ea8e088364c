"""The README starts short and stays true: the quickstart first, deploying and configuration before the
internals, its outputs table equal to what `__main__.py` exports, every command it names runnable, every
link it (and each page under docs/) makes resolving to a file and a heading."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
ORIGINAL_LINES = 983
"""The README's length before it was split; it may be at most half of that."""


def headings(text: str, level: int) -> list[str]:
    """`level`-deep headings, outside code fences."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"^#{{{level}}} ", line):
            found.append(line[level + 1:].strip())
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text()
    return {slug(h) for level in range(1, 7) for h in headings(text, level)}


def table(text: str, marker: str) -> list[list[str]]:
    block = text.split(f"<!-- {marker} -->", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    rows = [line for line in block.strip().splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def exports() -> set[str]:
    """Every name `__main__.py` passes to `pulumi.export`, read from its syntax tree."""
    tree = ast.parse((ROOT / "__main__.py").read_text())
    return {
        node.args[0].value for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "export"
        and isinstance(node.args[0], ast.Constant)
    }


def test_the_quickstart_comes_first_with_both_commands_their_times_and_needs():
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= ORIGINAL_LINES // 2, f"README has {len(lines)} lines; at most {ORIGINAL_LINES // 2} (the rest belongs in docs/)"
    assert headings(text, 2)[0] == "Quickstart"
    start = lines.index("## Quickstart")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    assert end <= 40, f"the quickstart ends on line {end}: it must fit the first 40 lines"
    quickstart = "\n".join(lines[start:end])
    for command, duration in (("make demo", "~30 s"), ("make test", "~15–20 min")):
        assert re.search(rf"^{command}\s+# {duration}", quickstart, re.M), f"the quickstart gives {command} and its time"
    assert "Python 3.11 or 3.12" in quickstart and "Docker" in quickstart and "no AWS account" in quickstart


def test_deploying_and_configuration_come_before_the_internals():
    assert headings(README.read_text(), 2) == [
        "Quickstart", "Contents", "Deploying", "Configuration", "Operating", "The forecasts in brief", "Commands", "Further reading",
    ]


def test_the_outputs_table_lists_exactly_what_the_program_exports(dev_graph, prod_graph):
    documented = [row[0].strip("`") for row in table(README.read_text(), "stack-outputs")]
    assert len(documented) == len(set(documented))
    assert set(documented) == exports()
    assert set(dev_graph.outputs) <= set(documented) and set(prod_graph.outputs) <= set(documented)
    assert "release" in prod_graph.outputs and "release" not in dev_graph.outputs, "the table says only a promoting stack has it"


def test_every_make_target_and_module_the_readme_names_exists():
    text = README.read_text()
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w.-]*):", makefile, re.M)) | set(re.findall(r"^(\.venv/\.synced|\$\(VENV\)/\.synced):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", text)) | set(re.findall(r"^make ([a-z][\w-]*)", text, re.M))
    assert {"demo", "test", "docker", "bench", "cost"} <= named
    assert named <= targets, f"make targets the README names but the Makefile lacks: {sorted(named - targets)}"
    modules = set(re.findall(r"python -m ([a-z_][\w.]*)", text))
    assert {"tools.bootstrap", "tools.prices", "tools.invoke", "tools.rollback"} <= modules
    missing = [m for m in sorted(modules) if importlib.util.find_spec(m) is None]
    assert not missing, f"modules the README runs that do not exist: {missing}"
    for script in re.findall(r"`?(tools/[\w./-]+\.sh)", text):
        assert (ROOT / script).is_file(), script


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_reaches_a_file_and_a_heading(page):
    text = page.read_text()
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue  # an absolute URL
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no such heading in {file.name}")
    for path in set(re.findall(r"`((?:tests|tools|components|stack_config|images|bench|demo|policy|examples)/[\w/.-]+\.(?:py|yaml|sh|txt|json|md|csv))", text)):
        if not (ROOT / path).exists():
            broken.append(f"{path}: named but not in the repository")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_internals_moved_to_docs_and_the_readme_links_every_page():
    text = README.read_text()
    for page in DOCS:
        assert f"(docs/{page.name})" in text, f"README's Further reading does not link docs/{page.name}"
    moved = {"Dependencies: one lockfile": "development.md", "Why pulumi-docker-build": "images.md",
             "The forecast contract": "workloads.md", "What is verified where": "verified.md", "Policy pack": "guardrails.md"}
    for heading, page in moved.items():
        assert heading not in headings(text, 3) + headings(text, 2)
        assert slug(heading) in anchors(ROOT / "docs" / page), f"{heading} lives in docs/{page}"
