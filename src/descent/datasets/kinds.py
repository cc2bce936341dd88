"""The generator kinds (``torch_uniform``, ``numpy_legacy_uniform``, ``multiscale_gaussian``): each
a pure function of its spec returning a :class:`descent.datasets.recipe.Recipe`, found by
:func:`recipe`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from descent.datasets.recipe import GENERATOR_KINDS, Recipe, RowChunks, row_bounds
from descent.dataspec import feature_names


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
