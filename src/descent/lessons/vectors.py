"""Lesson 0's worked vector examples, computed.

* Unit vectors ``v / ‖v‖``: (2, 4, 6) and (3, 6, 9) point the same way, so their unit vectors
  coincide (both are (1, 2, 3)/√14).
* The dot product (1, 2, 3)·(4, 5, 6) = 4 + 10 + 18 = 32.
* A linear model's output ``w·x + b`` for random weights and inputs equals ``w'·x'`` with the
  bias folded in as the last component: ``w' = (w, b)``, ``x' = (x, 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from descent.config.sections import VectorsConfig


def unit_vector(v: np.ndarray) -> np.ndarray:
    """``v / ‖v‖₂`` for a non-zero vector of shape ``(k,)``."""
    v = np.asarray(v, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise ValueError("the zero vector has no unit vector")
    return v / norm


def dot_by_hand(u: list[float], v: list[float]) -> float:
    """``Σ u_i v_i`` with a plain Python loop, as the lesson writes it first (equal lengths)."""
    if len(u) != len(v):
        raise ValueError(f"vectors of lengths {len(u)} and {len(v)}")
    total = 0.0
    for a, b in zip(u, v):
        total += float(a) * float(b)
    return total


def unit_vector_example(vectors: list[list[float]], atol: float = 1e-12) -> dict[str, Any]:
    """Unit vectors of several vectors (each shape ``(k,)``) and whether they all coincide.

    ``coincide`` is ``max_abs_difference <= atol`` (floating rounding may differ by an ulp).
    """
    units = [unit_vector(np.asarray(v, dtype=np.float64)) for v in vectors]
    diff = max((float(np.max(np.abs(u - units[0]))) for u in units), default=0.0)
    return {
        "vectors": [[float(c) for c in v] for v in vectors],
        "norms": [float(np.linalg.norm(np.asarray(v, dtype=np.float64))) for v in vectors],
        "unit_vectors": [u.tolist() for u in units],
        "max_abs_difference": diff,
        "atol": atol,
        "coincide": diff <= atol,
    }


def dot_example(u: list[float], v: list[float]) -> dict[str, Any]:
    """The dot product of two equal-length vectors, by hand and with ``numpy.dot``."""
    return {
        "u": [float(c) for c in u],
        "v": [float(c) for c in v],
        "dot_by_hand": dot_by_hand(u, v),
        "dot_numpy": float(np.dot(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))),
    }


def linear_model_example(seed: int, n_inputs: int) -> dict[str, Any]:
    """Output of a linear model with random weights, inputs and bias, with and without folding.

    ``rng = default_rng(seed)``; ``w = rng.standard_normal(k)``, ``x = rng.random(k)``,
    ``b = rng.standard_normal()`` (in that order), ``k = n_inputs``. Returns ``w·x + b`` and
    ``w'·x'`` with ``w' = (w, b)``, ``x' = (x, 1)`` (both of shape ``(k + 1,)``).
    """
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_inputs)
    x = rng.random(n_inputs)
    b = float(rng.standard_normal())
    w_folded = np.append(w, b)
    x_folded = np.append(x, 1.0)
    output = float(np.dot(w, x) + b)
    output_folded = float(np.dot(w_folded, x_folded))
    return {
        "seed": seed,
        "n_inputs": n_inputs,
        "weights": w.tolist(),
        "inputs": x.tolist(),
        "bias": b,
        "weights_with_bias": w_folded.tolist(),
        "inputs_with_one": x_folded.tolist(),
        "output": output,
        "output_folded": output_folded,
        "abs_difference": abs(output - output_folded),
    }


def vectors_experiment(spec: VectorsConfig | Mapping[str, Any]) -> dict[str, Any]:
    """All three worked examples from the ``lessons.vectors`` config section (typed, or its
    schema-filled dict), as the JSON contract."""
    spec = VectorsConfig.coerce(spec)
    u, v = (list(vector) for vector in spec.dot_example)
    return {
        "unit_vectors": unit_vector_example([list(vector) for vector in spec.unit_examples]),
        "dot_product": dot_example(u, v),
        "linear_model": linear_model_example(int(spec.seed), int(spec.n_inputs)),
    }


def vectors_table(result: dict[str, Any]) -> pd.DataFrame:
    """The experiment as a small long-format table: ``example``, ``quantity``, ``index``, ``value``.

    ``index`` is the component (0-based) for vector quantities and -1 for scalars; every value
    is float64 (booleans as 0/1).
    """
    rows: list[tuple[str, str, int, float]] = []

    def add(example: str, quantity: str, value: Any) -> None:
        if isinstance(value, (list, tuple)):
            rows.extend((example, quantity, i, float(c)) for i, c in enumerate(value))
        else:
            rows.append((example, quantity, -1, float(value)))

    unit = result["unit_vectors"]
    for i, (vec, norm, u) in enumerate(zip(unit["vectors"], unit["norms"], unit["unit_vectors"])):
        add("unit_vectors", f"vector_{i}", vec)
        add("unit_vectors", f"norm_{i}", norm)
        add("unit_vectors", f"unit_vector_{i}", u)
    add("unit_vectors", "max_abs_difference", unit["max_abs_difference"])
    add("unit_vectors", "coincide", unit["coincide"])
    dot = result["dot_product"]
    for key in ("u", "v", "dot_by_hand", "dot_numpy"):
        add("dot_product", key, dot[key])
    model = result["linear_model"]
    for key in ("weights", "inputs", "bias", "weights_with_bias", "inputs_with_one", "output", "output_folded"):
        add("linear_model", key, model[key])
    frame = pd.DataFrame(rows, columns=["example", "quantity", "index", "value"])
    frame["index"] = frame["index"].astype(np.int64)
    if not all(math.isfinite(v) for v in frame["value"]):
        raise ValueError("non-finite value in the vectors table")
    return frame
