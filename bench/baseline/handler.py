"""Seed-style predictor: every library imported at module scope, the model unpickled from S3 at
import, features computed with pandas from the recent prices. Does the same work as ours: read the
model and recent prices, compute the features, predict one week ahead."""

import io
import os
import pickle

import boto3
import numpy as np
import pandas as pd
import sklearn  # noqa: F401  (imported at module scope, as the guides do)
import xgboost  # noqa: F401

s3 = boto3.client("s3")
BUCKET = os.environ["DATA_BUCKET"]
model = pickle.loads(s3.get_object(Bucket=BUCKET, Key=os.environ["BASELINE_MODEL_KEY"])["Body"].read())


def features(frame: pd.DataFrame) -> pd.DataFrame:
    close = frame["close"]
    log_close = np.log(close)
    daily = log_close.diff()
    out = pd.DataFrame(index=frame.index)
    for lag in (1, 5, 10, 20):
        out[f"log_return_{lag}d"] = log_close - log_close.shift(lag)
    for window in (10, 20, 60):
        out[f"log_gap_to_ma_{window}d"] = log_close - np.log(close.rolling(window).mean())
    for window in (10, 20):
        out[f"volatility_{window}d"] = daily.rolling(window).std()
    out["range_20d"] = np.log(close.rolling(20).max() / close.rolling(20).min())
    angle = 2 * np.pi * (frame["date"].dt.dayofyear - 1) / 365.25
    out["season_sin"], out["season_cos"] = np.sin(angle), np.cos(angle)
    return out


def handler(event, context):
    commodity = event["commodity"]
    year = int(event["year"])
    frames = [
        pd.read_csv(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=f"prices/{commodity}/{y}.csv")["Body"].read()), parse_dates=["date"])
        for y in (year - 1, year)
    ]
    frame = pd.concat(frames, ignore_index=True).tail(61)
    row = features(frame).iloc[[-1]].to_numpy()
    current = float(frame["close"].iloc[-1])
    predicted = current * float(np.exp(model.predict(row)[0]))
    return {"commodity": commodity, "current_price": current, "predicted_price": round(predicted, 4)}
