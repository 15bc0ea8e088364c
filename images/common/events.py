"""Invocation events, parsed into typed requests before any work starts.

EventBridge Scheduler delivers the schedule's `input` verbatim, so a scheduled run and a manual
`aws lambda invoke` send the same shapes.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from common.errors import InvalidEvent, UnknownCommodity
from common.contract import COMMODITIES


SHOWN = 40
"""Characters of user input an error message repeats at most."""
EARLIEST_AS_OF = date(2000, 1, 1)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def today_utc() -> date:
    return now_utc().date()


@dataclass(frozen=True)
class PredictionRequest:
    """`{"commodity": "corn"}` (scheduled) or `{"commodity": "corn", "as_of": "2026-11-20"}` (manual)."""

    commodity: str
    as_of: date
    backfill: bool = False
    """An explicit `as_of` before today (UTC): dated outputs only, never the mobile app's latest document.
    Scheduled runs carry no `as_of`, so they are never back-fills, Mondays included."""
    dry_run: bool = False
    """Exercise the whole path, write nothing anyone reads (see predictor.service.dry_run)."""
    replace: bool = False
    """Let a back-fill replace a stored prediction; without it a back-fill only creates missing ones."""

    @classmethod
    def parse(cls, event: Any) -> "PredictionRequest":
        body = _object(event, allowed={"commodity", "as_of", "dry_run", "replace"}, example='{"commodity": "corn"}')
        if "commodity" not in body:
            raise InvalidEvent('event must name a commodity, e.g. {"commodity": "corn"}')
        as_of = _as_of(body.get("as_of"))
        return cls(
            commodity=_commodity(body["commodity"]), as_of=as_of, backfill=as_of < today_utc(), dry_run=_flag(body, "dry_run"),
            replace=_flag(body, "replace"),
        )


@dataclass(frozen=True)
class TrainingRequest:
    """`{}` trains every commodity; `{"commodities": ["corn"]}` or `{"commodity": "corn"}` some;
    `as_of` trains on history up to that date."""

    commodities: tuple[str, ...]
    as_of: date
    allow_older: bool = False
    """Let a run for an `as_of` older than the serving model's replace it (logged and counted)."""
    dry_run: bool = False
    """Validate inputs and prove the code path and permissions; fit and publish nothing (trainer.training.dry_run)."""

    @classmethod
    def parse(cls, event: Any) -> "TrainingRequest":
        body = _object(
            event, allowed={"commodity", "commodities", "as_of", "allow_older", "dry_run"}, example='{} or {"commodities": ["corn"]}'
        )
        allow_older = _flag(body, "allow_older")
        if "commodity" in body and "commodities" in body:
            raise InvalidEvent("event may name 'commodity' or 'commodities', not both")
        if "commodity" in body:
            names = [body["commodity"]]
        elif "commodities" in body:
            names = body["commodities"]
            if not isinstance(names, list) or not names:
                raise InvalidEvent(f"'commodities' must be a non-empty list, got {names!r}")
        else:
            names = list(COMMODITIES)
        commodities = tuple(dict.fromkeys(_commodity(name) for name in names))
        return cls(commodities=commodities, as_of=_as_of(body.get("as_of")), allow_older=allow_older, dry_run=_flag(body, "dry_run"))


def _object(event: Any, *, allowed: set[str], example: str) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidEvent(f"event must be a JSON object like {example}, got {type(event).__name__}")
    unknown = sorted(set(event) - allowed)
    if unknown:
        raise InvalidEvent(f"event has unknown field(s) {_clip(', '.join(map(str, unknown)))}; allowed: {', '.join(sorted(allowed))}")
    return event


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidEvent(f"{name} must be true or false, got {_shown(value)}")
    return value


def _clip(text: str) -> str:
    """A bounded slice of user input for an error message: never more than SHOWN characters of it."""
    return text if len(text) <= SHOWN else f"{text[:SHOWN]}… ({len(text)} characters)"


def _shown(value: Any) -> str:
    return _clip(repr(value))


def _commodity(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(f"commodity must be a string, got {_shown(value)}")
    if value not in COMMODITIES:
        raise UnknownCommodity(f"unknown commodity {_shown(value)}; this deployment forecasts {', '.join(COMMODITIES)}")
    return value


def _as_of(value: Any) -> date:
    if value is None:
        return today_utc()
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise InvalidEvent(f"as_of must be a YYYY-MM-DD date, got {_shown(value)}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"as_of must be a YYYY-MM-DD date, got {_shown(value)}") from None
    if day > today_utc():
        raise InvalidEvent(f"as_of {value} is in the future")
    if day < EARLIEST_AS_OF:
        raise InvalidEvent(f"as_of {value} is before {EARLIEST_AS_OF}, earlier than any price history this project keeps")
    return day


MAX_HTTP_BODY = 4096
"""Bytes of a Function URL request body read at most: a prediction request is a few dozen."""


def is_http_request(event: Any) -> bool:
    """A Function URL (or API Gateway HTTP API) request: payload format 2.0."""
    return isinstance(event, dict) and event.get("version") == "2.0" and isinstance(event.get("requestContext"), dict) \
        and "http" in event["requestContext"]


def http_json_body(event: dict) -> Any:
    """The request's JSON body; a missing, oversized, undecodable or non-JSON body is an `InvalidEvent`."""
    raw = event.get("body")
    if not isinstance(raw, str) or not raw:
        raise InvalidEvent('the request needs a JSON body, e.g. {"commodity": "corn"}')
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise InvalidEvent("the request body is not valid base64-encoded UTF-8") from None
    if len(raw) > MAX_HTTP_BODY:
        raise InvalidEvent(f"the request body is {len(raw)} characters; at most {MAX_HTTP_BODY}")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidEvent(f"the request body is not JSON ({error.msg}): {_shown(raw)}") from None
