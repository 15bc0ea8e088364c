"""CloudWatch Logs filter-pattern semantics, for testing metric filters without AWS.

Implements the two forms metric filters use to extract values: JSON patterns
(`{ $.a.b = "x" && $.c > 0 }`, selectors into the event parsed as JSON; a missing selector makes its
term false) and space-delimited patterns (`[f1, f2 = "x", ..., f3]`, fields matched position by
position over whitespace-separated tokens, quoted or bracketed tokens kept whole, `...` skipping any
number of tokens). Strings compare exactly, `*` is a wildcard; numbers compare numerically.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

_TERM = re.compile(r'\s*(\$[\w.\[\]]+)\s*(!=|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|[^\s&|()]+)\s*')


def match(pattern: str, message: str) -> tuple[bool, dict[str, Any]]:
    """Whether `message` matches, and the values a metric transformation could read (`$.x` or `$name`)."""
    pattern = pattern.strip()
    if pattern.startswith("{") and pattern.endswith("}"):
        return _match_json(pattern[1:-1], message)
    if pattern.startswith("[") and pattern.endswith("]"):
        return _match_delimited(pattern[1:-1], message)
    raise ValueError(f"unsupported pattern {pattern!r}")


def metric_value(pattern: str, value: str, message: str) -> float | None:
    matched, fields = match(pattern, message)
    if not matched:
        return None
    return float(fields[value])


def _compare(actual: Any, op: str, expected_text: str) -> bool:
    if actual is None:
        return False
    if expected_text.startswith('"'):
        expected = json.loads(expected_text)
        if not isinstance(actual, str):
            return False
        equal = fnmatch.fnmatchcase(actual, expected) if "*" in expected else actual == expected
        return equal if op == "=" else (not equal if op == "!=" else False)
    if expected_text == "*":
        return op == "=" and actual is not None
    try:
        left, right = float(actual), float(expected_text)
    except (TypeError, ValueError):
        equal = str(actual) == expected_text
        return equal if op == "=" else (not equal if op == "!=" else False)
    return {"=": left == right, "!=": left != right, ">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def _select(document: Any, selector: str) -> Any:
    current = document
    for part in re.findall(r"\.(\w+)|\[(\d+)\]", selector[1:]):
        key, index = part
        if key:
            if not isinstance(current, dict) or key not in current:
                return None
            current = current[key]
        else:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
    return current


def _match_json(expression: str, message: str) -> tuple[bool, dict[str, Any]]:
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        return False, {}
    selectors: dict[str, Any] = {}

    def evaluate_term(term_match: re.Match) -> str:
        selector, op, expected = term_match.groups()
        actual = _select(document, selector)
        selectors[selector] = actual
        return " True " if _compare(actual, op, expected) else " False "

    python = _TERM.sub(evaluate_term, expression).replace("&&", " and ").replace("||", " or ")
    python = python.replace("(", " ( ").replace(")", " ) ")
    if set(python.split()) - {"True", "False", "and", "or", "(", ")"}:
        raise ValueError(f"unsupported JSON pattern {expression!r}")
    result = eval(python, {"__builtins__": {}}, {})  # nothing but True/False/and/or/parentheses remains
    for selector in re.findall(r"\$[\w.\[\]]+", expression):
        selectors.setdefault(selector, _select(document, selector))
    return bool(result), selectors


def _tokens(message: str) -> list[str]:
    return re.findall(r'"[^"]*"|\[[^\]]*\]|\S+', message)


def _match_delimited(spec: str, message: str) -> tuple[bool, dict[str, Any]]:
    fields = [f.strip() for f in spec.split(",")]
    tokens = [t.strip('"') if t.startswith('"') else t for t in _tokens(message)]

    def walk(field_index: int, token_index: int, captured: dict[str, Any]) -> dict[str, Any] | None:
        if field_index == len(fields):
            return captured if token_index == len(tokens) else None
        field = fields[field_index]
        if field == "...":
            for skip in range(token_index, len(tokens) + 1):
                found = walk(field_index + 1, skip, captured)
                if found is not None:
                    return found
            return None
        if token_index >= len(tokens):
            return None
        condition = re.fullmatch(r'(\w+)\s*(!=|>=|<=|=|>|<)\s*(.+)', field)
        name = condition.group(1) if condition else field
        token = tokens[token_index]
        if condition and not _compare(token, condition.group(2), condition.group(3)):
            return None
        return walk(field_index + 1, token_index + 1, {**captured, f"${name}": token})

    captured = walk(0, 0, {})
    return captured is not None, captured or {}
