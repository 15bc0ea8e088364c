"""Placeholder handler until the predictor workload lands."""


def handler(event, context):
    return {"image": "predictor", "event": event}
