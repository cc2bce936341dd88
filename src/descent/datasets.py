"""Regression datasets: synthetic ones with known parameters, and a user's own table.

Every generator is a pure function of its specification (a dict validated against
``schemas/config.schema.yaml``): the same spec gives the same numbers, bit for bit.
Three generator kinds exist, plus ``file`` (:func:`from_file`, a parquet or CSV table read and
validated by :mod:`descent.datafile`, whose true parameters are unknown):

``torch_uniform``
    The Paris-rent lesson: ``torch.manual_seed(seed)``, features ``torch.rand(n) * (high - low) + low``,
    noise ``torch.randn(n) * noise_std``, target ``w·x + b + noise`` in float32, in exactly the
    lesson's order of operations so the values are identical to the lesson's.
``numpy_legacy_uniform``
    Lesson 0: ``np.random.seed(seed)``, ``X = scale * np.random.rand(n, k)``,
    ``y = b + X·w + noise_std * np.random.randn(n, 1)`` in float64 (NumPy's legacy global RNG).
``multiscale_gaussian``
    Features ``offset_j + scale_j * N(0, 1)`` with scales spread log-uniformly over
    ``scale_range`` so that unscaled gradient descent is badly conditioned, drawn with
    ``numpy.random.default_rng(seed)``; weights drawn too unless given.

Each generator is a :class:`Recipe` (:func:`recipe`) whose rows are drawn in consecutive chunks
that give exactly the numbers of one whole draw (:func:`row_bounds` says why), so the dataset job
writes them straight to parquet in row groups (:func:`write_generated`) without ever holding the
data, and :func:`generate` gives the same rows in memory (tests and the report).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from descent.config import feature_names
from descent.resources import generation_rows

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
        """The JSON sidecar written beside the parquet file (a contract, see README)."""
        return _metadata(
            name,
            self.features,
            self.target,
            self.true_weights,
            self.true_bias,
            self.n,
            self.seed,
            self.generator,
            str(self.frame[self.target].dtype),
            self.spec,
        )


def _frame(X: np.ndarray, y: np.ndarray, features: list[str], target: str) -> pd.DataFrame:
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
        return _metadata(
            name,
            self.features,
            self.target,
            self.true_weights,
            self.true_bias,
            self.n,
            self.seed,
            self.generator,
            str(self.dtype),
            self.spec,
        )


def _metadata(
    name: str,
    features: list[str],
    target: str,
    true_weights: list[float] | None,
    true_bias: float | None,
    n: int,
    seed: int | None,
    generator: str,
    dtype: str,
    spec: dict[str, Any],
) -> dict[str, Any]:
    return {
        "dataset": name,
        "features": list(features),
        "target": target,
        "true_weights": None if true_weights is None else [float(w) for w in true_weights],
        "true_bias": None if true_bias is None else float(true_bias),
        "n": int(n),
        "seed": None if seed is None else int(seed),
        "generator": generator,
        "dtype": dtype,
        "spec": spec,
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


def _torch_uniform(spec: dict[str, Any]) -> Recipe:
    """The Paris-rent lesson's generator, reproduced operation for operation.

    With the default spec this is exactly::

        torch.manual_seed(42)
        surface = torch.rand(50) * 80 + 20
        noise = torch.randn(50) * 100
        rent = 32 * surface + 200 + noise

    For ``k > 1`` features the uniform draws are ``torch.rand(n, k)`` (row-major, so the
    first feature of a one-feature spec gets the same values) and the target is
    ``sum_j w_j x_j + b + noise``. All arithmetic is float32, as torch gives it. A private
    generator seeded like ``torch.manual_seed`` draws the same stream without touching torch's
    global RNG state; the noise comes from a copy of it positioned after the features.
    """
    n = int(spec["n"])
    features = feature_names(spec)
    k = len(features)
    low, high = float(spec["low"]), float(spec["high"])
    weights = [float(w) for w in spec["true_weights"]]
    bias = float(spec["true_bias"])
    noise_std = float(spec["noise_std"])
    seed = int(spec["seed"])

    def draw(chunk_rows: int) -> RowChunks:
        import torch

        bounds = row_bounds(n, chunk_rows)
        features_rng = torch.Generator().manual_seed(seed)

        def uniform(rng: Any, rows: int) -> Any:
            return torch.rand(rows, k, generator=rng) if k > 1 else torch.rand(rows, generator=rng)

        for start, stop in bounds:  # where the noise starts: after every feature draw
            uniform(features_rng, stop - start)
        noise_rng = torch.Generator()
        noise_rng.set_state(features_rng.get_state())
        features_rng = torch.Generator().manual_seed(seed)
        w = torch.tensor(weights, dtype=torch.float32)
        for start, stop in bounds:
            X = uniform(features_rng, stop - start) * (high - low) + low
            noise = torch.randn(stop - start, generator=noise_rng) * noise_std
            if k == 1:
                y = weights[0] * X + bias + noise
                X = X.reshape(-1, 1)
            else:
                y = (X * w).sum(dim=1) + bias + noise
            yield X.numpy(), y.numpy()

    return Recipe(
        features, spec["target"], weights, bias, seed, "torch_uniform", dict(spec), n, np.dtype("float32"), draw
    )


def legacy_numpy_state_after_data(spec: dict[str, Any]) -> np.random.RandomState:
    """The legacy NumPy RNG positioned just after drawing a ``numpy_legacy_uniform`` dataset.

    Lesson 0 draws its initial ``W`` and ``b`` with ``np.random.randn`` right after the data;
    this returns a private ``RandomState`` in that position so a fit can do the same without
    relying on (or disturbing) NumPy's global state.
    """
    rng = np.random.RandomState(int(spec["seed"]))
    n, k = int(spec["n"]), len(feature_names(spec))
    rng.rand(n, k)
    rng.randn(n, 1)
    return rng


def _numpy_legacy_uniform(spec: dict[str, Any]) -> Recipe:
    """Lesson 0's generator, reproduced operation for operation.

    With the default spec this is exactly::

        np.random.seed(0)
        X = 2 * np.random.rand(100, 1)
        y = 4 + 3 * X + 0.5 * np.random.randn(100, 1)

    A private ``RandomState(seed)`` draws the same stream as ``np.random.seed(seed)``; the noise
    comes from a copy of it positioned after the features.
    """
    n = int(spec["n"])
    features = feature_names(spec)
    k = len(features)
    weights = np.asarray(spec["true_weights"], dtype=np.float64)
    bias = float(spec["true_bias"])
    scale, noise_std = float(spec["scale"]), float(spec["noise_std"])
    seed = int(spec["seed"])

    def draw(chunk_rows: int) -> RowChunks:
        bounds = row_bounds(n, chunk_rows)
        noise_rng = np.random.RandomState(seed)
        for start, stop in bounds:  # where the noise starts: after every feature draw
            noise_rng.rand(stop - start, k)
        features_rng = np.random.RandomState(seed)
        for start, stop in bounds:
            X = scale * features_rng.rand(stop - start, k)
            signal = weights[0] * X if k == 1 else X @ weights.reshape(k, 1)
            y = bias + signal + noise_std * noise_rng.randn(stop - start, 1)
            yield X, y.reshape(-1)

    return Recipe(
        features,
        spec["target"],
        weights.tolist(),
        bias,
        seed,
        "numpy_legacy_uniform",
        dict(spec),
        n,
        np.dtype("float64"),
        draw,
    )


def _multiscale_gaussian(spec: dict[str, Any]) -> Recipe:
    """Many features on deliberately different scales, with known weights.

    Feature ``j`` is ``offset_j + scale_j * z`` with ``z ~ N(0, 1)``; the scales are
    ``logspace(log10(lo), log10(hi), k)`` for ``scale_range = [lo, hi]`` and the offsets are
    ``offset_factor * scale_j`` so that features are not centred either. Unless
    ``true_weights`` is given, weights are drawn uniformly from ``weight_range`` and scaled
    by ``1/scale_j`` so that every feature contributes to the target comparably.
    The target is ``X·w + b + noise_std * N(0, 1)`` (computed in float64); ``dtype`` is float32
    or float64. Draw order, as one whole draw: the weights, then ``z`` ((n, k), row-major), then
    the noise ((n,)), all from ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(int(spec["seed"]))
    n = int(spec["n"])
    features = feature_names(spec)
    k = len(features)
    lo, hi = (float(v) for v in spec["scale_range"])
    scales = np.logspace(np.log10(lo), np.log10(hi), k)
    offsets = float(spec["offset_factor"]) * scales
    if spec.get("true_weights"):
        weights = np.asarray(spec["true_weights"], dtype=np.float64)
    else:
        w_lo, w_hi = (float(v) for v in spec["weight_range"])
        weights = rng.uniform(w_lo, w_hi, size=k) / scales
    bias, noise_std = float(spec["true_bias"]), float(spec["noise_std"])
    dtype = np.dtype(spec.get("dtype", "float64"))
    after_weights = copy.deepcopy(rng.bit_generator.state)

    def positioned() -> np.random.Generator:
        bit_generator = type(rng.bit_generator)()
        bit_generator.state = after_weights
        return np.random.Generator(bit_generator)

    def draw(chunk_rows: int) -> RowChunks:
        bounds = row_bounds(n, chunk_rows)
        noise_rng = positioned()
        scratch = np.empty((max(stop - start for start, stop in bounds), k))
        for start, stop in bounds:  # where the noise starts: after every feature draw
            noise_rng.standard_normal(out=scratch[: stop - start])
        del scratch
        features_rng = positioned()
        for start, stop in bounds:
            X = offsets + scales * features_rng.standard_normal((stop - start, k))
            y = X @ weights + bias + noise_std * noise_rng.standard_normal(stop - start)
            yield X.astype(dtype, copy=False), y.astype(dtype, copy=False)

    return Recipe(
        features,
        spec["target"],
        weights.tolist(),
        bias,
        int(spec["seed"]),
        "multiscale_gaussian",
        dict(spec),
        n,
        dtype,
        draw,
    )


