"""Memory estimates for jobs, shared by the rules (what to request) and the jobs (what to check).

A job that would need more memory than its rule declares fails at once with a message saying
how much it needs and how to get it, instead of being killed by the system half-way.
"""

from __future__ import annotations

#: Interpreter plus numpy/pandas/pyarrow/torch, resident before any data is touched.
BASE_MB = 600
#: Copies of the data a job may hold at once: the parquet table, the float64/stacked feature
#: matrix, a standardized copy, residuals and predictions, and slack.
DATA_COPIES = 6


class InsufficientMemoryError(MemoryError):
    """A job's data needs more memory than its rule's ``mem_mb``."""


def data_bytes(n: int, k: int, itemsize: int) -> int:
    """Bytes of ``n`` rows of ``k`` features plus a target at ``itemsize`` bytes each."""
    return int(n) * (int(k) + 1) * int(itemsize)


def job_mem_mb(n: int, k: int, itemsize: int, attempt: int = 1) -> int:
    """Memory (MB) to request for a job holding one dataset: the base plus a few copies of it,
    doubled on each retry."""
    return int((BASE_MB + DATA_COPIES * data_bytes(n, k, itemsize) / 2**20) * attempt)


def check_memory(n: int, k: int, itemsize: int, mem_mb: int | float | None, what: str) -> None:
    """Raise :class:`InsufficientMemoryError` when ``n × (k+1)`` values need more than ``mem_mb``.

    ``what`` names the job's input (file or dataset) for the message. ``mem_mb=None`` (no
    declared limit) checks nothing.
    """
    if mem_mb is None:
        return
    need = job_mem_mb(n, k, itemsize)
    if need > float(mem_mb):
        size_mb = data_bytes(n, k, itemsize) / 2**20
        raise InsufficientMemoryError(
            f"{what}: {n} rows x {k + 1} columns ({size_mb:.0f} MB at {itemsize} bytes per value) need about "
            f"{need} MB, but the rule declares mem_mb={int(mem_mb)}. Raise it (e.g. "
            f"--set-resources <rule>:mem_mb={need}), or use dtype float32 / fewer rows."
        )
