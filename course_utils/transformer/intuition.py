"""transformer layer · attention before tensors: the numpy arithmetic of lessons 01-04
(a weighted sum, softmax with a temperature, the weights of one query over its keys).

Shapes: T number of items/keys · d vector width.

Lessons 01 and 04 write these by hand; their widgets (course_utils.view.widgets) compute
with the versions here. The batched, masked torch version is `attention.attention`.
Imports nothing from the course.
"""

import numpy as np


def normalize_weights(raw) -> np.ndarray:
    """Non-negative raw weights -> weights that sum to 1 (all equal if every raw weight is 0).
    Built by hand in lesson 01 (section 1, a weighted sum).

    Shapes:
        raw (T,) -> (T,).
    """
    raw = np.asarray(raw, dtype=float)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"normalize_weights: raw must be a non-empty 1-D array, got shape {raw.shape}")
    if (raw < 0).any():
        raise ValueError(f"normalize_weights: raw weights must be >= 0, got {raw.tolist()}")
    total = raw.sum()
    return np.full(raw.size, 1.0 / raw.size) if total == 0 else raw / total


def weighted_sum(weights, values) -> np.ndarray:
    """sum_i weights[i] * values[i]: the operation at the heart of attention.
    Built by hand in lesson 01 (the exercise `weighted_sum(weights, values)`).

    Shapes:
        weights (T,), values (T, ...) any trailing shape (vectors, images) -> (...).
    """
    weights = np.asarray(weights, dtype=float)
    values = np.asarray(values, dtype=float)
    if weights.ndim != 1 or values.shape[:1] != weights.shape:
        raise ValueError(f"weighted_sum: need weights (T,) and values (T, ...) with the same T, "
                         f"got weights {weights.shape} and values {values.shape}")
    return np.tensordot(weights, values, axes=1)


def softmax(scores, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax of scores / temperature along the last axis.
    Built by hand in lesson 01 (sections 2-3, softmax and temperature).

    Shapes:
        scores (..., T) -> (..., T), each row summing to 1.
    """
    if not temperature > 0:
        raise ValueError(f"softmax: temperature must be > 0, got {temperature!r}")
    z = np.asarray(scores, dtype=float) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def attention_weights(query, keys, scale: bool = True, temperature: float = 1.0) -> np.ndarray:
    """Weights of one query over T keys: softmax(q . k_j / sqrt(d) / temperature).
    Built by hand in lesson 01 (the soft dictionary lookup) and lesson 04 (one query).

    Shapes:
        query (d,), keys (T, d) -> (T,).
    """
    query = np.asarray(query, dtype=float)
    keys = np.asarray(keys, dtype=float)
    if query.ndim != 1 or keys.ndim != 2 or keys.shape[1] != query.shape[0]:
        raise ValueError(f"attention_weights: need query (d,) and keys (T, d), got query {query.shape} "
                         f"and keys {keys.shape}")
    scores = keys @ query  # (T,)
    if scale:
        scores = scores / np.sqrt(query.shape[0])
    return softmax(scores, temperature)
