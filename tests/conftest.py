"""Test fixtures over tools/program_graph.py (the mocks and the harness that runs programs under them)."""

from __future__ import annotations

import pytest

from tools.program_graph import ROOT, Graph, logical_name, run_program, run_stack

__all__ = ["ROOT", "Graph", "logical_name", "run_program", "run_stack"]


@pytest.fixture(autouse=True)
def _project_root(monkeypatch):
    """Components take project-relative paths, as `pulumi up` runs from the project root."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def dev_graph() -> Graph:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod_graph() -> Graph:
    return run_stack("prod")
