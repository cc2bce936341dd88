"""Matmul benchmark: Lesson 0's naive triple loop against NumPy, torch on the CPU and torch on CUDA.

The pieces, each usable and tested on its own:

* :func:`random_operands` — seeded square operands ``A, B`` of shape ``(n, n)`` for a size and dtype;
* runners (:func:`naive_runner`, :func:`numpy_runner`, :func:`torch_runner`) — a zero-argument
  function computing ``A @ B`` on one backend, plus how to synchronise the device and how to
  bring the product back as a NumPy array;
* :func:`time_callable` — the device-agnostic timing harness: warm-up calls, then ``repeats``
  timed samples, each ``loops`` calls long (adaptive for tiny sizes, like :mod:`timeit`), with
  the device synchronised before starting and after finishing each timed region;
* :func:`check_product` — every product is compared with a float64 NumPy reference; an error above
  :func:`tolerance` raises :class:`MatmulMismatchError` and fails the job;
* :func:`benchmark_backend` — all configured sizes and dtypes of one backend as table rows; the
  naive loop is measured only up to ``naive_max_n`` / a time budget and extrapolated as O(n³)
  beyond (``extrapolated: True``);
* :func:`run_matmul_job` — what one Snakemake job does: thread settings, machine facts, peak
  estimate, rows (or CUDA-skipped rows), notes;
* :func:`gather` and :func:`plot_gflops` / :func:`plot_speedup` — the combined table, sidecar and figures.

Timing-dependent columns (:data:`TIMING_COLUMNS`) differ from run to run; every other column is
reproducible bit for bit for the same configuration on the same machine.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descent.config import ConfigError

BACKENDS: tuple[str, ...] = ("naive_python", "numpy", "torch_cpu", "torch_cuda")
CPU_BACKENDS: tuple[str, ...] = ("naive_python", "numpy", "torch_cpu")
DTYPES: tuple[str, ...] = ("float32", "float64")
SKIPPED_NO_CUDA = "skipped: CUDA not available"
#: The size and time Lesson 0 quotes for the naive loop ("no more than 2 minutes" at n=500).
LESSON_CLAIM = {"n": 500, "seconds": 120.0}

#: Columns of ``results/benchmark/matmul.parquet``, in order, with their meaning (a contract).
COLUMNS: dict[str, str] = {
    "backend": "naive_python | numpy | torch_cpu | torch_cuda",
    "device": "'cpu', or the CUDA device ('cuda:0'; 'cuda' when skipped)",
    "dtype": "float32 | float64 (of the operands; the naive loop computes in Python floats, i.e. float64)",
    "n": "matrix size: A and B are n x n",
    "seconds_median": "median seconds per product over the repeats (NaN when skipped)",
    "seconds_min": "fastest repeat, seconds per product",
    "seconds_max": "slowest repeat, seconds per product",
    "repeats": "timed samples taken (0 when extrapolated or skipped)",
    "loops_per_repeat": "products per timed sample (>1 only for tiny, fast sizes; 0 when not measured)",
    "warmup": "untimed warm-up products before timing",
    "gflops": "2 n^3 / seconds_median / 1e9",
    "peak_gflops": "estimated peak of the machine for the dtype (CPU: cores x FMA x lanes x 2 x clock; "
                   "CUDA: datasheet), see the sidecar's 'peak'",
    "fraction_of_peak": "gflops / peak_gflops",
    "threads": "threads computing the product (torch/BLAS threads set from the rule's threads; 1 for the naive loop)",
    "max_abs_error": "max |C - C_ref| against the float64 NumPy reference (NaN when not measured)",
    "tolerance": "the error allowed: tolerance_factor x n x eps(dtype) x max row norm(A) x max column norm(B)",
    "extrapolated": "True when the row is an O(n^3) extrapolation, not a measurement",
    "status": "'ok', 'extrapolated: O(n^3) from n=<m>' or 'skipped: CUDA not available'",
}
#: Columns whose values depend on the timings (everything else is reproducible bit for bit).
TIMING_COLUMNS: tuple[str, ...] = (
    "seconds_median", "seconds_min", "seconds_max", "loops_per_repeat", "gflops", "fraction_of_peak",
)
_INT_COLUMNS = ("n", "repeats", "loops_per_repeat", "warmup", "threads")
_FLOAT_COLUMNS = ("seconds_median", "seconds_min", "seconds_max", "gflops", "peak_gflops", "fraction_of_peak",
                  "max_abs_error", "tolerance")


class MatmulMismatchError(RuntimeError):
    """A backend's product differs from the float64 reference by more than the tolerance."""


