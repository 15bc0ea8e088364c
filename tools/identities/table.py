"""The two tables every policy here is derived from: what the providers call per resource type and data
source (provider_calls.yaml), and what each IAM action authorises against (actions.yaml, from the
Service Authorization Reference)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
OPERATIONS = ("create", "read", "update", "delete")


@dataclass(frozen=True)
class Call:
    operation: str
    action: str
    function: str
    """Where in the provider the call is made (file: `TypeCalls.source`)."""


@dataclass(frozen=True)
class TypeCalls:
    type: str
    source: str
    calls: tuple[Call, ...]
    not_granted: dict[str, str]
    """Calls the provider makes only for arguments this program never sets → why."""

    def actions(self, operations: tuple[str, ...] = OPERATIONS) -> list[str]:
        return sorted({call.action for call in self.calls if call.operation in operations})


@dataclass(frozen=True)
class Action:
    name: str
    resource_types: tuple[str, ...]
    """SAR resource types, without the `*` that marks a required one; `("*",)`: no resource-level permission."""
    condition_keys: frozenset[str]

    @property
    def any_resource_only(self) -> bool:
        return self.resource_types == ("*",)


@cache
def provider_calls() -> dict[str, TypeCalls]:
    data = yaml.safe_load((HERE / "provider_calls.yaml").read_text())
    return {
        type_: TypeCalls(
            type_, body["source"], tuple(Call(*row) for row in body.get("calls") or []), dict(body.get("not_granted") or {}),
        )
        for type_, body in data.items()
    }


@cache
def sar() -> dict[str, Action]:
    data = yaml.safe_load((HERE / "actions.yaml").read_text())
    return {
        name: Action(name, tuple(dict.fromkeys(r.rstrip("*") or "*" for r in body["resource"])), frozenset(body.get("conditions") or ()))
        for name, body in data["actions"].items()
    }


@cache
def sar_pages() -> dict[str, str]:
    """Service prefix → its Service Authorization Reference page."""
    return dict(yaml.safe_load((HERE / "actions.yaml").read_text())["pages"])


def action(name: str) -> Action:
    try:
        return sar()[name]
    except KeyError:
        raise KeyError(f"{name} is not in tools/identities/actions.yaml: add its Service Authorization Reference entry") from None
