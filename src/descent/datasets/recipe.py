"""What a generated dataset is: its in-memory :class:`Dataset`, the :class:`Recipe` that draws its
rows chunk by chunk, its JSON sidecar, and the chunk bounds that keep chunked draws bit-identical
to whole ones (:func:`row_bounds`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

GENERATOR_KINDS: tuple[str, ...] = ("torch_uniform", "numpy_legacy_uniform", "multiscale_gaussian")
#: Every dataset kind: the generators and ``file`` (a user's parquet or CSV table).
DATASET_KINDS: tuple[str, ...] = (*GENERATOR_KINDS, "file")
#: Name of the target column of the exported diabetes table (:func:`export_diabetes`).
DIABETES_TARGET = "progression"


@dataclass(frozen=True)
class Dataset:
    """A generated dataset and the facts needed to judge a fit of it.

    Attributes
    ----------
    frame:
        One column per feature, then the target column; ``n`` rows.
    features:
        Feature column names, in the order of ``true_weights``.
    target:
        Target column name.
    true_weights, true_bias:
        The parameters the data were generated from (before noise); None when unknown.
    seed:
        The seed the generator used.
    generator:
        The generator kind.
    spec:
        The resolved specification the data were generated from.
    """

    frame: pd.DataFrame
    features: list[str]
    target: str
    true_weights: list[float] | None
    true_bias: float | None
    seed: int | None
    generator: str
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.frame)

    def metadata(self, name: str) -> dict[str, Any]:
        """The JSON sidecar written beside the parquet file (a contract, see docs/results.md)."""
        return generated_metadata(name, self, self.n, str(self.frame[self.target].dtype))


def rows_frame(X: np.ndarray, y: np.ndarray, features: list[str], target: str) -> pd.DataFrame:
    """The table of ``X`` (n, k) and ``y`` (n,) or (n, 1): the feature columns, then the target."""
    columns = {name: X[:, j] for j, name in enumerate(features)}
    columns[target] = y.reshape(-1)
    return pd.DataFrame(columns)


#: ``(X chunk (m, k), y chunk (m,))`` in the dataset's dtype, consecutive rows.
RowChunks = Iterator[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Recipe:
    """A generated dataset before its rows are drawn: its facts, and ``draw(chunk_rows)``, which
    starts a fresh pass over the rows in consecutive chunks (the same numbers, bit for bit, for
    any ``chunk_rows`` that is a multiple of 16, and the same as one whole draw of the lesson's
    code; see :func:`row_bounds`)."""

    features: list[str]
    target: str
    true_weights: list[float]
    true_bias: float
    seed: int
    generator: str
    spec: dict[str, Any]
    n: int
    dtype: np.dtype
    draw: Callable[[int], RowChunks]

    def metadata(self, name: str) -> dict[str, Any]:
        """The JSON sidecar (the same as :meth:`Dataset.metadata` of :func:`generate`'s result)."""
        return generated_metadata(name, self, self.n, str(self.dtype))


def generated_metadata(name: str, facts: Dataset | Recipe, n: int, dtype: str) -> dict[str, Any]:
    """The JSON sidecar of a generated dataset (``results/datasets/{dataset}.json``, a contract:
    see docs/results.md), from the facts a :class:`Dataset` and its :class:`Recipe` share, its ``n``
    rows and the name of its ``dtype``."""
    return {
        "dataset": name,
        "features": list(facts.features),
        "target": facts.target,
        "true_weights": None if facts.true_weights is None else [float(w) for w in facts.true_weights],
        "true_bias": None if facts.true_bias is None else float(facts.true_bias),
        "n": int(n),
        "seed": None if facts.seed is None else int(facts.seed),
        "generator": facts.generator,
        "dtype": dtype,
        "spec": facts.spec,
    }


def row_bounds(n: int, chunk_rows: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of ``chunk_rows`` rows (a positive multiple of 16)
    covering ``n`` rows; a last chunk of fewer than 16 rows is merged into the one before.

    Why these chunks give the numbers of one whole draw:

    * NumPy draws (``Generator.standard_normal``, ``RandomState.rand``/``randn``, whose cached
      second Gaussian is part of its state) and ``torch.rand`` consume their stream value after
      value, so consecutive chunks continue it exactly;
    * ``torch.randn`` of 16 values or more transforms uniforms in blocks of 16 and redraws the
      last 16 when the size is not a multiple of 16 (fewer than 16 take another path), so chunks
      that are multiples of 16 followed by a last one of at least 16 consume and transform alike;
    * OpenBLAS's ``X @ w`` (gemv) computes rows in blocks of 4 and the remainder by another kernel
      (another summation order): chunks starting at multiples of 16 put every row in the same
      kind of block as the whole product does. Tested against whole draws (tests/test_datasets.py).
    """
    if chunk_rows <= 0 or chunk_rows % 16:
        raise ValueError(f"chunk_rows={chunk_rows}: must be a positive multiple of 16")
    bounds = [(start, min(n, start + chunk_rows)) for start in range(0, n, chunk_rows)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 16:
        (start, _), (_, stop) = bounds[-2], bounds[-1]
        bounds[-2:] = [(start, stop)]
    return bounds
