"""Memory estimates for jobs, shared by the rules (what to request) and the jobs (what to check).

A job that would need more memory than its rule declares fails at once with a message saying
how much it needs and how to get it, instead of being killed by the system half-way. Locally,
the workflow profile declares the machine's memory (:func:`machine_mem_mb`) as Snakemake's
``mem_mb`` resource limit, and a rule whose estimate exceeds it is refused before any job starts
(:func:`declared_mem_mb`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

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


class MemoryLimitError(InsufficientMemoryError):
    """A rule's estimate exceeds the machine's memory limit (Snakemake's ``mem_mb`` resource)."""


#: The ways out named by every memory refusal.
REMEDY = (
    "Ways out: store the data as float32 (half the memory: `dtype: float32` for a generated dataset, "
    "float32 columns in a parquet file for a `kind: file` one), use fewer rows, or run on a node with "
    "more memory (e.g. `--workflow-profile profiles/slurm`). If this machine really has more memory "
    "than detected, pass `--resources mem_mb=N`."
)


def machine_mem_mb() -> int:
    """This machine's memory in MB (MiB, as Snakemake and SLURM count): the physical memory, or
    the control group's limit when lower (a container or a SLURM job). The local profile
    (``profiles/default/config.yaml``) computes the same number for ``resources: mem_mb``."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(limit_file).read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total // 2**20)


def declared_mem_mb(need_mb: int, attempt: int, limit_mb: int | None, rule: str, what: str) -> int:
    """The ``mem_mb`` a rule declares for a job that needs about ``need_mb`` (first attempt):
    doubled on each retry but never above ``limit_mb`` (the machine's, None: no limit).

    Raises :class:`MemoryLimitError` naming the rule, the need (``what`` says what the job
    holds) and the ways out when even the first attempt's need exceeds the limit, so the job is
    refused before it starts instead of swapping or being killed half-way.
    """
    need_mb = int(need_mb)
    if limit_mb is not None and need_mb > int(limit_mb):
        raise MemoryLimitError(
            f"rule {rule}: needs about {need_mb} MB ({what}), more than this machine's memory limit "
            f"mem_mb={int(limit_mb)} (Snakemake's mem_mb resource; the local profile profiles/default "
            f"declares the machine's memory), so it is refused before it starts. {REMEDY}"
        )
    declared = need_mb * max(1, int(attempt))
    return min(declared, int(limit_mb)) if limit_mb is not None else declared


def describe(n: int, k: int, itemsize: int) -> str:
    """``'n rows x k+1 columns, S MB at i bytes per value'``: what a job's data is."""
    return f"{n} rows x {k + 1} columns, {data_bytes(n, k, itemsize) / 2**20:.0f} MB at {itemsize} bytes per value"


def stream_mem_mb(chunk_rows: int, k: int, row_group_bytes: int) -> int:
    """Memory (MB) of a job streaming a table chunk by chunk (a ``kind: file`` dataset): the base,
    a few float64 copies of one chunk of ``chunk_rows`` rows of ``k`` features and the target,
    and one output row group of ``row_group_bytes`` being assembled (twice, while concatenated)."""
    return int(BASE_MB + (4 * data_bytes(chunk_rows, k, 8) + 2 * row_group_bytes) / 2**20)


#: Rows a generator draws at a time (a multiple of 16: see ``descent.datasets.row_bounds``) ...
GENERATE_CHUNK_ROWS = 1 << 16
#: ... fewer for wide data, so that one chunk's float64 ``[X, y]`` stays under this many bytes.
GENERATE_CHUNK_BYTES = 8 << 20


def generation_rows(k: int, itemsize: int, row_group_bytes: int) -> tuple[int, int]:
    """``(chunk_rows, group_rows)`` of a generated dataset of ``k`` features stored at
    ``itemsize`` bytes: rows drawn at a time (a multiple of 16, at most
    :data:`GENERATE_CHUNK_ROWS` and :data:`GENERATE_CHUNK_BYTES` of float64), and rows per
    written row group (a whole number of chunks, about ``row_group_bytes`` of stored values)."""
    width = int(k) + 1
    chunk = max(16, min(GENERATE_CHUNK_ROWS, GENERATE_CHUNK_BYTES // (8 * width)) // 16 * 16)
    group = max(1, int(row_group_bytes) // (width * int(itemsize)) // chunk) * chunk
    return chunk, group


def generate_mem_mb(n: int, k: int, itemsize: int, row_group_bytes: int) -> int:
    """Memory (MB) of a dataset job generating ``n`` rows straight to parquet
    (``descent.datasets.write_generated``): :func:`stream_mem_mb` of one drawn chunk and one row
    group (neither more than ``n`` rows), whatever ``n``."""
    chunk, group = generation_rows(k, itemsize, row_group_bytes)
    return stream_mem_mb(min(chunk, int(n)), k, data_bytes(min(group, int(n)), k, itemsize))


def check_need(need_mb: int, mem_mb: int | float | None, what: str) -> None:
    """Raise :class:`InsufficientMemoryError` when a job needs about ``need_mb`` but its rule
    declares less (``mem_mb``; None: no declared limit, nothing checked). ``what`` says what the
    job holds, for the message."""
    if mem_mb is None or need_mb <= float(mem_mb):
        return
    raise InsufficientMemoryError(
        f"{what} needs about {int(need_mb)} MB, but the rule declares mem_mb={int(mem_mb)}. Raise it (e.g. "
        f"--set-resources <rule>:mem_mb={int(need_mb)})."
    )


def summary_dataset_mb(n: int, k: int, itemsize: int) -> float:
    """Memory (MB, beyond the base) ``fit_summary`` uses for one dataset held in memory: the data
    once at its stored dtype and float64 working copies (the reference's ``[X, 1]`` and
    LAPACK's copy of it, the standardization's)."""
    return (data_bytes(n, k, itemsize) + (DATA_COPIES - 1) * data_bytes(n, k, 8)) / 2**20


def summary_mem_mb(shapes: Iterable[tuple[int, int, int, bool]], stream_rows: int) -> int:
    """Memory (MB) of ``fit_summary``, which holds one dataset at a time (released before the
    next): the base plus the largest of :func:`summary_dataset_mb` over the datasets it loads and
    one chunk's float64 copies (``stream_rows`` rows) for those it streams. ``shapes``:
    ``(n, k, itemsize, streamed)`` per dataset."""
    largest = 0.0
    for n, k, itemsize, streamed in shapes:
        one = (
            stream_mem_mb(min(int(n), stream_rows), k, 0) - BASE_MB if streamed else summary_dataset_mb(n, k, itemsize)
        )
        largest = max(largest, one)
    return int(BASE_MB + largest)
