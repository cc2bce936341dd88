"""The matmul backend registry: every backend the benchmark can time, registered in one place.

Adding a backend is one module declaring a :class:`~descent.matmul.backends.base.Backend` (name,
device, needs torch?, naive?, the dtype it computes in, runner factory, colour/marker) plus one
line in :data:`REGISTRY` below, and its name in ``schemas/benchmark.schema.yaml``'s enum (a test
fails when the two disagree). The rules, the measuring code, the figures and ``bench/run.py``
read the registry. Importing this package is light (NumPy only): the rules import it at parse time.
"""

from __future__ import annotations

from collections.abc import Collection

from descent.matmul.backends.base import Backend, Device, Runner, RunnerFactory
from descent.matmul.backends.blas import NUMPY
from descent.matmul.backends.naive import NAIVE_NUMPY_INDEXING, NAIVE_PYTHON
from descent.matmul.backends.torch_matmul import TORCH_CPU, TORCH_CUDA

#: Every backend, in table order (``matmul.parquet`` is sorted by this order, then dtype, then n).
REGISTRY: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        NAIVE_NUMPY_INDEXING,
        NAIVE_PYTHON,
        NUMPY,
        TORCH_CPU,
        TORCH_CUDA,
    )
}

#: Every backend name, in table order.
BACKENDS: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Backend:
    """The registered backend called ``name``.

    Raises
    ------
    ValueError
        For a name that is not registered (the message lists the registered ones).
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(BACKENDS)}") from None


def names(*, device: Device | None = None, naive: bool | None = None) -> tuple[str, ...]:
    """Registered names, in table order, optionally only those on ``device`` / (not) naive."""
    return tuple(
        b.name
        for b in REGISTRY.values()
        if (device is None or b.device == device) and (naive is None or b.naive == naive)
    )


def runner_factory(name: str) -> RunnerFactory:
    """The runner factory of the backend called ``name``."""
    return get(name).factory


def baseline_backend(available: Collection[str]) -> str | None:
    """The naive loop other backends are compared with: Lesson 0's own loop (``lesson=True``) if it
    is among ``available``, else the first naive backend among them, else ``None``."""
    pool = [b for b in REGISTRY.values() if b.name in available]
    lesson = [b.name for b in pool if b.lesson]
    return lesson[0] if lesson else next((b.name for b in pool if b.naive), None)


CPU_BACKENDS: tuple[str, ...] = names(device="cpu")
CUDA_BACKENDS: tuple[str, ...] = names(device="cuda")
NAIVE_BACKENDS: tuple[str, ...] = names(naive=True)

__all__ = [
    "BACKENDS",
    "CPU_BACKENDS",
    "CUDA_BACKENDS",
    "NAIVE_BACKENDS",
    "REGISTRY",
    "Backend",
    "Device",
    "Runner",
    "RunnerFactory",
    "baseline_backend",
    "get",
    "names",
    "runner_factory",
]
