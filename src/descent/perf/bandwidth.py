"""Memory bandwidth: STREAM-like copy and triad, the passes over ``X`` a full-batch gradient
iteration needs and makes, large seeded regression data, and one engine's seconds per iteration."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from descent.fitting import objective
from descent.fitting.common import kept_layout
from descent.fitting.iterative import updater
from descent.fitting.registry import get_method
from descent.timing import time_callable

#: Passes over ``X`` one full-batch iteration makes, by implementation (see :func:`iteration_passes`).
PASSES: dict[str, int] = {"fused": 1, "blocked": 1, "two_products": 2, "autograd": 2}


def gbps(n_bytes: float, seconds: float) -> float:
    """``n_bytes / seconds`` in GB/s (1e9 bytes); NaN for a non-positive time."""
    return n_bytes / seconds / 1e9 if seconds > 0 else math.nan


# --------------------------------------------------------------------------------------------
# Memory bandwidth
# --------------------------------------------------------------------------------------------


def stream_bandwidth(
    n_elements: int, threads: int, dtype: str = "float64", warmup: int = 1, repeats: int = 5
) -> dict[str, Any]:
    """STREAM-like copy (``a = b``) and triad (``a = b + q·c``) on 1-D arrays of ``n_elements``.

    Computed with torch at ``threads`` intra-op threads (restored after), as the fits are. Bytes
    counted as STREAM does: copy moves ``2·N·itemsize`` (read b, write a), triad
    ``3·N·itemsize`` (no write-allocate traffic counted). Use arrays far larger than the last-level
    cache. Returns per kernel ``bytes`` and the timings, ``gbps`` (from the fastest call, as STREAM
    reports) and ``gbps_median``, plus ``best_gbps`` (the larger of the two kernels).
    """
    import torch

    tdtype = getattr(torch, dtype)
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        a = torch.zeros(n_elements, dtype=tdtype)
        b = torch.ones(n_elements, dtype=tdtype)
        c = torch.full((n_elements,), 2.0, dtype=tdtype)
        itemsize = a.element_size()
        kernels = {
            "copy": (lambda: a.copy_(b), 2 * n_elements * itemsize),
            "triad": (lambda: torch.add(b, c, alpha=3.0, out=a), 3 * n_elements * itemsize),
        }
        result: dict[str, Any] = {"n_elements": int(n_elements), "dtype": dtype, "threads": int(threads)}
        for name, (fn, n_bytes) in kernels.items():
            timing = time_callable(fn, warmup=warmup, repeats=repeats).summary()
            result[name] = {
                "bytes": n_bytes,
                **timing,
                "gbps": gbps(n_bytes, timing["seconds_min"]),
                "gbps_median": gbps(n_bytes, timing["seconds_median"]),
            }
        if not bool((a == 7.0).all()):  # the triad ran last: 1 + 3·2
            raise RuntimeError("STREAM triad produced a wrong value")
        result["best_gbps"] = max(result["copy"]["gbps"], result["triad"]["gbps"])
        return result
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------
# Fit throughput
# --------------------------------------------------------------------------------------------


def synthetic_regression(
    n: int,
    k: int,
    dtype: str = "float64",
    seed: int = 0,
    scale_range: tuple[float, float] = (1.0, 1.0),
    offset_factor: float = 0.0,
    noise_std: float = 1.0,
    chunk_rows: int = 1 << 18,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Seeded data ``X`` (n, k), ``y`` (n,) in ``dtype`` with known weights ``w`` (k,) and bias.

    Feature ``j`` is ``offset_factor·s_j + s_j·z`` with ``s = logspace(scale_range)`` and
    ``z ~ N(0, 1)``; ``w_j = u_j / s_j`` with ``u ~ U(-2, 2)``, bias 5; ``y = X·w + b + noise``.
    Generated in float64 in ``chunk_rows`` chunks into preallocated arrays, so peak memory is the
    result plus one chunk (not a float64 copy of X). Same arguments, same values, bit for bit.
    """
    rng = np.random.default_rng(int(seed))
    lo, hi = scale_range
    scales = np.logspace(np.log10(lo), np.log10(hi), k)
    weights = rng.uniform(-2.0, 2.0, size=k) / scales
    bias = 5.0
    X = np.empty((n, k), dtype=dtype)
    y = np.empty(n, dtype=dtype)
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        block = scales * (offset_factor + rng.standard_normal((stop - start, k)))
        X[start:stop] = block
        y[start:stop] = block @ weights + bias + noise_std * rng.standard_normal(stop - start)
    return X, y, weights, bias