_RECIPES: dict[str, Callable[[dict[str, Any]], Recipe]] = {
    "torch_uniform": _torch_uniform,
    "numpy_legacy_uniform": _numpy_legacy_uniform,
    "multiscale_gaussian": _multiscale_gaussian,
}


def recipe(spec: dict[str, Any]) -> Recipe:
    """The :class:`Recipe` of a (schema-validated) generator spec; nothing is drawn yet.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or fewer than 2 rows.
    """
    kind = spec.get("kind")
    if kind not in _RECIPES:
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: {', '.join(GENERATOR_KINDS)}")
    if int(spec["n"]) < 2:
        raise ValueError(f"n={spec['n']}: a dataset needs at least 2 rows to fit a line")
    return _RECIPES[kind](spec)


def chunk_and_group_rows(made: Recipe, row_group_bytes: int | None = None) -> tuple[int, int]:
    """Rows drawn at a time and rows per written row group of a recipe
    (:func:`descent.resources.generation_rows`, groups of about
    :data:`descent.datafile.ROW_GROUP_BYTES`)."""
    from descent.datafile import ROW_GROUP_BYTES

    return generation_rows(
        len(made.features), made.dtype.itemsize, ROW_GROUP_BYTES if row_group_bytes is None else row_group_bytes
    )


