"""Print the resources each stack declares, from a run of the real program under Pulumi mocks."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import run_stack  # noqa: E402

for stack in sys.argv[1:] or ["dev"]:
    graph = run_stack(stack)
    print(f"stack {stack}: {len(graph.resources)} resources")
    for resource in graph.resources:
        print(f"  {resource.type:45} {resource.name}")
    for name, value in graph.outputs.items():
        print(f"  output {name}: {value}")
