"""A table read in parts (row blocks, shards, a data-parallel fit's processes): how its rows are
cut into contiguous parts (:func:`contiguous_part`), and its column means and centred sums of
squares merged exactly as one pass would give them up to rounding (Chan, Golub and LeVeque's
pairwise update).

Light (NumPy only): the dataset jobs, the streamed fits and the map-reduce closed form share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np


def contiguous_part(n: int, parts: int, index: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of part ``index`` of ``n`` rows cut into ``parts`` contiguous parts,
    sizes differing by at most one (the larger first).

    >>> [contiguous_part(10, 3, i) for i in range(3)]
    [(0, 4), (4, 7), (7, 10)]
    """
    base, extra = divmod(n, parts)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)


@dataclass(frozen=True)
class Moments:
    """``count`` rows; per column (features, then the target: ``(k+1,)``) the ``mean`` and the
    centred sum of squares ``m2`` = Σ (x − mean)², all float64."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    def merged(self, other: Moments) -> Moments:
        """The moments of both parts' rows together (this part's rows first)."""
        if self.count == 0:
            return other
        if other.count == 0:
            return self
        total = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / total
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / total
        return Moments(total, mean, m2)

    def std(self) -> np.ndarray:
        """Sample standard deviations (ddof = 1) of the columns ((k+1,))."""
        return np.asarray(np.sqrt(self.m2 / (self.count - 1)))

    def as_dict(self) -> dict[str, Any]:
        """JSON form (floats written with ``repr``: they read back bit for bit)."""
        return {"count": self.count, "mean": [float(v) for v in self.mean], "m2": [float(v) for v in self.m2]}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Moments:
        """The inverse of :meth:`as_dict`."""
        return Moments(
            int(data["count"]), np.asarray(data["mean"], dtype=np.float64), np.asarray(data["m2"], dtype=np.float64)
        )


def block_moments(X: np.ndarray, y: np.ndarray) -> Moments:
    """The moments of one block ``X`` (m, k), ``y`` (m,), in float64."""
    columns = np.empty((X.shape[1] + 1, len(X)))  # (k+1, m) float64: the features, then y; in cache
    columns[:-1] = X.T
    columns[-1] = y
    mean = columns.mean(axis=1) if len(X) else np.zeros(len(columns))
    columns -= mean[:, None]
    return Moments(len(X), mean, np.einsum("ij,ij->i", columns, columns))


def merge_all(parts: Iterable[Moments]) -> Moments | None:
    """The parts merged left to right (a fixed order: the same bits for the same parts); None
    when there is none."""
    total: Moments | None = None
    for part in parts:
        total = part if total is None else total.merged(part)
    return total
