"""Placeholder handler until the trainer workload lands."""


def handler(event, context):
    return {"image": "trainer", "event": event}
