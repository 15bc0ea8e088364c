"""The predictor's handler wrapped the way it was before the images dropped the X-Ray SDK: Powertools'
Tracer (which imports the SDK and patches botocore) around it. Only the benchmark's image runs this."""

from aws_lambda_powertools import Tracer

from predictor import handler as predictor

tracer = Tracer()
handler = tracer.capture_lambda_handler(predictor.handler)
