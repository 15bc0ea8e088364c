"""Both stacks' resource graphs equal their golden dumps (tools/golden_graph.py): a refactor is a move."""

from __future__ import annotations

import difflib
import json

import pytest

from tools import golden_graph


@pytest.mark.parametrize("stack", golden_graph.STACKS)
def test_the_program_declares_exactly_the_golden_graph(request, stack):
    actual = golden_graph.render(request.getfixturevalue(f"{stack}_graph"))
    expected = (golden_graph.GOLDEN / f"{stack}.json").read_text()
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "golden", "program"))[:80])
        pytest.fail(f"{stack}: the graph changed (rewrite with `python -m tools.golden_graph --write` only on purpose):\n{diff}")


def test_the_dump_normalises_what_changes_every_run_and_nothing_else(dev_graph):
    dump = golden_graph.dump(dev_graph)
    keys = [(r["type"], r["name"]) for r in dump["resources"]]
    assert ("docker-build:index:Image", "predictor-arm64-build-CONTENT") in keys and len(keys) == len(set(keys))
    text = json.dumps(dump)
    assert "release-arm64-CONTENT-PUSH" in text
    assert "commodity-forecasts-dev-corn" in text and "cron(15 2 * * ? *)" in text, "names and schedules are kept verbatim"