# --------------------------------------------------------------------------------------------
# Configuration checks (parse time: no heavy imports)
# --------------------------------------------------------------------------------------------


def benchmark_problems(section: dict[str, Any]) -> list[str]:
    """Cross-field problems of a schema-valid ``benchmark`` section, as ``'benchmark.<field>: …'``."""
    problems: list[str] = []
    sizes = [int(n) for n in section.get("sizes", [])]
    naive_max_n = int(section.get("naive_max_n", 256))
    if "naive_python" in section.get("backends", []) and sizes and min(sizes) > naive_max_n:
        problems.append(
            f"benchmark.naive_max_n: {naive_max_n} is below every size in benchmark.sizes {sorted(sizes)}; "
            "the naive loop would measure nothing to extrapolate from"
        )
    return problems


def check_benchmark_config(config: dict[str, Any]) -> None:
    """Raise :class:`~descent.config.ConfigError` listing the problems of ``config['benchmark']``."""
    problems = benchmark_problems(config.get("benchmark", {}))
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def job_mem_mb(section: dict[str, Any], attempt: int = 1) -> int:
    """Memory (MB) for one benchmark job: interpreter and torch (~700 MB) plus about ten n x n
    float64 matrices at the largest size (operands, product, reference, copies), doubled per retry."""
    n = max(int(v) for v in section["sizes"])
    return int((700 + 10 * n * n * 8 / 2**20) * attempt)


def job_runtime_min(section: dict[str, Any], backend: str) -> int:
    """Minutes to request for one benchmark job: generous (BLAS assumed ≥ 5 GFLOP/s; the naive
    loop bounded by its per-dtype budget and ``naive_max_n``), at least 10."""
    dtypes = len(section["dtypes"])
    calls = int(section["warmup"]) + int(section["repeats"]) + 2  # + calibration + reference
    if backend == "naive_python":
        n = min(int(section["naive_max_n"]), max(int(v) for v in section["sizes"]))
        seconds = dtypes * min(float(section["naive_time_budget_s"]) * 2, calls * 1e-7 * n**3)
    else:
        seconds = dtypes * calls * sum(2 * int(v) ** 3 for v in section["sizes"]) / 5e9
    return max(10, math.ceil(2 * seconds / 60) + 5)


# --------------------------------------------------------------------------------------------
# Operands, products, correctness
# --------------------------------------------------------------------------------------------


def naive_matmul(A: list[list[float]], B: list[list[float]]) -> list[list[float]]:
    """Lesson 0's triple loop: ``C[i][j] += A[i][k] * B[k][j]`` over Python lists.

    ``A`` is ``n x p`` and ``B`` is ``p x m`` (lists of rows); returns ``C``, ``n x m``.

    >>> naive_matmul([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]])
    [[19.0, 22.0], [43.0, 50.0]]
    """
    n, p, m = len(A), len(B), len(B[0]) if B else 0
    C = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            for k in range(p):
                C[i][j] += A[i][k] * B[k][j]
    return C


