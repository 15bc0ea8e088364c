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


@pytest.fixture(scope="module")
def emulator():
    """One embedded emulator (moto's server on loopback) per test module that asks for it; a module or
    folder with its own `emulator` fixture overrides this one."""
    from demo.emulator import Emulator

    with Emulator() as running:
        yield running


def use_emulator(emulator, monkeypatch) -> None:
    """An emptied emulator, and boto3's default session rebuilt from its endpoint and credentials."""
    import boto3

    emulator.reset()
    for key, value in emulator.environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
