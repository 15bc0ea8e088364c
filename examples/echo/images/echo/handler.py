"""Echo: answers a Function URL request (payload format 2.0) with its JSON body and the time received.
`{"dry_run": true}` (the pre-traffic gate's event) answers without a body."""

import json
from datetime import datetime, timezone


def handler(event, context):
    if event.get("dry_run") is True:
        return {"dry_run": True, "checks": {"handler": "passed: loaded"}, "skipped": []}
    try:
        body = json.loads(event.get("body") or "null")
    except json.JSONDecodeError as error:
        return _response(400, {"error": f"the body is not JSON: {error.msg}"})
    return _response(200, {"echo": body, "received_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})


def _response(status, document):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}
