"""The interface every matmul backend implements: a :class:`Backend` entry and its :class:`Runner`.

A backend is declared once, as a frozen :class:`Backend` in its own module, and registered in
:mod:`descent.matmul.backends` (one line). Everything else — the schema's enum (checked by a
test), the rules' CPU/CUDA split, the naive-loop extrapolation, the ``compute_dtype`` column, the
figures' colours and markers, ``bench/run.py`` — reads the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Device = Literal["cpu", "cuda"]


@dataclass(frozen=True)
class Runner:
    """One backend ready to multiply two given operands.

    Attributes
    ----------
    fn:
        Computes the ``(n, n)`` product (in the backend's own type) with no argument.
    to_numpy:
        Converts what ``fn`` returns to a NumPy array of shape ``(n, n)`` (copying from the device
        if needed).
    sync:
        Waits for the device to finish (``None`` for synchronous backends).
    device:
        Where the product is computed ('cpu', 'cuda:0', …).
    threads:
        Threads computing the product (``None``: as configured for the job).
    """

    fn: Callable[[], Any]
    to_numpy: Callable[[Any], np.ndarray]
    sync: Callable[[], None] | None = None
    device: str = "cpu"
    threads: int | None = None


#: Builds a :class:`Runner` from the operands ``A``, ``B`` (NumPy arrays, ``(n, n)``, same dtype);
#: whatever conversion it does (to lists, to a device) happens here, outside the timed region.
RunnerFactory = Callable[[np.ndarray, np.ndarray], Runner]


@dataclass(frozen=True)
class Backend:
    """A matmul backend as the benchmark sees it.

    Attributes
    ----------
    name:
        The ``backend`` value in config, file names and the table (``[a-z0-9_]+``).
    description:
        One sentence: what is timed.
    device:
        ``'cpu'`` (rule ``matmul_benchmark``, every core held) or ``'cuda'`` (rule
        ``matmul_benchmark_cuda``, ``gpu=1``; skipped rows where CUDA is not available).
    needs_torch:
        The job sets torch's threads and matmul precision and records torch's build facts.
    naive:
        A Python-level loop: measured only up to ``benchmark.naive_max_n`` and within
        ``benchmark.naive_time_budget_s`` per dtype, extrapolated as O(n³) beyond.
    computes_in:
        The dtype the arithmetic really runs in, or ``None`` for the operands' dtype
        (the ``compute_dtype`` column; e.g. a loop over Python floats computes in float64).
    factory:
        The :data:`RunnerFactory`. Heavy imports (torch) happen inside it, never at import time.
    color, marker:
        Matplotlib colour and marker of the backend in the figures.
    lesson:
        Lesson 0's own code: also timed once at ``benchmark.lesson_n`` (the lesson's n = 500),
        and the baseline of the speed-up figure.
    """

    name: str
    description: str
    device: Device
    needs_torch: bool
    naive: bool
    computes_in: str | None
    factory: RunnerFactory
    color: str
    marker: str
    lesson: bool = False

    def compute_dtype(self, dtype: str) -> str:
        """The dtype the product of ``dtype`` operands is computed in."""
        return self.computes_in or dtype