def generate(spec: dict[str, Any]) -> Dataset:
    """Generate the dataset a (schema-validated) spec describes, in memory: the rows of
    :func:`recipe`, drawn chunk by chunk as :func:`write_generated` writes them.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or fewer than 2 rows.
    """
    made = recipe(spec)
    chunk_rows, _ = chunk_and_group_rows(made)
    parts = list(made.draw(chunk_rows))
    X = parts[0][0] if len(parts) == 1 else np.concatenate([X for X, _ in parts])
    y = parts[0][1] if len(parts) == 1 else np.concatenate([y for _, y in parts])
    del parts
    return Dataset(
        frame=_frame(X, y, made.features, made.target),
        features=made.features,
        target=made.target,
        true_weights=made.true_weights,
        true_bias=made.true_bias,
        seed=made.seed,
        generator=made.generator,
        spec=made.spec,
    )


def write_generated(
    spec: dict[str, Any], out: str | os.PathLike[str], name: str, row_group_bytes: int | None = None
) -> dict[str, Any]:
    """Generate the dataset ``spec`` describes straight to parquet at ``out`` (atomically, zstd,
    row groups of about ``row_group_bytes``, default :data:`descent.datafile.ROW_GROUP_BYTES`)
    and return its sidecar (:meth:`Recipe.metadata`). Rows are drawn a chunk at a time into one
    row group's column buffers, so memory holds one group and one chunk's float64 working copies,
    whatever ``n`` (:func:`descent.resources.generate_mem_mb`). The file reads back as the frame
    of :func:`generate` (same values, column names, order and dtypes, same pandas schema
    metadata) as written by :func:`descent.io.write_parquet`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from descent.io import atomic_path

    made = recipe(spec)
    chunk_rows, group_rows = chunk_and_group_rows(made, row_group_bytes)
    columns = [*made.features, made.target]
    group_rows = min(group_rows, made.n)
    schema = pa.Schema.from_pandas(pd.DataFrame({c: np.empty(0, made.dtype) for c in columns}), preserve_index=False)
    buffer = np.empty((len(columns), group_rows), dtype=made.dtype)  # one row group, column by column
    filled = 0

    def flush(writer: Any) -> None:
        nonlocal filled
        if filled:
            arrays = [pa.array(buffer[j, :filled]) for j in range(len(columns))]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=filled)
        filled = 0

    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for X, y in made.draw(chunk_rows):
            done = 0
            while done < len(y):  # (a chunk merged with a short tail may straddle two groups)
                take = min(len(y) - done, group_rows - filled)
                buffer[:-1, filled : filled + take] = X[done : done + take].T
                buffer[-1, filled : filled + take] = y[done : done + take]
                filled += take
                done += take
                if filled == group_rows:
                    flush(writer)
        flush(writer)
    return made.metadata(name)


def file_metadata(name: str, spec: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The JSON sidecar of a ``kind: file`` dataset (same contract as :meth:`Dataset.metadata`):
    the true parameters and the seed are unknown (null); ``facts`` come from
    :func:`descent.datafile.stream_to_parquet` (``features``, ``target``, ``n``, ``dtype``,
    ``source``)."""
    return {
        "dataset": name,
        "features": list(facts["features"]),
        "target": facts["target"],
        "true_weights": None,
        "true_bias": None,
        "n": int(facts["n"]),
        "seed": None,
        "generator": "file",
        "dtype": facts["dtype"],
        "spec": dict(spec),
        "source": facts["source"],
    }