def iteration_passes(method: str, n: int, uses_blocks: bool, column_major: bool = False) -> tuple[str, int]:
    """Which implementation one full-batch iteration of ``method`` runs, and its passes over X.

    ``manual_gd`` reads X once when :func:`descent.fitting.objective.hand_gradients` takes one of
    its one-pass paths (``uses_blocks``): the fused kernel for a ``column_major`` X (the layout the
    fits load large data in), else the torch blocks; else twice (``X·w``, then ``Xᵀr``);
    ``autograd`` and ``nn_linear`` read it twice (forward product, then the backward product for
    the weight gradient).
    """
    if method == "manual_gd":
        name = ("fused" if column_major else "blocked") if uses_blocks else "two_products"
    elif method in ("autograd", "nn_linear"):
        name = "autograd"
    else:
        raise ValueError(f"not an iterative method: {method}")
    return name, PASSES[name]


def iteration_bandwidth(n: int, k: int, itemsize: int, seconds: float, passes: int) -> dict[str, float]:
    """Bytes of X an iteration must read and the bandwidth it reached.

    ``bytes_x_min = n·k·itemsize`` (one pass: the minimum), ``bytes_x_read = passes·bytes_x_min``
    (what the implementation reads), ``effective_gbps = bytes_x_min / seconds`` (the figure the
    target compares with STREAM) and ``read_gbps = bytes_x_read / seconds``.
    """
    minimum = float(n) * k * itemsize
    return {
        "bytes_x_min": minimum,
        "bytes_x_read": minimum * passes,
        "effective_gbps": gbps(minimum, seconds),
        "read_gbps": gbps(minimum * passes, seconds),
    }


def gradient_iteration(
    method: str, X: np.ndarray, y: np.ndarray, threads: int, warmup: int = 1, repeats: int = 5
) -> dict[str, Any]:
    """Seconds of one full-batch iteration (loss, gradients, update) of ``method``'s engine.

    ``X`` (n, k), ``y`` (n,) are shared with torch without copies (a column-major ``X`` takes the
    fused pass, a row-major one the torch blocks, as in the fit loop); the engine (from
    :func:`descent.fitting.registry.get_method`) starts at ``w = 0, b = 0`` with step 0, so every timed call does the
    same work. Returns the implementation, passes, bytes and bandwidths
    (:func:`iteration_bandwidth`, from the median call) and the timings.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        n, k = X.shape
        # as the fit loop holds it: a column-major X stays so (descent.fitting.common.kept_layout)
        Xt, yt = torch.from_numpy(kept_layout(X, X.dtype)), torch.from_numpy(np.ascontiguousarray(y))
        spec = get_method(method)
        assert spec.engine is not None, f"{method} is not an iterative method"
        defaults = {name: option.default for name, option in spec.options.items()}
        engine = spec.engine(torch.zeros(k, dtype=Xt.dtype), torch.zeros((), dtype=Xt.dtype), 0.0, "mean", defaults, 0)
        uses_blocks = method == "manual_gd" and n >= objective.BLOCK_MIN_ROWS
        implementation, passes = iteration_passes(method, n, uses_blocks, bool(Xt.T.is_contiguous()) and k > 1)
        step = updater(engine, spec)
        timing = time_callable(lambda: step(Xt, yt), warmup=warmup, repeats=repeats).summary()
        return {
            "method": method,
            "n": int(n),
            "k": int(k),
            "dtype": str(X.dtype),
            "threads": int(threads),
            "implementation": implementation,
            "passes_over_x": passes,
            **iteration_bandwidth(n, k, X.itemsize, timing["seconds_median"], passes),
            "effective_gbps_best": gbps(float(n) * k * X.itemsize, timing["seconds_min"]),
            "timings": timing,
        }
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------
# Closed form
# --------------------------------------------------------------------------------------------
