"""XGBoost tree ensembles evaluated with numpy, read from XGBoost's own JSON model format (`json.loads`:
measured faster and smaller than UBJSON, bench/model_formats.py), or UBJSON for versions published before.

The predictor needs only inference, and XGBoost's Python package drags in scipy (~140 MB) and costs
a few hundred milliseconds of import on every cold start. A trained model is a list of binary trees;
walking them is a few array lookups. The trainer still trains and saves with XGBoost itself, and a
parity test holds this evaluator to XGBoost's own predictions (max abs difference <= 1e-5).

Semantics follow XGBoost's CPU predictor: features are float32; at a numeric split a missing value
(NaN) goes to the default child, otherwise `x < split_condition` goes left; a leaf's value is its
`split_conditions` entry; the margin is `base_score` plus the leaves' sum.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

SUPPORTED_XGBOOST_MAJORS = (2, 3)
"""Model-format versions this reader understands (XGBoost's JSON/UBJSON schema since 2.0)."""
IDENTITY_OBJECTIVES = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:quantileerror")


class UnsupportedModel(ValueError):
    """The model uses something this evaluator does not implement."""


@dataclass(frozen=True)
class Forest:
    """Trees padded into arrays of shape (trees, nodes), evaluated all at once, level by level."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    is_leaf: np.ndarray
    depth: int
    base_score: float
    num_features: int

    @classmethod
    def from_json(cls, raw: bytes) -> "Forest":
        """XGBoost's JSON model format (what the trainer publishes)."""
        try:
            document = json.loads(raw)
        except RecursionError:
            raise UnsupportedModel("the model file is nested deeper than any XGBoost model") from None
        return cls.from_model(document)

    @classmethod
    def from_ubj(cls, raw: bytes) -> "Forest":
        """XGBoost's UBJSON format: versions published before the trainer switched to JSON."""
        return cls.from_model(_UBJReader(raw).read())

    @classmethod
    def from_model(cls, document: dict) -> "Forest":
        version = document.get("version", [0])
        if int(version[0]) not in SUPPORTED_XGBOOST_MAJORS:
            raise UnsupportedModel(f"model written by XGBoost {version}; this reader supports major versions {SUPPORTED_XGBOOST_MAJORS}")
        learner = document["learner"]
        objective = learner["objective"]["name"]
        if objective not in IDENTITY_OBJECTIVES:
            raise UnsupportedModel(f"objective {objective} is not a regression with an identity link")
        parameters = learner["learner_model_param"]
        if int(parameters.get("num_target", "1")) != 1 or int(parameters.get("num_class", "0")) != 0:
            raise UnsupportedModel("only single-target regression models are supported")
        booster = learner["gradient_booster"]
        if booster.get("name") != "gbtree":
            raise UnsupportedModel(f"booster {booster.get('name')} is not gbtree")
        trees = booster["model"]["trees"]
        if not trees:
            raise UnsupportedModel("the model has no trees")
        width = max(len(tree["left_children"]) for tree in trees)
        shape = (len(trees), width)
        left = np.zeros(shape, dtype=np.int32)
        right = np.zeros(shape, dtype=np.int32)
        feature = np.zeros(shape, dtype=np.int32)
        threshold = np.zeros(shape, dtype=np.float32)
        default_left = np.zeros(shape, dtype=bool)
        for index, tree in enumerate(trees):
            if np.any(_small_ints(tree["split_type"]) != 0):
                raise UnsupportedModel("categorical splits are not supported")
            count = len(tree["left_children"])
            left[index, :count] = tree["left_children"]
            right[index, :count] = tree["right_children"]
            feature[index, :count] = tree["split_indices"]
            threshold[index, :count] = tree["split_conditions"]
            default_left[index, :count] = _small_ints(tree["default_left"]).astype(bool)
        is_leaf = left == -1
        # Leaves point at themselves, so walking further keeps a finished row where it is.
        own = np.broadcast_to(np.arange(width, dtype=np.int32), shape)
        left = np.where(is_leaf, own, left)
        right = np.where(is_leaf, own, right)
        return cls(
            left=left, right=right, feature=feature, threshold=threshold, default_left=default_left, is_leaf=is_leaf,
            depth=_max_depth(trees), base_score=_base_score(parameters["base_score"]),
            num_features=int(parameters["num_feature"]),
        )

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predictions for a (rows, num_features) matrix, one per row."""
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"expected a matrix with {self.num_features} columns, got shape {x.shape}")
        trees = np.arange(self.left.shape[0])
        node = np.zeros((x.shape[0], self.left.shape[0]), dtype=np.int32)
        rows = np.arange(x.shape[0])[:, None]
        for _ in range(self.depth):
            value = x[rows, self.feature[trees, node]]
            go_left = np.where(np.isnan(value), self.default_left[trees, node], value < self.threshold[trees, node])
            node = np.where(go_left, self.left[trees, node], self.right[trees, node])
        leaves = self.threshold[trees, node]
        # Accumulate as XGBoost's CPU predictor does: float32, tree after tree, from the base score
        # (cumsum adds sequentially, unlike sum's pairwise reduction).
        start = np.full((x.shape[0], 1), self.base_score, dtype=np.float32)
        return np.cumsum(np.hstack([start, leaves]), axis=1, dtype=np.float32)[:, -1].astype(np.float64)


def _small_ints(values) -> np.ndarray:
    """A uint8 array as a reader hands it over: a list (ours, json.loads) or bytes (py-ubjson)."""
    return np.frombuffer(values, dtype=np.uint8) if isinstance(values, (bytes, bytearray)) else np.asarray(values)


def _base_score(text: str) -> float:
    """`base_score` is a number, or since XGBoost 3 a one-element vector such as `[5.2E-3]`."""
    values = [float(part) for part in str(text).strip("[]").split(",") if part.strip()]
    if len(values) != 1:
        raise UnsupportedModel(f"expected one base score, got {text!r}")
    return values[0]


def _max_depth(trees: list[dict]) -> int:
    deepest = 0
    for tree in trees:
        left, right = tree["left_children"], tree["right_children"]
        frontier, depth = [0], 0
        while True:
            children = [child for node in frontier for child in (left[node], right[node]) if child != -1]
            if not children:
                break
            frontier, depth = children, depth + 1
        deepest = max(deepest, depth)
    return deepest


class _UBJReader:
    """Universal Binary JSON as XGBoost writes it: big-endian numbers, optimized typed arrays."""

    _SCALARS = {ord(k): (v, struct.calcsize(v)) for k, v in {
        "i": ">b", "U": ">B", "I": ">h", "l": ">i", "L": ">q", "d": ">f", "D": ">d",
    }.items()}
    _ARRAY_DTYPES = {ord(k): v for k, v in {"i": ">i1", "U": ">u1", "I": ">i2", "l": ">i4", "L": ">i8", "d": ">f4", "D": ">f8"}.items()}

    def __init__(self, raw: bytes):
        self.raw = bytes(raw)
        self.position = 0

    def read(self):
        try:
            value = self._value(self._marker())
        except RecursionError:
            raise UnsupportedModel("the model file is nested deeper than any XGBoost model") from None
        except (struct.error, ValueError, IndexError, UnicodeDecodeError) as error:
            if isinstance(error, UnsupportedModel):
                raise
            raise UnsupportedModel(f"model file ends in the middle of a value or is corrupt: {error}") from None
        if self.position != len(self.raw):
            raise UnsupportedModel("trailing bytes after the model document")
        return value

    def _marker(self) -> int:
        if self.position >= len(self.raw):
            raise UnsupportedModel("model file ends in the middle of a value")
        marker = self.raw[self.position]
        self.position += 1
        return marker

    def _scalar(self, marker: int):
        fmt, size = self._SCALARS[marker]
        (value,) = struct.unpack_from(fmt, self.raw, self.position)
        self.position += size
        return value

    def _text(self, length: int) -> str:
        text = self.raw[self.position:self.position + length].decode("utf-8")
        self.position += length
        return text

    def _value(self, marker: int):
        if marker in self._SCALARS:
            return self._scalar(marker)
        if marker in (0x53, 0x48):  # S string, H high-precision number kept as text
            return self._text(self._scalar(self._marker()))
        if marker == 0x43:  # C char
            return self._text(1)
        if marker == 0x54:  # T
            return True
        if marker == 0x46:  # F
            return False
        if marker == 0x5A:  # Z
            return None
        if marker == 0x5B:  # [
            return self._array()
        if marker == 0x7B:  # {
            return self._object()
        raise UnsupportedModel(f"unknown UBJSON marker {chr(marker)!r} at byte {self.position - 1}")

    def _container_header(self) -> tuple[int | None, int | None]:
        element_type = count = None
        if self.position < len(self.raw) and self.raw[self.position] == 0x24:  # $
            self.position += 1
            element_type = self._marker()
        if self.position < len(self.raw) and self.raw[self.position] == 0x23:  # #
            self.position += 1
            count = self._scalar(self._marker())
        return element_type, count

    def _array(self):
        element_type, count = self._container_header()
        if element_type in self._ARRAY_DTYPES and count is not None:
            dtype = self._ARRAY_DTYPES[element_type]
            values = np.frombuffer(self.raw, dtype=dtype, count=count, offset=self.position)
            self.position += values.nbytes
            return values.astype(dtype[1:])
        items = []
        while count is None or len(items) < count:
            if count is None and self.raw[self.position] == 0x5D:  # ]
                self.position += 1
                break
            items.append(self._value(element_type if element_type is not None else self._marker()))
        return items

    def _object(self):
        element_type, count = self._container_header()
        result = {}
        while count is None or len(result) < count:
            if count is None and self.raw[self.position] == 0x7D:  # }
                self.position += 1
                break
            key = self._text(self._scalar(self._marker()))
            result[key] = self._value(element_type if element_type is not None else self._marker())
        return result
