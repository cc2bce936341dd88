"""The project's one timing harness: warm-up calls, then timed samples, device-agnostic.

Used by the matmul benchmark (:mod:`descent.matmul.measure`), by the measurement helpers of
``make bench`` (:mod:`descent.perf`) and by ``bench/run.py``. :func:`time_callable` times a
zero-argument callable; :class:`Timing` holds the samples (seconds per call) and the last value
returned, and :meth:`Timing.summary` gives the plain dict written to JSON files.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Timing:
    """Timed samples of one callable.

    Attributes
    ----------
    samples:
        Seconds per call of each repeat (a sample's wall time divided by ``loops``), in order.
    loops:
        Calls per timed sample.
    warmup:
        Untimed calls made first.
    value:
        What the last call returned (e.g. the product, for a correctness check).
    """

    samples: tuple[float, ...]
    loops: int
    warmup: int
    value: Any = field(default=None, compare=False, repr=False)

    @property
    def median(self) -> float:
        """Median seconds per call over the samples (mean of the two middle ones for an even count)."""
        return float(statistics.median(self.samples))

    @property
    def min(self) -> float:
        """Fastest sample, seconds per call."""
        return float(min(self.samples))

    @property
    def max(self) -> float:
        """Slowest sample, seconds per call."""
        return float(max(self.samples))

    def summary(self) -> dict[str, Any]:
        """``{"seconds": [each sample], "seconds_min", "seconds_median", "seconds_max", "warmup",
        "repeats", "loops"}`` (JSON-ready; ``seconds`` are per call)."""
        return {
            "seconds": list(self.samples),
            "seconds_min": self.min,
            "seconds_median": self.median,
            "seconds_max": self.max,
            "warmup": self.warmup,
            "repeats": len(self.samples),
            "loops": self.loops,
        }


def time_callable(
    fn: Callable[[], Any],
    *,
    warmup: int = 1,
    repeats: int = 3,
    min_sample_s: float = 0.0,
    sync: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    max_loops: int = 100_000,
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` samples of ``loops`` calls each.

    ``sync`` (e.g. ``torch.cuda.synchronize``) is called after every warm-up call and right
    before starting and right after ending each timed region, so asynchronous devices are timed
    to completion. When ``min_sample_s > 0`` and the last warm-up call was shorter than that (or
    there was no warm-up), ``loops`` is calibrated like :mod:`timeit`'s autorange: untimed-for-the-
    result batches of 1, 2, 4, … calls until one lasts ``min_sample_s``, so tiny calls are timed
    over several; otherwise ``loops = 1``. ``clock`` is read around every warm-up call, every
    calibration batch and every sample.

    Raises
    ------
    ValueError
        When ``repeats < 1``.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats}: need at least one timed sample")
    sync = sync or (lambda: None)
    value: Any = None
    last = math.inf
    for _ in range(warmup):
        sync()
        start = clock()
        value = fn()
        sync()
        last = clock() - start
    loops = 1
    if min_sample_s > 0 and last < min_sample_s:
        while True:
            sync()
            start = clock()
            for _ in range(loops):
                value = fn()
            sync()
            elapsed = clock() - start
            if elapsed >= min_sample_s or loops >= max_loops:
                break
            # Aim a little past the target from the rate seen, at least doubling.
            loops = int(min(max_loops, max(2 * loops, math.ceil(1.2 * loops * min_sample_s / max(elapsed, 1e-9)))))
    samples = []
    for _ in range(repeats):
        sync()
        start = clock()
        for _ in range(loops):
            value = fn()
        sync()
        samples.append((clock() - start) / loops)
    return Timing(samples=tuple(samples), loops=loops, warmup=warmup, value=value)
