"""Measuring one backend: every configured size and dtype as table rows.

* :func:`measure` — time one product with :func:`descent.timing.time_callable` and check it;
* :func:`extrapolate` — an O(n³) row from a measured one (naive loops beyond their limits);
* :func:`skipped_rows` — rows for a backend that could not run (CUDA not available);
* :func:`benchmark_backend` — the rows of one backend: naive loops measured only up to
  ``naive_max_n`` / ``naive_time_budget_s``; Lesson 0's loop also at ``lesson_n`` once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from descent.config.sections import BenchmarkConfig
from descent.matmul import backends
from descent.matmul.backends import RunnerFactory
from descent.matmul.config import lesson_dtype
from descent.matmul.products import check_product, random_operands, reference_product, tolerance
from descent.matmul.table import with_throughput
from descent.timing import time_callable

SKIPPED_NO_CUDA = "skipped: CUDA not available"


def measure(
    n: int,
    dtype: str,
    factory: RunnerFactory,
    *,
    seed: int = 0,
    warmup: int = 1,
    repeats: int = 3,
    min_sample_s: float = 0.0,
    tolerance_factor: float = 1.0,
    label: str = "",
) -> dict[str, Any]:
    """Time one backend at one size and dtype (operands ``(n, n)``) and check its product.

    Returns a row with ``n``, ``dtype``, ``device``, the ``seconds_*`` statistics, ``repeats``,
    ``loops_per_repeat``, ``warmup``, ``threads`` (``None``: the job's), ``max_abs_error``,
    ``tolerance``, ``extrapolated=False`` and ``status='ok'``, plus ``wall_seconds`` and
    ``cpu_seconds`` (process CPU time) of the whole timing, which are not table columns.

    Raises
    ------
    MatmulMismatchError
        When the product is off by more than :func:`~descent.matmul.products.tolerance`.
    """
    A, B = random_operands(n, dtype, seed)
    runner = factory(A, B)
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    timing = time_callable(runner.fn, warmup=warmup, repeats=repeats, min_sample_s=min_sample_s, sync=runner.sync)
    wall, cpu = time.perf_counter() - wall_started, time.process_time() - cpu_started
    product = runner.to_numpy(timing.value)
    tol = tolerance(A, B, tolerance_factor)
    error = check_product(product, reference_product(A, B), tol, label=f"{label} {dtype} n={n}".strip())
    return {
        "device": runner.device,
        "dtype": dtype,
        "n": int(n),
        "seconds_median": timing.median,
        "seconds_min": timing.min,
        "seconds_max": timing.max,
        "repeats": len(timing.samples),
        "loops_per_repeat": timing.loops,
        "warmup": timing.warmup,
        "threads": runner.threads,
        "max_abs_error": error,
        "tolerance": tol,
        "extrapolated": False,
        "status": "ok",
        "wall_seconds": wall,
        "cpu_seconds": cpu,
    }


def extrapolate(row: dict[str, Any], n: int) -> dict[str, Any]:
    """An O(n³) extrapolation of a measured ``row`` to size ``n`` (times scaled by ``(n/m)³``)."""
    scale = (n / row["n"]) ** 3
    measured_only = ("wall_seconds", "cpu_seconds")
    return {
        **{k: v for k, v in row.items() if k not in measured_only},
        "n": int(n),
        "seconds_median": row["seconds_median"] * scale,
        "seconds_min": row["seconds_min"] * scale,
        "seconds_max": row["seconds_max"] * scale,
        "repeats": 0,
        "loops_per_repeat": 0,
        "warmup": 0,
        "max_abs_error": math.nan,
        "tolerance": math.nan,
        "extrapolated": True,
        "status": f"extrapolated: O(n^3) from n={row['n']}",
    }


def skipped_rows(
    backend: str,
    section: BenchmarkConfig | Mapping[str, Any],
    threads: int,
    status: str = SKIPPED_NO_CUDA,
    device: str = "cuda",
) -> list[dict[str, Any]]:
    """Rows for a backend that could not run: every size and dtype, NaN timings, ``status``."""
    section = BenchmarkConfig.coerce(section)
    spec = backends.get(backend)
    rows = []
    for dtype in section.dtypes:
        for n in sorted(int(v) for v in section.sizes):
            rows.append(
                with_throughput(
                    {
                        "backend": backend,
                        "device": device,
                        "dtype": dtype,
                        "compute_dtype": spec.compute_dtype(dtype),
                        "n": n,
                        "seconds_median": math.nan,
                        "seconds_min": math.nan,
                        "seconds_max": math.nan,
                        "repeats": 0,
                        "loops_per_repeat": 0,
                        "warmup": 0,
                        "threads": threads,
                        "max_abs_error": math.nan,
                        "tolerance": math.nan,
                        "extrapolated": False,
                        "status": status,
                    },
                    None,
                )
            )
    return rows


def lesson_point(section: BenchmarkConfig | Mapping[str, Any], backend: str) -> int | None:
    """The extra size Lesson 0's loop is timed at (``lesson_n``), or ``None``: not the lesson's
    loop, ``lesson_n`` null, or already one of ``sizes``."""
    section = BenchmarkConfig.coerce(section)
    n = section.lesson_n
    if not backends.get(backend).lesson or n is None or int(n) in {int(v) for v in section.sizes}:
        return None
    return int(n)


def benchmark_backend(
    backend: str,
    section: BenchmarkConfig | Mapping[str, Any],
    *,
    threads: int,
    peak_gflops: dict[str, float | None],
    factory: RunnerFactory | None = None,
    log: Any = None,
) -> list[dict[str, Any]]:
    """Rows of one backend for every configured dtype and size (ascending).

    A naive backend measures a size only if it is at most ``naive_max_n`` and its predicted cost
    (the previous measured size's time scaled by O(n³), times the warm-up and timed calls) fits
    in what is left of ``naive_time_budget_s`` for the dtype; the smallest size is always
    measured. Larger sizes are extrapolated from the largest measured one. Lesson 0's loop
    (``lesson=True``) also gets a row at ``lesson_n`` (:func:`lesson_point`): in the lesson's
    dtype (:func:`~descent.matmul.config.lesson_dtype`) it is timed once, with no warm-up, as the
    lesson does, when its predicted time fits in ``lesson_time_budget_s``; otherwise, and in
    other dtypes, it is extrapolated. ``factory`` defaults to the backend's own (tests pass
    others, e.g. torch on the CPU for CUDA).
    """
    section = BenchmarkConfig.coerce(section)
    spec = backends.get(backend)
    factory = factory or spec.factory
    sizes = sorted(int(v) for v in section.sizes)
    lesson_n = lesson_point(section, backend)
    options: dict[str, Any] = dict(
        seed=int(section.seed),
        warmup=int(section.warmup),
        repeats=int(section.repeats),
        min_sample_s=float(section.min_sample_s),
        tolerance_factor=float(section.tolerance_factor),
        label=backend,
    )
    calls = max(options["warmup"], 1) + options["repeats"]
    rows: list[dict[str, Any]] = []
    for dtype in section.dtypes:
        spent, last = 0.0, None
        base = {"backend": backend, "compute_dtype": spec.compute_dtype(dtype)}
        for n in sorted(sizes + ([lesson_n] if lesson_n is not None else [])):
            how = options
            if spec.naive and last is not None:
                scale = (n / last["n"]) ** 3 * last["seconds_median"]
                if n == lesson_n:
                    measured_here = dtype == lesson_dtype(section.dtypes) and scale <= float(
                        section.lesson_time_budget_s
                    )
                    how = {**options, "warmup": 0, "repeats": 1, "min_sample_s": 0.0}
                else:
                    budget_left = float(section.naive_time_budget_s) - spent
                    measured_here = n <= int(section.naive_max_n) and scale * calls <= budget_left
                if not measured_here:
                    rows.append(with_throughput({**base, **extrapolate(last, n)}, peak_gflops[dtype]))
                    continue
            started = time.perf_counter()
            row = measure(n, dtype, factory, **how)
            if n != lesson_n:
                spent += time.perf_counter() - started
            row = {**base, **row, "threads": row["threads"] or threads}
            if log is not None:
                log.info(
                    "%s %s n=%d: median %.4g s (%d x %d), max_abs_error %.3g <= %.3g",
                    backend,
                    dtype,
                    n,
                    row["seconds_median"],
                    row["repeats"],
                    row["loops_per_repeat"],
                    row["max_abs_error"],
                    row["tolerance"],
                )
            rows.append(with_throughput(row, peak_gflops[dtype]))
            last = row
    return rows
