"""The certified closed form of a sharded dataset as a map-reduce: one job per shard computes its
float64 partial statistics (:func:`shard_partials`: the Gram of ``[X, 1, y]`` and the R factor of
its tall-skinny Householder QR, in the fitted space), and the fit job reduces them in shard order
(:func:`reduce_partials`: the Grams summed, the stacked R factors factored again), then solves,
refines and certifies exactly as from its own passes (``Method.solve_chunks(..., partials=)``).

The same shard layout gives the same bits wherever the jobs run (every reduction has a fixed
order); another layout, or one file, gives the same answer to rounding (the summation order
differs). The standardized scaling standardizes with the dataset's moments, merged from its
shards' in order (:func:`dataset_standardization`), so every map job and the reduce use the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from descent.fitting.closed_form import Chunks, gram_of_chunks, qr_of_chunks
from descent.fitting.common import FitError
from descent.fitting.scaling import Standardization
from descent.fitting.stream import moments_standardization
from descent.moments import Moments, merge_all


@dataclass(frozen=True)
class Partials:
    """Partial statistics of some rows of ``[X, 1, y]`` ((rows, k+2)) in the fitted space:
    ``gram`` ((k+2, k+2)) = AᵀA and ``r`` ((k+2, k+2), upper triangular) with A = Q·R, both
    float64; ``stats``: the standardization applied (None: raw)."""

    rows: int
    gram: np.ndarray
    r: np.ndarray
    stats: Standardization | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (floats written with ``repr``: they read back bit for bit)."""
        stats = None if self.stats is None else self.stats.as_dict()
        return {"rows": self.rows, "gram": self.gram.tolist(), "r": self.r.tolist(), "stats": stats}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Partials:
        """The inverse of :meth:`as_dict`."""
        return Partials(
            int(data["rows"]), np.asarray(data["gram"]), np.asarray(data["r"]), Standardization.from_dict(data["stats"])
        )


def shard_partials(chunks: Callable[[], Chunks], k: int, stats: Standardization | None) -> Partials:
    """The map step: :class:`Partials` of one shard of ``k`` features, read by ``chunks()`` (each
    call a fresh pass; two passes, in memory bounded by a chunk), standardized by ``stats`` when
    given."""
    gram = gram_of_chunks(chunks(), k, stats)
    rows = int(round(gram[-2, -2]))  # the ones column's entry counts the rows
    return Partials(rows, gram, qr_of_chunks(chunks(), k, stats), stats)


def reduce_partials(parts: Sequence[Partials]) -> Partials:
    """The reduce step, in the order given (shard order): the Grams summed, the R factors
    stacked and factored again (a TSQR reduction, on one thread). Refuses parts standardized
    differently, or none."""
    from threadpoolctl import threadpool_limits

    if not parts:
        raise FitError("no partial statistics to reduce")
    first = parts[0]
    for index, part in enumerate(parts):
        if not _same_stats(part.stats, first.stats) or part.gram.shape != first.gram.shape:
            raise FitError(f"partial statistics of shard {index} were computed with another standardization or shape")
    gram = np.zeros_like(first.gram)
    for part in parts:
        gram += part.gram
    with threadpool_limits(1):  # as qr_of_chunks: narrow QRs lose to BLAS threads
        r = np.asarray(np.linalg.qr(np.vstack([part.r for part in parts]), mode="r"))
    full = np.zeros_like(first.r)
    full[: r.shape[0]] = r
    return Partials(sum(part.rows for part in parts), gram, full, first.stats)


def _same_stats(a: Standardization | None, b: Standardization | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(
        np.array_equal(a.x_mean, b.x_mean)
        and np.array_equal(a.x_std, b.x_std)
        and (a.y_mean, a.y_std) == (b.y_mean, b.y_std)
    )


def dataset_standardization(meta: dict[str, Any]) -> Standardization:
    """The standardization of a sharded dataset from its sidecar: its shards' column moments
    merged in shard order (the same bits in every job). Refuses a one-file sidecar."""
    shards = meta.get("shards")
    if not shards:
        raise FitError(f"dataset {meta.get('dataset')!r} is not sharded: its sidecar lists no shards")
    moments = merge_all(Moments.from_dict(shard["moments"]) for shard in shards)
    assert moments is not None
    return moments_standardization(moments, list(meta["features"]))
