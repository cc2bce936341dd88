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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from descent.config import feature_names

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
        return {
            "dataset": name,
            "features": list(self.features),
            "target": self.target,
            "true_weights": None if self.true_weights is None else [float(w) for w in self.true_weights],
            "true_bias": None if self.true_bias is None else float(self.true_bias),
            "n": int(self.n),
            "seed": None if self.seed is None else int(self.seed),
            "generator": self.generator,
            "dtype": str(self.frame[self.target].dtype),
            "spec": self.spec,
        }


def _frame(X: np.ndarray, y: np.ndarray, features: list[str], target: str) -> pd.DataFrame:
    columns = {name: X[:, j] for j, name in enumerate(features)}
    columns[target] = y.reshape(-1)
    return pd.DataFrame(columns)


def generate_torch_uniform(spec: dict[str, Any]) -> Dataset:
    """The Paris-rent lesson's generator, reproduced operation for operation.

    With the default spec this is exactly::

        torch.manual_seed(42)
        surface = torch.rand(50) * 80 + 20
        noise = torch.randn(50) * 100
        rent = 32 * surface + 200 + noise

    For ``k > 1`` features the uniform draws are ``torch.rand(n, k)`` (row-major, so the
    first feature of a one-feature spec gets the same values) and the target is
    ``sum_j w_j x_j + b + noise``. All arithmetic is float32, as torch gives it.
    """
    import torch

    n = int(spec["n"])
    features = feature_names(spec)
    k = len(features)
    low, high = float(spec["low"]), float(spec["high"])
    weights = [float(w) for w in spec["true_weights"]]
    bias = float(spec["true_bias"])
    noise_std = float(spec["noise_std"])

    generator = torch.Generator().manual_seed(int(spec["seed"]))
    # A private generator seeded like torch.manual_seed draws the same stream without
    # touching torch's global RNG state.
    uniform = torch.rand(n, k, generator=generator) if k > 1 else torch.rand(n, generator=generator)
    X = uniform * (high - low) + low
    noise = torch.randn(n, generator=generator) * noise_std
    if k == 1:
        y = weights[0] * X + bias + noise
        X = X.reshape(n, 1)
    else:
        y = (X * torch.tensor(weights, dtype=X.dtype)).sum(dim=1) + bias + noise
    return Dataset(
        frame=_frame(X.numpy(), y.numpy(), features, spec["target"]),
        features=features,
        target=spec["target"],
        true_weights=weights,
        true_bias=bias,
        seed=int(spec["seed"]),
        generator="torch_uniform",
        spec=dict(spec),
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


def generate_numpy_legacy_uniform(spec: dict[str, Any]) -> Dataset:
    """Lesson 0's generator, reproduced operation for operation.

    With the default spec this is exactly::

        np.random.seed(0)
        X = 2 * np.random.rand(100, 1)
        y = 4 + 3 * X + 0.5 * np.random.randn(100, 1)

    A private ``RandomState(seed)`` draws the same stream as ``np.random.seed(seed)``.
    """
    rng = np.random.RandomState(int(spec["seed"]))
    n = int(spec["n"])
    features = feature_names(spec)
    k = len(features)
    weights = np.asarray(spec["true_weights"], dtype=np.float64)
    bias = float(spec["true_bias"])
    X = float(spec["scale"]) * rng.rand(n, k)
    if k == 1:
        signal = weights[0] * X
    else:
        signal = X @ weights.reshape(k, 1)
    y = bias + signal + float(spec["noise_std"]) * rng.randn(n, 1)
    return Dataset(
        frame=_frame(X, y, features, spec["target"]),
        features=features,
        target=spec["target"],
        true_weights=weights.tolist(),
        true_bias=bias,
        seed=int(spec["seed"]),
        generator="numpy_legacy_uniform",
        spec=dict(spec),
    )


def generate_multiscale_gaussian(spec: dict[str, Any]) -> Dataset:
    """Many features on deliberately different scales, with known weights.

    Feature ``j`` is ``offset_j + scale_j * z`` with ``z ~ N(0, 1)``; the scales are
    ``logspace(log10(lo), log10(hi), k)`` for ``scale_range = [lo, hi]`` and the offsets are
    ``offset_factor * scale_j`` so that features are not centred either. Unless
    ``true_weights`` is given, weights are drawn uniformly from ``weight_range`` and scaled
    by ``1/scale_j`` so that every feature contributes to the target comparably.
    The target is ``X·w + b + noise_std * N(0, 1)``; ``dtype`` is float32 or float64.
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
    bias = float(spec["true_bias"])
    X = offsets + scales * rng.standard_normal((n, k))
    y = X @ weights + bias + float(spec["noise_std"]) * rng.standard_normal(n)
    dtype = np.dtype(spec.get("dtype", "float64"))
    return Dataset(
        frame=_frame(X.astype(dtype, copy=False), y.astype(dtype, copy=False), features, spec["target"]),
        features=features,
        target=spec["target"],
        true_weights=weights.tolist(),
        true_bias=bias,
        seed=int(spec["seed"]),
        generator="multiscale_gaussian",
        spec=dict(spec),
    )


_GENERATORS = {
    "torch_uniform": generate_torch_uniform,
    "numpy_legacy_uniform": generate_numpy_legacy_uniform,
    "multiscale_gaussian": generate_multiscale_gaussian,
}


def generate(spec: dict[str, Any]) -> Dataset:
    """Generate the dataset a (schema-validated) spec describes.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or fewer than 2 rows.
    """
    kind = spec.get("kind")
    if kind not in _GENERATORS:
        raise ValueError(f"unknown dataset kind {kind!r}; allowed: {', '.join(GENERATOR_KINDS)}")
    if int(spec["n"]) < 2:
        raise ValueError(f"n={spec['n']}: a dataset needs at least 2 rows to fit a line")
    return _GENERATORS[kind](spec)


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