def random_operands(n: int, dtype: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded operands ``A, B``, each ``(n, n)`` of ``dtype``, uniform in [-1, 1).

    Drawn in float64 from ``default_rng([seed, n])`` then cast, so every backend and both dtypes
    of one size see the same numbers (up to the cast).
    """
    rng = np.random.default_rng([int(seed), int(n)])
    A = rng.uniform(-1.0, 1.0, size=(n, n))
    B = rng.uniform(-1.0, 1.0, size=(n, n))
    return A.astype(dtype), B.astype(dtype)


def reference_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` computed by NumPy in float64 from the (possibly float32) operands; ``(n, m)``."""
    return np.matmul(A.astype(np.float64), B.astype(np.float64))


def tolerance(A: np.ndarray, B: np.ndarray, factor: float = 1.0) -> float:
    """Largest error allowed in ``A @ B`` at ``A``'s dtype.

    The classical bound ``|C - C_ref| <= n u |A||B|`` (``u = eps/2``, for both the tested
    product and the reference), with ``(|A||B|)_ij <= ||a_i|| ||b_j||`` by Cauchy–Schwarz:
    ``factor * n * eps * max_i ||A[i, :]|| * max_j ||B[:, j]||``. ``A`` is ``(n, p)``, ``B`` ``(p, m)``.
    """
    eps = float(np.finfo(A.dtype).eps)
    p = A.shape[1]
    row = float(np.sqrt((A.astype(np.float64) ** 2).sum(axis=1)).max())
    col = float(np.sqrt((B.astype(np.float64) ** 2).sum(axis=0)).max())
    return factor * p * eps * row * col


def max_abs_error(C: np.ndarray, reference: np.ndarray) -> float:
    """``max |C - reference|`` in float64; ``inf`` for a shape mismatch or any non-finite entry."""
    C = np.asarray(C)
    if C.shape != reference.shape:
        return math.inf
    diff = np.abs(C.astype(np.float64) - reference)
    return float(diff.max()) if np.isfinite(diff).all() else math.inf


def check_product(C: np.ndarray, reference: np.ndarray, tol: float, label: str = "product") -> float:
    """Return ``max_abs_error(C, reference)``; raise :class:`MatmulMismatchError` if it exceeds ``tol``."""
    error = max_abs_error(C, reference)
    if not error <= tol:
        raise MatmulMismatchError(
            f"{label}: max_abs_error {error:.3g} exceeds the tolerance {tol:.3g} "
            f"against the float64 NumPy reference (shape {np.shape(C)} vs {reference.shape})"
        )
    return error


# --------------------------------------------------------------------------------------------
# Timing harness (device-agnostic)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Timed samples of one callable.

    Attributes
    ----------
    samples:
        Seconds per call of each repeat (a sample's wall time divided by ``loops``).
    loops:
        Calls per timed sample.
    warmup:
        Untimed calls made first.
    value:
        What the last call returned (the product, for the correctness check).
    """

    samples: tuple[float, ...]
    loops: int
    warmup: int
    value: Any = field(default=None, compare=False, repr=False)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def min(self) -> float:
        return float(min(self.samples))

    @property
    def max(self) -> float:
        return float(max(self.samples))


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
    result batches of 1, 2, 4, … calls until one lasts ``min_sample_s``, so tiny products are timed
    over several calls; otherwise ``loops = 1``.
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


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runner:
    """One backend ready to multiply two given operands.

    Attributes
    ----------
    fn:
        Computes the ``(n, n)`` product (in the backend's own type) with no argument.
    to_numpy:
        Converts what ``fn`` returns to a NumPy array (copying from the device if needed).
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


RunnerFactory = Callable[[np.ndarray, np.ndarray], Runner]


def naive_runner(A: np.ndarray, B: np.ndarray) -> Runner:
    """The lesson's triple loop on Python lists (converted outside the timed region); 1 thread."""
    a, b = A.tolist(), B.tolist()
    return Runner(fn=lambda: naive_matmul(a, b), to_numpy=lambda C: np.array(C, dtype=np.float64), threads=1)


def numpy_runner(A: np.ndarray, B: np.ndarray) -> Runner:
    """``np.matmul`` (NumPy's BLAS GEMM at the operands' dtype)."""
    return Runner(fn=lambda: np.matmul(A, B), to_numpy=np.asarray)


def torch_runner(A: np.ndarray, B: np.ndarray, device: str = "cpu") -> Runner:
    """``torch.matmul`` on ``device``; operands copied there outside the timed region.

    On a CUDA device ``sync`` is ``torch.cuda.synchronize`` (kernels launch asynchronously) and
    the product is copied back to the host for the check; on the CPU there is nothing to wait for.
    """
    import torch

    tA = torch.from_numpy(np.ascontiguousarray(A)).to(device)
    tB = torch.from_numpy(np.ascontiguousarray(B)).to(device)
    dev = tA.device
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else None
    name = f"{dev.type}:{dev.index if dev.index is not None else torch.cuda.current_device()}" \
        if dev.type == "cuda" else str(dev)
    return Runner(fn=lambda: torch.matmul(tA, tB), to_numpy=lambda C: C.detach().cpu().numpy(), sync=sync,
                  device=name)


def runner_factory(backend: str) -> RunnerFactory:
    """The runner factory of a backend name (``torch_cuda`` uses device 'cuda')."""
    if backend == "naive_python":
        return naive_runner
    if backend == "numpy":
        return numpy_runner
    if backend == "torch_cpu":
        return lambda A, B: torch_runner(A, B, "cpu")
    if backend == "torch_cuda":
        return lambda A, B: torch_runner(A, B, "cuda")
    raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def with_throughput(row: dict[str, Any], peak_gflops: float | None) -> dict[str, Any]:
    """``row`` plus ``gflops`` (from ``seconds_median``), ``peak_gflops`` and ``fraction_of_peak``."""
    seconds = row["seconds_median"]
    gflops = 2.0 * row["n"] ** 3 / seconds / 1e9 if seconds and math.isfinite(seconds) else math.nan
    peak = float(peak_gflops) if peak_gflops else math.nan
    return {**row, "gflops": gflops, "peak_gflops": peak,
            "fraction_of_peak": gflops / peak if math.isfinite(peak) else math.nan}


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
    """Time one backend at one size and dtype and check its product.

    Returns a row with ``n``, ``dtype``, ``device``, the ``seconds_*`` statistics, ``repeats``,
    ``loops_per_repeat``, ``warmup``, ``threads`` (``None``: the job's), ``max_abs_error``,
    ``tolerance``, ``extrapolated=False`` and ``status='ok'``, plus ``wall_seconds`` and
    ``cpu_seconds`` (process CPU time) of the whole timing, which are not table columns.

    Raises
    ------
    MatmulMismatchError
        When the product is off by more than :func:`tolerance`.
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
        "device": runner.device, "dtype": dtype, "n": int(n),
        "seconds_median": timing.median, "seconds_min": timing.min, "seconds_max": timing.max,
        "repeats": len(timing.samples), "loops_per_repeat": timing.loops, "warmup": timing.warmup,
        "threads": runner.threads, "max_abs_error": error, "tolerance": tol,
        "extrapolated": False, "status": "ok", "wall_seconds": wall, "cpu_seconds": cpu,
    }


def extrapolate(row: dict[str, Any], n: int) -> dict[str, Any]:
    """An O(n³) extrapolation of a measured ``row`` to size ``n`` (times scaled by ``(n/m)³``)."""
    scale = (n / row["n"]) ** 3
    measured_only = ("wall_seconds", "cpu_seconds")
    return {
        **{k: v for k, v in row.items() if k not in measured_only}, "n": int(n),
        "seconds_median": row["seconds_median"] * scale, "seconds_min": row["seconds_min"] * scale,
        "seconds_max": row["seconds_max"] * scale, "repeats": 0, "loops_per_repeat": 0, "warmup": 0,
        "max_abs_error": math.nan, "tolerance": math.nan, "extrapolated": True,
        "status": f"extrapolated: O(n^3) from n={row['n']}",
    }


def skipped_rows(backend: str, section: dict[str, Any], threads: int, status: str = SKIPPED_NO_CUDA,
                 device: str = "cuda") -> list[dict[str, Any]]:
    """Rows for a backend that could not run: every size and dtype, NaN timings, ``status``."""
    rows = []
    for dtype in section["dtypes"]:
        for n in sorted(int(v) for v in section["sizes"]):
            rows.append(with_throughput({
                "backend": backend, "device": device, "dtype": dtype, "n": n,
                "seconds_median": math.nan, "seconds_min": math.nan, "seconds_max": math.nan,
                "repeats": 0, "loops_per_repeat": 0, "warmup": 0, "threads": threads,
                "max_abs_error": math.nan, "tolerance": math.nan, "extrapolated": False, "status": status,
            }, None))
    return rows


def benchmark_backend(
    backend: str,
    section: dict[str, Any],
    *,
    threads: int,
    peak_gflops: dict[str, float | None],
    factory: RunnerFactory | None = None,
    log: Any = None,
) -> list[dict[str, Any]]:
    """Rows of one backend for every configured dtype and size (ascending).

    The naive loop (``backend == 'naive_python'``) measures a size only if it is at most
    ``naive_max_n`` and its predicted cost (the previous size's time scaled by O(n³), times the
    warm-up and timed calls) fits in what is left of ``naive_time_budget_s`` for the dtype; the
    smallest size is always measured. Larger sizes are extrapolated from the largest measured one.
    ``factory`` defaults to the backend's own (tests pass others, e.g. torch on the CPU for CUDA).
    """
    factory = factory or runner_factory(backend)
    sizes = sorted(int(v) for v in section["sizes"])
    options = dict(seed=int(section["seed"]), warmup=int(section["warmup"]), repeats=int(section["repeats"]),
                   min_sample_s=float(section["min_sample_s"]), tolerance_factor=float(section["tolerance_factor"]),
                   label=backend)
    calls = max(options["warmup"], 1) + options["repeats"]
    rows: list[dict[str, Any]] = []
    for dtype in section["dtypes"]:
        spent, last = 0.0, None
        for n in sizes:
            if backend == "naive_python" and last is not None:
                predicted = last["seconds_median"] * (n / last["n"]) ** 3 * calls
                budget_left = float(section["naive_time_budget_s"]) - spent
                if n > int(section["naive_max_n"]) or predicted > budget_left:
                    rows.append(with_throughput({"backend": backend, **extrapolate(last, n)}, peak_gflops[dtype]))
                    continue
            started = time.perf_counter()
            row = measure(n, dtype, factory, **options)
            spent += time.perf_counter() - started
            row = {"backend": backend, **row, "threads": row["threads"] or threads}
            if log is not None:
                log.info("%s %s n=%d: median %.4g s (%d x %d), max_abs_error %.3g <= %.3g", backend, dtype, n,
                         row["seconds_median"], row["repeats"], row["loops_per_repeat"], row["max_abs_error"],
                         row["tolerance"])
            rows.append(with_throughput(row, peak_gflops[dtype]))
            last = row
    return rows


def rows_frame(rows: Iterable[dict[str, Any]]):
    """The rows as a DataFrame with exactly :data:`COLUMNS`, in order, with fixed dtypes."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for column in _INT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    for column in _FLOAT_COLUMNS:
        frame[column] = frame[column].astype("float64")
    frame["extrapolated"] = frame["extrapolated"].astype(bool)
    for column in ("backend", "device", "dtype", "status"):
        frame[column] = frame[column].astype(str)
    order = {name: i for i, name in enumerate(BACKENDS)}
    frame = frame.sort_values(["backend", "dtype", "n"], key=lambda s: s.map(order) if s.name == "backend" else s,
                              kind="stable")
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# One job
# --------------------------------------------------------------------------------------------


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def cpu_peaks(cpu: dict[str, Any], threads: int, dtypes: Sequence[str], clock_override: float | None) -> dict[str, Any]:
    """Peak estimate per dtype for a job given ``threads`` (capped at the usable physical cores)."""
    from descent.machine import cpu_peak

    cores = max(1, min(int(threads), int(cpu["physical_cores_usable"])))
    return {dtype: cpu_peak(cpu, cores, dtype, clock_override) for dtype in dtypes}


def performance_notes(rows: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """Plain-language notes on a job's rows: how close to peak the largest size came and why not
    closer (BLAS kernel width, thread count, clock estimate), the lesson's n=500 claim, skips."""
    notes: list[str] = []
    measured = [r for r in rows if r["status"] == "ok"]
    backend = rows[0]["backend"] if rows else facts.get("backend")
    if rows and all(r["status"].startswith("skipped") for r in rows):
        reason = facts.get("cuda", {}).get("reason")
        return [f"{backend}: {rows[0]['status']}" + (f" ({reason})" if reason else "")]
    peak = facts.get("peak", {})
    for dtype in sorted({r["dtype"] for r in measured}):
        largest = max((r for r in measured if r["dtype"] == dtype), key=lambda r: r["n"])
        frac = largest["fraction_of_peak"]
        if backend != "naive_python" and math.isfinite(largest["gflops"]):
            text = (f"{backend} {dtype} at n={largest['n']}: {largest['gflops']:.1f} GFLOP/s"
                    + (f" = {frac:.0%} of the estimated peak {largest['peak_gflops']:.1f}" if math.isfinite(frac) else
                       " (peak unknown)"))
            ceiling = facts.get("blas_kernel", {}).get("ceiling_fraction") if backend == "numpy" else None
            ceiling = ceiling if ceiling is not None and ceiling < 1 else 1.0
            if ceiling < 1 and math.isfinite(frac):
                text += (f"; its BLAS kernel can use at most {ceiling:.0%} of the peak, so this is "
                         f"{frac / ceiling:.0%} of the kernel's own ceiling at the assumed clock")
            notes.append(text)
            p = peak.get(dtype, {})
            if math.isfinite(frac) and frac > ceiling and backend in CPU_BACKENDS and p.get("flops_per_cycle_per_core"):
                implied = largest["gflops"] / (p["cores"] * p["flops_per_cycle_per_core"] * ceiling)
                notes.append(
                    f"{backend} {dtype} runs faster than its estimated ceiling: the clock assumed ({p['clock_ghz']:.2f} GHz, "
                    f"{p['clock_source']}) is below the clock the cores ran at, which must be at least {implied:.2f} GHz; "
                    "the peak and fraction_of_peak are therefore over- and under-estimates respectively only up to that "
                    "clock error (set benchmark.cpu_clock_ghz to the CPU's all-core boost clock for a sound peak)")
    if backend == "numpy":
        kernel = facts.get("blas_kernel", {})
        if kernel.get("ceiling_fraction") is not None and kernel["ceiling_fraction"] < 1:
            env = facts.get("blas_env", {})
            cause = (f" because OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} is set in the environment"
                     if "OPENBLAS_CORETYPE" in env else "")
            notes.append(
                f"numpy: OpenBLAS runs its '{kernel['name']}' GEMM kernel ({kernel['bits']}-bit vectors){cause}, "
                f"while this CPU executes {kernel['hardware_bits']}-bit FMAs at full rate: NumPy is capped at "
                f"{kernel['ceiling_fraction']:.0%} of the peak by its BLAS kernel, not by threads")
        if "OPENBLAS_L2_SIZE" in facts.get("blas_env", {}):
            notes.append(f"numpy: OPENBLAS_L2_SIZE={facts['blas_env']['OPENBLAS_L2_SIZE']} is set in the environment "
                         "(overrides the L2 cache size OpenBLAS detects; recorded, not changed)")
    if backend == "torch_cpu" and facts.get("torch", {}).get("mkl_code_path"):
        notes.append(f"torch_cpu: GEMM by oneMKL, which reports: {facts['torch']['mkl_code_path']}")
    load = facts.get("load_average_before")
    if load and load[0] >= 1.0:
        notes.append(f"{backend}: the 1-minute load average was {load[0]:.2f} when the job started "
                     f"({facts.get('cpu', {}).get('usable_cpus')} CPUs): other processes were running")
    utilisation = facts.get("cpu_utilisation")
    if utilisation is not None and utilisation < 0.85:
        notes.append(f"{backend}: its threads got {utilisation:.0%} of the CPU time they could have used while timing "
                     "(process CPU time / (wall time x threads)): other processes competed for the cores, so these "
                     "timings understate what the machine can do")
    used = {r["threads"] for r in measured}
    if backend in ("numpy", "torch_cpu") and used and max(used) < facts.get("cpu", {}).get("physical_cores_usable", 0):
        notes.append(f"{backend}: ran with {max(used)} thread(s) on a machine with "
                     f"{facts['cpu']['physical_cores_usable']} usable cores (the rule's threads)")
    if backend == "naive_python":
        for dtype in sorted({r["dtype"] for r in measured}):
            largest = max((r for r in measured if r["dtype"] == dtype), key=lambda r: r["n"])
            at_claim = largest["seconds_median"] * (LESSON_CLAIM["n"] / largest["n"]) ** 3
            how = "measured" if largest["n"] == LESSON_CLAIM["n"] else f"extrapolated as O(n^3) from n={largest['n']}"
            notes.append(
                f"naive_python {dtype}: n={LESSON_CLAIM['n']} takes {at_claim:.1f} s ({how}); Lesson 0 claims no more "
                f"than {LESSON_CLAIM['seconds']:.0f} s")
    return notes


def run_matmul_job(backend: str, section: dict[str, Any], threads: int, log: Any = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Everything one benchmark job does: returns ``(rows, facts)``.

    Sets NumPy's BLAS threads (threadpoolctl) and torch's threads to ``threads`` for the whole
    job, gathers machine facts and the peak estimate, then measures ``backend`` (``torch_cuda``:
    only if CUDA is available, else skipped rows with status ``'skipped: CUDA not available'``).
    """
    from threadpoolctl import threadpool_limits

    from descent import machine

    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    threads = int(threads)
    cpu = machine.cpu_facts()
    facts: dict[str, Any] = {
        "backend": backend, "threads": threads, "cpu": cpu, "host": machine.host_facts(),
        "versions": machine.library_versions(), "blas_env": machine.blas_env(),
        "load_average_before": _load(),
    }
    with threadpool_limits(limits=threads, user_api="blas"):
        pools = machine.threadpool_facts()
        facts["threadpools"] = pools
        bits, name = machine.blas_kernel_bits(pools)
        peaks = cpu_peaks(cpu, threads, section["dtypes"], section.get("cpu_clock_ghz"))
        isa_bits, _ = machine.vector_bits(cpu["simd_flags"])
        _, datapath_bits, _ = machine.fma_units(cpu)
        hardware_bits = min(isa_bits, datapath_bits or isa_bits) if isa_bits else None  # full-rate FMA width
        facts["blas_kernel"] = {
            "name": name, "bits": bits, "hardware_bits": hardware_bits,
            "ceiling_fraction": min(1.0, bits / hardware_bits) if bits and hardware_bits else None,
        }
        if backend in ("torch_cpu", "torch_cuda"):
            import torch

            torch.set_num_threads(threads)
            torch.set_float32_matmul_precision("highest")  # no TF32 / bf16 shortcuts: real float32
            facts["torch"] = machine.torch_cpu_facts()
        if backend == "torch_cuda":
            import torch

            torch.backends.cuda.matmul.allow_tf32 = False
            facts["cuda"] = machine.cuda_facts()
            if not facts["cuda"]["cuda_available"]:
                if log is not None:
                    log.warning("torch_cuda: %s (%s)", SKIPPED_NO_CUDA, facts["cuda"]["reason"])
                facts["peak"] = {}
                rows = skipped_rows(backend, section, threads)
                facts["notes"] = performance_notes(rows, facts)
                return rows, facts
            gpu = facts["cuda"]["gpu_name"]
            facts["peak"] = {}
            for dtype in section["dtypes"]:
                gflops, source = machine.gpu_peak(gpu, dtype)
                facts["peak"][dtype] = {"gflops": gflops, "source": source, "device": gpu}
            peak_gflops = {d: p["gflops"] for d, p in facts["peak"].items()}
        else:
            facts["peak"] = peaks
            peak_gflops = {d: p["gflops"] for d, p in peaks.items()}
        started = time.perf_counter()
        rows = benchmark_backend(backend, section, threads=threads, peak_gflops=peak_gflops, log=log)
        facts["seconds_total"] = time.perf_counter() - started
        timed = [r for r in rows if "wall_seconds" in r]
        if backend != "torch_cuda" and timed:
            # CPU time the timed regions got, over what their threads could have used (1.0 = uncontended).
            facts["cpu_utilisation"] = (sum(r["cpu_seconds"] for r in timed)
                                        / sum(r["wall_seconds"] * r["threads"] for r in timed))
    facts["load_average_after"] = _load()
    facts["notes"] = performance_notes(rows, facts)
    if backend == "torch_cuda" and any(p["gflops"] is None for p in facts["peak"].values()):
        facts["notes"].append(f"torch_cuda: no datasheet peak for {facts['cuda']['gpu_name']!r}; "
                              "peak_gflops and fraction_of_peak are null")
    return rows, facts


# --------------------------------------------------------------------------------------------
# Gather: table, sidecar, figures
# --------------------------------------------------------------------------------------------


def gather(frames: Sequence[Any], facts: Sequence[dict[str, Any]], section: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Combine the jobs' tables and facts into ``(table, sidecar)``.

    The sidecar holds ``benchmark`` (the resolved config section), ``machine`` (summary: CPU
    model, cores, BLAS library and kernel, GPU name, torch and numpy versions, BLAS environment),
    ``peak`` (``cpu`` and ``cuda`` per dtype, with every factor and its source), ``notes``,
    ``jobs`` (each job's full facts by backend), ``columns`` and ``timing_columns``.
    """
    import pandas as pd

    table = rows_frame(pd.concat(list(frames), ignore_index=True).to_dict("records"))
    by_backend = {f["backend"]: f for f in facts}
    cpu_job = next((by_backend[b] for b in ("numpy", "torch_cpu", "naive_python", "torch_cuda") if b in by_backend), {})
    blas = [p for p in cpu_job.get("threadpools", []) if p.get("user_api") == "blas"]
    cuda = by_backend.get("torch_cuda", {}).get("cuda", {})
    machine_summary = {
        "cpu_model": cpu_job.get("cpu", {}).get("model"),
        "cpu_vendor": cpu_job.get("cpu", {}).get("vendor"),
        "logical_cpus": cpu_job.get("cpu", {}).get("logical_cpus"),
        "physical_cores_usable": cpu_job.get("cpu", {}).get("physical_cores_usable"),
        "simd_flags": cpu_job.get("cpu", {}).get("simd_flags"),
        "blas": blas,
        "blas_kernel": cpu_job.get("blas_kernel"),
        "torch_blas": by_backend.get("torch_cpu", {}).get("torch"),
        "blas_env": cpu_job.get("blas_env"),
        "gpu_name": cuda.get("gpu_name"),
        "cuda_available": cuda.get("cuda_available"),
        "numpy_version": cpu_job.get("versions", {}).get("numpy"),
        "torch_version": cpu_job.get("versions", {}).get("torch"),
        "python_version": cpu_job.get("versions", {}).get("python"),
        "hostnames": sorted({f.get("host", {}).get("hostname") for f in facts if f.get("host")}),
        "threads": {f["backend"]: f["threads"] for f in facts},
    }
    sidecar = {
        "benchmark": section,
        "machine": machine_summary,
        "peak": {"cpu": cpu_job.get("peak") if cpu_job.get("backend") != "torch_cuda" else None,
                 "cuda": by_backend.get("torch_cuda", {}).get("peak") or None},
        "notes": [note for b in BACKENDS if b in by_backend for note in by_backend[b].get("notes", [])],
        "jobs": by_backend,
        "columns": COLUMNS,
        "timing_columns": list(TIMING_COLUMNS),
        "lesson_claim": LESSON_CLAIM,
    }
    return table, sidecar


_STYLE = {"naive_python": ("tab:red", "o"), "numpy": ("tab:blue", "s"), "torch_cpu": ("tab:orange", "^"),
          "torch_cuda": ("tab:green", "D")}


def _axes(dtypes: Sequence[str]):
    from descent.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, len(dtypes), figsize=(5.5 * len(dtypes), 4.3), squeeze=False, sharey=True)
    return plt, fig, axes[0]


def plot_gflops(table: Any, png: str, svg: str) -> None:
    """GFLOP/s against n (log-log), one panel per dtype, one line per backend; extrapolated
    points hollow and dashed, the estimated CPU peak as a dotted line; skipped backends named."""
    dtypes = sorted(table["dtype"].unique())
    plt, fig, axes = _axes(dtypes)
    for ax, dtype in zip(axes, dtypes):
        sub = table[table["dtype"] == dtype]
        for backend in [b for b in BACKENDS if b in set(sub["backend"])]:
            rows = sub[sub["backend"] == backend].sort_values("n")
            color, marker = _STYLE[backend]
            ok = rows[~rows["extrapolated"] & rows["gflops"].notna()]
            ext = rows[rows["extrapolated"]]
            if ok.empty and ext.empty:
                ax.plot([], [], color=color, marker=marker, linestyle="none",
                        label=f"{backend} ({rows['status'].iloc[0]})")
                continue
            ax.plot(ok["n"], ok["gflops"], color=color, marker=marker, label=backend)
            if not ext.empty:
                joined = rows[rows["n"] >= (ok["n"].max() if not ok.empty else 0)]
                ax.plot(joined["n"], joined["gflops"], color=color, marker=marker, linestyle="--",
                        markerfacecolor="none", label=f"{backend} (extrapolated O(n³))")
        cpu_peak = sub[sub["backend"].isin(CPU_BACKENDS)]["peak_gflops"].dropna()
        if not cpu_peak.empty:
            ax.axhline(cpu_peak.max(), color="black", linestyle=":", linewidth=1,
                       label=f"CPU peak estimate {cpu_peak.max():.0f}")
        gpu_peak = sub[sub["backend"] == "torch_cuda"]["peak_gflops"].dropna()
        if not gpu_peak.empty:
            ax.axhline(gpu_peak.max(), color="tab:green", linestyle=":", linewidth=1,
                       label=f"GPU datasheet peak {gpu_peak.max():.0f}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (n x n @ n x n)")
        ax.set_title(dtype)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("GFLOP/s (2n³ / median time)")
    fig.suptitle("Matrix product throughput")
    fig.tight_layout()
    from descent.plotting import save_figure

    save_figure(fig, png, svg)


def speedups(table: Any) -> Any:
    """Speed-up of every backend over the naive loop: ``naive seconds_median / seconds_median`` per
    (dtype, n), with ``naive_extrapolated`` telling whether the naive time was extrapolated."""
    naive = table[table["backend"] == "naive_python"][["dtype", "n", "seconds_median", "extrapolated"]]
    naive = naive.rename(columns={"seconds_median": "naive_seconds", "extrapolated": "naive_extrapolated"})
    merged = table.merge(naive, on=["dtype", "n"], how="inner")
    merged["speedup"] = merged["naive_seconds"] / merged["seconds_median"]
    return merged[["backend", "dtype", "n", "speedup", "naive_extrapolated", "extrapolated", "status"]]


def plot_speedup(table: Any, png: str, svg: str) -> None:
    """Speed-up over the naive loop against n (log-log), one panel per dtype; points where the naive
    time is extrapolated are hollow."""
    data = speedups(table)
    dtypes = sorted(table["dtype"].unique())
    plt, fig, axes = _axes(dtypes)
    for ax, dtype in zip(axes, dtypes):
        sub = data[(data["dtype"] == dtype) & (data["backend"] != "naive_python")]
        for backend in [b for b in BACKENDS if b in set(sub["backend"])]:
            rows = sub[sub["backend"] == backend].sort_values("n")
            color, marker = _STYLE[backend]
            valid = rows[rows["speedup"].notna()]
            if valid.empty:
                ax.plot([], [], color=color, marker=marker, linestyle="none",
                        label=f"{backend} ({rows['status'].iloc[0]})")
                continue
            ax.plot(valid["n"], valid["speedup"], color=color, linestyle="-", label=backend)
            meas = valid[~valid["naive_extrapolated"]]
            ext = valid[valid["naive_extrapolated"]]
            ax.plot(meas["n"], meas["speedup"], color=color, marker=marker, linestyle="none")
            ax.plot(ext["n"], ext["speedup"], color=color, marker=marker, linestyle="none", markerfacecolor="none")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_title(f"{dtype} (hollow: naive time extrapolated)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("speed-up over the naive Python loop (x)")
    fig.suptitle("Speed-up over Lesson 0's triple loop")
    fig.tight_layout()
    from descent.plotting import save_figure

    save_figure(fig, png, svg)
