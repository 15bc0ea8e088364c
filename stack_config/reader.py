"""A typed reader of one configuration object, with no knowledge of this project: each method takes one
key, checks its type and range, and names the key, what is allowed and what was received when it
refuses; whatever nobody asked for is a typo (`finish`, with a did-you-mean).

Values are accepted as YAML gives them or as Pulumi passes them (strings; JSON for objects). Every
field read can be recorded (`recording`), which is how the configuration reference is generated from
the code that reads the keys rather than kept by hand.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import inspect
import json
import re
import textwrap
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, Iterator, Protocol

REQUIRED: Any = object()
"""The default of a key that must be set."""


class SettingsError(ValueError):
    """A configuration value is missing, unknown or out of range."""


class Bounded(Protocol):
    """A named range with a default and a description (the contract's Knob, the components' limits)."""

    name: str
    default: float
    minimum: float
    maximum: float
    description: str


@dataclass(frozen=True)
class Doc:
    """What the configuration reference says of a key, where the code cannot derive it: a description,
    and a default or allowed text for values computed from other keys."""

    text: str = ""
    default: str | None = None
    allowed: str | None = None


@dataclass(frozen=True)
class Field:
    """One key as a reader took it (see `recording`)."""

    path: str
    name: str
    kind: str
    default: Any
    allowed: str
    doc: Doc


_RECORDING: ContextVar[list[Field] | None] = ContextVar("settings_recording", default=None)


@contextlib.contextmanager
def recording() -> Iterator[list[Field]]:
    """Every key any reader takes while inside, in order."""
    fields: list[Field] = []
    token = _RECORDING.set(fields)
    try:
        yield fields
    finally:
        _RECORDING.reset(token)


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstrings written under a dataclass's fields (`name: type = default` then `\"\"\"…\"\"\"`)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, following in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def doc_of(cls: type, field_name: str, **display: str) -> Doc:
    """The reference entry of a key that fills `cls.field_name`: that field's docstring."""
    return Doc(field_docs(cls).get(field_name, ""), **display)


def show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


