"""Seed-style predictor: every library imported at module scope, the model unpickled from S3."""

import json
import os
import pickle

import boto3
import numpy as np
import pandas as pd
import sklearn  # noqa: F401  (imported as the guides do, whether or not it is used)
import xgboost  # noqa: F401

s3 = boto3.client("s3")
model = pickle.loads(s3.get_object(Bucket=os.environ["DATA_BUCKET"], Key=os.environ["BASELINE_MODEL_KEY"])["Body"].read())


def handler(event, context):
    features = np.asarray(json.loads(os.environ.get("BASELINE_FEATURES", "[]")) or event["features"], dtype=float)
    frame = pd.DataFrame([features])
    return {"prediction": float(model.predict(frame.to_numpy())[0])}
