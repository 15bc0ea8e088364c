"""The preview role's policy: what `pulumi preview` calls, and nothing that writes.

A preview does not refresh (neither tools/deploy.sh nor the pull-request workflow asks it to), so no
resource's Read runs; it calls the program's data sources (the provider-call table's data-source rows,
for every stack it previews) and reads each stack's state (tools/identities/state.py)."""

from __future__ import annotations

from typing import Any, Iterable

from tools.identities import state
from tools.identities.policy import Statement, document
from tools.identities.scopes import Target
from tools.identities.table import provider_calls

DATA_SOURCE = "aws:s3/getBucket:getBucket"
"""The one data source the program calls that needs a permission (getCallerIdentity needs none)."""


def statements(targets: list[tuple[Target, Iterable[str]]], key_arns: list[str]) -> list[Statement]:
    """`targets`: each stack with the data-source tokens its program calls."""
    table = provider_calls()
    lookups: dict[str, set[str]] = {}
    for target, invokes in targets:
        for token in invokes:
            if token not in table:
                raise KeyError(f"no provider calls listed for data source {token}: add it to tools/identities/provider_calls.yaml")
            if token == DATA_SOURCE:
                lookups.setdefault(target.legacy_bucket_arn, set()).update(table[token].actions())
            elif table[token].actions():
                raise KeyError(f"data source {token} needs {table[token].actions()}: scope it in tools/identities/preview.py")
    found = [Statement("LookUpTheLegacyBuckets", tuple(sorted(set().union(*lookups.values()))), tuple(sorted(lookups)))] if lookups else []
    return found + state.preview_statements([t for t, _ in targets], key_arns)


def policy(targets: list[tuple[Target, Iterable[str]]], key_arns: list[str]) -> dict[str, Any]:
    return document(statements(targets, key_arns))