class Reader:
    """Takes typed fields out of one config object; whatever is left at `finish()` is a typo.

    `inherited` names keys whose value came from elsewhere (another object merged under this one):
    a refusal of such a key names that object's path, where the user wrote it."""

    def __init__(self, path: str, data: Any, unknown_hint: str | None = None, inherited: dict[str, str] | None = None):
        data = decode(path or "config", data, dict)
        self._path = path
        self._data = dict(data)
        self._known: list[str] = []
        self._unknown_hint = unknown_hint
        self._inherited = dict(inherited or {})

    @property
    def path(self) -> str:
        return self._path

    def key(self, name: str) -> str:
        path = self._inherited.get(name, self._path)
        return f"{path}.{name}" if path else name

    def _take(self, name: str, default: Any, kind: str, allowed: str = "", doc: Doc | None = None) -> Any:
        self._known.append(name)
        fields = _RECORDING.get()
        if fields is not None:
            fields.append(Field(self._path, name, kind, default, allowed, doc or Doc()))
        if name in self._data and self._data[name] is not None:
            return self._data.pop(name)
        self._data.pop(name, None)
        if default is REQUIRED:
            raise SettingsError(f"{self.key(name)} is required")
        return default

    def string(
        self,
        name: str,
        default: Any = REQUIRED,
        *,
        choices: tuple[str, ...] | list[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        pattern_text: str = "",
        max_length: int | None = None,
        doc: Doc | None = None,
    ) -> str:
        allowed = ", ".join(choices) if choices is not None else pattern_text
        if max_length is not None:
            allowed = f"{allowed}, at most {max_length} characters" if allowed else f"at most {max_length} characters"
        value = self._take(name, default, "string", allowed, doc)
        if not isinstance(value, str):
            raise SettingsError(f"{self.key(name)} must be a string, got {show(value)}")
        if choices is not None and value not in choices:
            raise SettingsError(f"{self.key(name)} must be one of {', '.join(choices)}, got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise SettingsError(f"{self.key(name)} must be {pattern_text}, got {value!r}")
        if max_length is not None and len(value) > max_length:
            raise SettingsError(f"{self.key(name)} must be at most {max_length} characters, got {len(value)}")
        return value

    def optional_string(
        self, name: str, *, pattern: re.Pattern[str], pattern_text: str, doc: Doc | None = None,
    ) -> str | None:
        """A string that may be left unset (None), checked against `pattern` when set."""
        if self._data.get(name) is None:
            self._take(name, None, "string", pattern_text, doc)
            return None
        return self.string(name, pattern=pattern, pattern_text=pattern_text, doc=doc)

    def integer(
        self,
        name: str,
        default: Any = REQUIRED,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        maximum_text: str | None = None,
        allowed: tuple[int, ...] | None = None,
        doc: Doc | None = None,
    ) -> int:
        value = decode(self.key(name), self._take(name, default, "integer", _range_text(minimum, maximum, maximum_text, allowed), doc), int)
        if allowed is not None and value not in allowed:
            raise SettingsError(
                f"{self.key(name)} must be one of {', '.join(map(str, allowed))}, got {value}"
            )
        too_low = minimum is not None and value < minimum
        too_high = maximum is not None and value > maximum
        if too_low or too_high:
            if minimum is not None and maximum is not None:
                raise SettingsError(
                    f"{self.key(name)} must be between {minimum} and {maximum_text or maximum}, got {value}"
                )
            if minimum is not None:
                raise SettingsError(f"{self.key(name)} must be at least {minimum}, got {value}")
            raise SettingsError(f"{self.key(name)} must be at most {maximum_text or maximum}, got {value}")
        return value

    def ranged(self, limit: Bounded, *, key: str | None = None, doc: Doc | None = None) -> int:
        """A whole number within a named range, defaulting to its default; `key` when the config key
        differs from the range's name (e.g. prefixed)."""
        return self.integer(
            key or limit.name, int(limit.default), minimum=int(limit.minimum), maximum=int(limit.maximum),
            doc=doc or Doc(limit.description),
        )

    def optional_integer(self, name: str, *, minimum: int, maximum: int, doc: Doc | None = None) -> int | None:
        if self._data.get(name) is None:
            self._take(name, None, "integer", _range_text(minimum, maximum, None, None), doc)
            return None
        return self.integer(name, minimum=minimum, maximum=maximum, doc=doc)

    def knob(self, knob: Bounded, *, whole: bool) -> float:
        """A bounded value, range-checked by the range itself (`knob.check`: one definition of it)."""
        raw = self._take(knob.name, knob.default, "integer" if whole else "number", f"{knob.minimum:g}–{knob.maximum:g}", Doc(knob.description))
        value = decode(self.key(knob.name), raw, int) if whole else number(self.key(knob.name), raw)
        try:
            return knob.check(value, where=self.key(knob.name))  # type: ignore[attr-defined]
        except ValueError as error:
            raise SettingsError(str(error)) from None

    def boolean(self, name: str, default: Any = REQUIRED, *, doc: Doc | None = None) -> bool:
        return decode(self.key(name), self._take(name, default, "boolean", "true, false", doc), bool)

    def string_list(
        self, name: str, default: list[str], *, pattern: re.Pattern[str], pattern_text: str, doc: Doc | None = None
    ) -> list[str]:
        values = decode(self.key(name), self._take(name, default, "list of strings", pattern_text, doc), list)
        for value in values:
            if not isinstance(value, str) or not pattern.match(value):
                raise SettingsError(f"{self.key(name)} entries must each be {pattern_text}, got {show(value)}")
        return list(values)

    def string_map(self, name: str, *, doc: Doc | None = None) -> dict[str, str]:
        values = decode(self.key(name), self._take(name, {}, "object", "", doc), dict)
        for key, value in values.items():
            if not isinstance(value, str):
                raise SettingsError(f"{self.key(name)}.{key} must be a string, got {show(value)}")
        return dict(values)

    def object(self, name: str, *, doc: Doc | None = None) -> dict[str, Any]:
        return dict(decode(self.key(name), self._take(name, {}, "object", "", doc), dict))

    def optional_object(self, name: str, *, doc: Doc | None = None) -> dict[str, Any] | None:
        value = self._take(name, None, "object", "", doc)
        return None if value is None else decode(self.key(name), value, dict)

    def object_map(self, name: str, *, doc: Doc | None = None) -> dict[str, Any]:
        values = decode(self.key(name), self._take(name, REQUIRED, "object", "", doc), dict)
        return {key: ({} if body is None else body) for key, body in values.items()}

    def object_list(self, name: str, *, doc: Doc | None = None) -> list[Any]:
        return list(decode(self.key(name), self._take(name, [], "list", "", doc), list))

    def leftover(self) -> list[str]:
        """Keys present that nobody asked for (so far)."""
        return list(self._data)

    def known(self) -> list[str]:
        return list(self._known)

    def finish(self) -> None:
        """Refuse keys nobody asked for: a typo must not pass silently."""
        for name in self._data:
            what = self._unknown_hint.format(key=name) if self._unknown_hint else f"key {name!r} in {self._inherited.get(name, self._path)}"
            raise SettingsError(unknown_key_message(name, self._known, what))


def unknown_key_message(name: str, known: list[str], what: str) -> str:
    """`unknown <what>; did you mean '<closest>'?; known keys: …`"""
    parts = [f"unknown {what}"]
    suggestion = difflib.get_close_matches(name, known, n=1)
    if suggestion:
        parts.append(f"did you mean {suggestion[0]!r}?")
    parts.append(f"known keys: {', '.join(sorted(known))}")
    return "; ".join(parts)


def _range_text(minimum: int | None, maximum: int | None, maximum_text: str | None, allowed: tuple[int, ...] | None) -> str:
    if allowed is not None:
        return ", ".join(map(str, allowed))
    if minimum is not None and maximum is not None:
        return f"{minimum}–{maximum_text or maximum}"
    if minimum is not None:
        return f"at least {minimum}"
    return f"at most {maximum_text or maximum}" if maximum is not None else ""


def number(key: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{key} must be a number, got {show(value)}")
    return float(value)


def decode(key: str, value: Any, kind: type) -> Any:
    """Accept a value as YAML gives it or as Pulumi passes it (a string, JSON for objects)."""
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        try:
            if kind is bool and text in ("true", "false"):
                value = text == "true"
            elif kind is int and re.fullmatch(r"-?\d+", text):
                value = int(text)
            elif kind in (dict, list):
                value = json.loads(text)
        except json.JSONDecodeError:
            pass
    names = {int: "a whole number", bool: "true or false", dict: "an object", list: "a list"}
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SettingsError(f"{key} must be {names[int]}, got {show(value)}")
    if kind is not int and not isinstance(value, kind):
        raise SettingsError(f"{key} must be {names[kind]}, got {show(value)}")
    return value