def from_file(name: str, spec: dict[str, Any], out_parquet: str, standardized: bool = False) -> dict[str, Any]:
    """Validate a ``kind: file`` dataset's table and stream it to ``out_parquet`` (features, then
    the target; row groups); returns its sidecar (:func:`file_metadata`). ``standardized``: refuse
    a constant column (the standardized scaling is configured). Errors name the file and column
    (:class:`descent.io.DataError`)."""
    from descent.datafile import stream_to_parquet

    return file_metadata(name, spec, stream_to_parquet(spec, out_parquet, name, standardized))


def diabetes_frame() -> pd.DataFrame:
    """scikit-learn's diabetes table (442 patients, Efron et al. 2004), shipped inside the pinned
    scikit-learn (no download), in its original units (``scaled=False``: age in years, sex 1/2,
    body-mass index, mean blood pressure, six blood serum measurements s1…s6) with the target,
    a quantitative measure of disease progression one year after baseline, as ``progression``."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.rename(columns={"target": DIABETES_TARGET}).astype("float64")


def export_diabetes(path: str) -> int:
    """Write :func:`diabetes_frame` to ``path`` as CSV (header, no index; atomically) and return
    its number of rows."""
    from descent.io import atomic_path

    frame = diabetes_frame()
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return len(frame)
