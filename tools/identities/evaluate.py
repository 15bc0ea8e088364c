"""A small evaluator of identity-policy documents, for the tests that prove every provider call the
program causes is allowed on the ARN it acts on, and that what must stay denied is denied.

It implements what these documents use, per the IAM policy evaluation logic (IAM User Guide): an
explicit Deny wins, else an Allow must match; `Action` and `Resource` with `*`/`?` wildcards
(case-insensitive actions); conditions StringEquals, StringNotEquals, StringLike, ArnLike and their
IfExists forms, ForAllValues/ForAnyValue qualifiers over list values; all keys of a condition block
must match, any value of a key may. Anything else raises rather than guessing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    """Condition keys of the request (`iam:PermissionsBoundary`, `iam:PassedToService`, …)."""


def _matches(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _operator_holds(operator: str, wanted: list[Any], present: Any) -> bool:
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if present is None:
        return if_exists or operator == "StringNotEquals"
    values = _listed(present)
    compare = {
        "StringEquals": lambda w, v: w == v,
        "StringNotEquals": lambda w, v: w != v,
        "StringLike": lambda w, v: _matches(w, v),
        "ArnLike": lambda w, v: _matches(w, v),
        "ArnEquals": lambda w, v: w == v,
    }.get(operator)
    if compare is None:
        raise ValueError(f"condition operator {operator!r} is not evaluated here")
    if operator == "StringNotEquals":
        return all(all(compare(w, v) for w in wanted) for v in values)
    if qualifier == "ForAllValues":
        return all(any(compare(w, v) for w in wanted) for v in values)
    return any(any(compare(w, v) for w in wanted) for v in values)


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for operator, keys in condition.items():
        for key, wanted in keys.items():
            if not _operator_holds(operator, _listed(wanted), context.get(key)):
                return False
    return True


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    actions = _listed(statement.get("Action", []))
    resources = _listed(statement.get("Resource", []))
    if "NotAction" in statement or "NotResource" in statement:
        raise ValueError(f"statement {statement.get('Sid')}: NotAction/NotResource are not evaluated here")
    return (
        any(_matches(a, request.action, case=False) for a in actions)
        and any(_matches(r, request.resource) for r in resources)
        and _condition_holds(statement.get("Condition", {}), request.context)
    )


def decide(documents: Iterable[Mapping[str, Any]], request: Request) -> tuple[bool, str]:
    """(allowed, the statement that decided it or why nothing did)."""
    statements = [s for d in documents for s in _listed(d["Statement"])]
    for statement in statements:
        if statement["Effect"] == "Deny" and _statement_applies(statement, request):
            return False, f"denied by {statement.get('Sid')}"
    for statement in statements:
        if statement["Effect"] == "Allow" and _statement_applies(statement, request):
            return True, f"allowed by {statement.get('Sid')}"
    return False, "no statement allows it"
