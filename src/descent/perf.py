"""Measurement helpers of the project's own benchmark (``bench/run.py``, ``make bench``).

Speed and scale, measured in one run so that ratios hold on a noisy machine:

* :func:`stream_bandwidth` — a STREAM-like copy and triad with torch at a given thread count, the
  machine's attainable memory bandwidth that the fits are compared with;
* timings come from the project's one harness, :func:`descent.timing.time_callable`
  (``.summary()``: each call's seconds, min, median, max);
* :func:`iteration_passes` / :func:`iteration_bandwidth` — the bytes of ``X`` one full-batch
  gradient iteration must read (one pass, ``n·k·itemsize``) against what an implementation reads;
* :func:`synthetic_regression` — large seeded data sets generated without big temporaries;
* :func:`gradient_iteration` — seconds per full-batch iteration of one engine of
  :mod:`descent.fitting`;
* :func:`closed_form_errors` — parameter errors of a closed-form solution against a reference;
* :func:`sweep_problems` / :func:`sweep_summary` — the closed-form accuracy sweep: seeded random
  problems for :func:`descent.fitting.problems.random_regression`, and the worst error per path
  and dtype of the fits the benchmark ran on them (:data:`CLOSED_FORM_PATHS`);
* :func:`import_seconds` — the start-up cost of a job (interpreter + imports), by subprocess;
* :func:`benchmark_seconds`, :func:`fit_seconds`, :func:`workflow_overhead` — parsing a finished
  workflow's ``benchmark:`` TSVs and fit JSONs, and the start-up share of its wall time;
* :func:`target` — one target of the issue: the measured ratio, met or missed and by how much.

Timings depend on the machine and its load; every function returns them in fields named
``seconds*``/``*_gbps``/``*_gflops`` (or under ``timings``), apart from the reproducible values.
Heavy libraries (torch) are imported inside the functions that need them.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descent.timing import time_callable

#: Import sets whose start-up cost is measured: what each kind of job imports before working.
IMPORT_PROFILES: dict[str, str] = {
    "python": "pass",
    "numpy": "import numpy",
    "snakemake_script": "import snakemake.script",
    "fit_job": "import descent.fitting.records, descent.io, torch, pandas, pyarrow",
    "sklearn_job": "import descent.fitting.records, descent.io, pandas, pyarrow, sklearn.linear_model",
    "figure_job": "import descent.io, pandas, pyarrow, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot",
    "all": "import numpy, torch, sklearn.linear_model, pandas, pyarrow",
}

#: Passes over ``X`` one full-batch iteration makes, by implementation (see :func:`iteration_passes`).
PASSES: dict[str, int] = {"blocked": 1, "two_products": 2, "autograd": 2}


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


def iteration_passes(method: str, n: int, uses_blocks: bool) -> tuple[str, int]:
    """Which implementation one full-batch iteration of ``method`` runs, and its passes over X.

    ``manual_gd`` reads X once when :func:`descent.fitting.objective.hand_gradients` takes its blocked path
    (``uses_blocks``), else twice (``X·w``, then ``Xᵀr``); ``autograd`` and ``nn_linear`` read it
    twice (forward product, then the backward product for the weight gradient).
    """
    if method == "manual_gd":
        name = "blocked" if uses_blocks else "two_products"
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

    ``X`` (n, k), ``y`` (n,) are shared with torch without copies; the engine (from
    :data:`descent.fitting.registry.METHODS`) starts at ``w = 0, b = 0`` with step 0, so every timed call does the
    same work. Returns the implementation, passes, bytes and bandwidths
    (:func:`iteration_bandwidth`, from the median call) and the timings.
    """
    import torch

    from descent.fitting import objective
    from descent.fitting.registry import get_method

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        n, k = X.shape
        Xt, yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.ascontiguousarray(y))
        factory = get_method(method).engine
        assert factory is not None, f"{method} is not an iterative method"
        engine = factory(torch.zeros(k, dtype=Xt.dtype), torch.zeros((), dtype=Xt.dtype), 0.0, "mean")
        uses_blocks = method == "manual_gd" and n >= objective.BLOCK_MIN_ROWS
        implementation, passes = iteration_passes(method, n, uses_blocks)
        timing = time_callable(lambda: engine.step(Xt, yt), warmup=warmup, repeats=repeats).summary()
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


def closed_form_errors(theta: Sequence[float], reference: Sequence[float]) -> dict[str, float]:
    """Errors of parameters ``θ = (w, b)`` (k+1,) against a reference of the same shape.

    ``max_abs_error = max|θ − θ*|``; ``max_rel_error = max_j |θ_j − θ*_j| / |θ*_j|`` (per
    parameter, so a small weight is held to its own scale); ``norm_rel_error = ‖θ − θ*‖/‖θ*‖``.
    """
    t, r = np.asarray(theta, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if t.shape != r.shape:
        raise ValueError(f"shapes differ: {t.shape} vs {r.shape}")
    diff = np.abs(t - r)
    tiny = np.finfo(np.float64).tiny
    return {
        "max_abs_error": float(diff.max()),
        "max_rel_error": float((diff / np.maximum(np.abs(r), tiny)).max()),
        "norm_rel_error": float(np.linalg.norm(t - r) / max(float(np.linalg.norm(r)), tiny)),
    }


#: Every closed-form path of the accuracy sweep: its name and the settings of its raw fit
#: (merged over the workflow's defaults by the benchmark).
CLOSED_FORM_PATHS: dict[str, dict[str, str]] = {
    "lstsq auto": {"method": "lstsq", "lstsq_solver": "auto"},
    "lstsq normal_equations": {"method": "lstsq", "lstsq_solver": "normal_equations"},
    "lstsq qr": {"method": "lstsq", "lstsq_solver": "qr"},
    "lstsq torch": {"method": "lstsq", "lstsq_solver": "torch"},
    "lstsq torch_lesson": {"method": "lstsq", "lstsq_solver": "torch_lesson"},
    "sklearn": {"method": "sklearn"},
}


#: Column offsets of the sweep's problems, in multiples of the column's scale: up to 100 the
#: equilibrated condition number stays below ~10⁴ (the auto solver's normal equations); 10³ and 10⁴
#: push it past that, onto the QR branch and to where a float64 certificate can no longer hold.
SWEEP_OFFSETS: tuple[float, ...] = (0.0, 1.0, 10.0, 100.0, 1e3, 1e4)


def sweep_problems(
    seed: int,
    count: int,
    large: int,
    offsets: Sequence[float] = SWEEP_OFFSETS,
    max_n: int = 200_000,
    large_n: tuple[int, int] = (500_000, 2_000_000),
    max_k: int = 50,
    large_max_k: int = 10,
    max_elements: int = 4_000_000,
) -> list[dict[str, Any]]:
    """Parameters of ``count + large`` random least-squares problems, the same for the same
    arguments (one ``numpy.random.default_rng(seed)`` draws them all, in order).

    Each is a dict of :func:`descent.fitting.problems.random_regression`'s arguments: ``seed``,
    ``n``, ``k``, ``log_scales`` ``[lo, lo + span]`` (span uniform in 0..7 decades within
    10⁻³..10⁴), ``offset`` (one of ``offsets``, × the scale), ``noise`` (0, 1e-3 or 1) and ``dtype``
    (float32 or float64), plus ``large``. The first ``count`` have ``n`` log-uniform in
    ``2..max_n`` and ``k`` uniform in ``1..max_k``, with ``n·k ≤ max_elements``; the ``large``
    ones have ``n`` log-uniform in ``large_n`` (the first exactly ``large_n[1]``) and ``k`` in
    ``1..large_max_k``.
    """
    rng = np.random.default_rng(int(seed))
    problems = []
    for i in range(int(count) + int(large)):
        is_large = i >= count
        if is_large:
            lo_n, hi_n = large_n
            k = int(rng.integers(1, large_max_k + 1))
            n = int(round(10 ** rng.uniform(math.log10(lo_n), math.log10(hi_n))))
            if i == count:
                n = int(hi_n)
        else:
            k = int(rng.integers(1, max_k + 1))
            n = int(round(10 ** rng.uniform(math.log10(2), math.log10(max_n))))
            n = max(2, min(n, max_elements // k))
        span = float(rng.uniform(0.0, 7.0))
        lo = float(rng.uniform(-3.0, 4.0 - span))
        problems.append(
            {
                "seed": int(rng.integers(0, 2**31)),
                "n": n,
                "k": k,
                "log_scales": [lo, lo + span],
                "offset": float(rng.choice(list(offsets))),
                "noise": float(rng.choice([0.0, 1e-3, 1.0])),
                "dtype": str(rng.choice(["float32", "float64"])),
                "large": is_large,
            }
        )
    return problems


def rounding_allowance(k: int, condition_number: float) -> float:
    """``10·(k+1)·κ²·eps64``: what a certified result may be off beyond twice its bound, the
    float64 rounding of the Gram the certificate is computed from and of the reference (the
    allowance ``tests/test_closed_form.py`` grants)."""
    return 10.0 * (k + 1) * condition_number**2 * float(np.finfo(np.float64).eps)


def error_to_bound(error: float, bound: float) -> float:
    """``error / bound`` (how much of its certificate's forward-error bound a result used; above 1
    the bound did not hold); 0 when both are 0, inf when only the bound is."""
    if bound > 0:
        return error / bound
    return 0.0 if error == 0 else math.inf


def sweep_summary(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per ``path`` and ``dtype`` (in first-seen order) of the sweep's ``results`` (one dict per
    fit: ``problem``, ``path``, ``dtype``, ``status``, and unless the status is ``error``,
    ``error`` (equilibrated, against the float64 reference), ``error_bound``, ``max_error``,
    ``condition_number`` and ``k``):

    ``count``; ``certified`` (status ``closed_form``), ``flagged`` (``inaccurate``) and
    ``errors`` (the fit raised); among certified results the worst ``error`` (``worst_certified_error``
    and its ``worst_certified_problem``), the worst ``error / error_bound``
    (``worst_error_to_bound``, :func:`error_to_bound`, over the results with a positive bound;
    errors at rounding level make it exceed 1), ``zero_bound`` (certified with a bound of exactly 0:
    a normal-equation residual that rounded to zero),
    ``beyond_bound`` (results off by more than twice their bound plus :func:`rounding_allowance`:
    the bound did not hold) and ``certified_above_max_error`` (results certified but off by more
    than their ``max_error``: missed failures); among flagged ones the
    worst error (``worst_flagged_error``), ``flagged_above_max_error`` (real failures caught;
    the rest were flagged because the certificate could not prove them, not because they were
    wrong) and ``flagged_rank_deficient`` (rows with a true ``rank_deficient``). Worst values are
    NaN when there is no such result.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in results:
        groups.setdefault((row["path"], row["dtype"]), []).append(row)
    summary = []
    for (path, dtype), rows in groups.items():
        certified = [r for r in rows if r["status"] == "closed_form"]
        flagged = [r for r in rows if r["status"] == "inaccurate"]
        worst = max(certified, key=lambda r: r["error"], default=None)
        summary.append(
            {
                "path": path,
                "dtype": dtype,
                "count": len(rows),
                "certified": len(certified),
                "flagged": len(flagged),
                "errors": sum(r["status"] == "error" for r in rows),
                "worst_certified_error": worst["error"] if worst else math.nan,
                "worst_certified_problem": worst["problem"] if worst else None,
                "worst_error_to_bound": max(
                    (error_to_bound(r["error"], r["error_bound"]) for r in certified if r["error_bound"] > 0),
                    default=math.nan,
                ),
                "zero_bound": sum(r["error_bound"] == 0 for r in certified),
                "beyond_bound": sum(
                    r["error"] > 2 * r["error_bound"] + rounding_allowance(r["k"], r["condition_number"])
                    for r in certified
                ),
                "certified_above_max_error": sum(r["error"] > r["max_error"] for r in certified),
                "worst_flagged_error": max((r["error"] for r in flagged), default=math.nan),
                "flagged_above_max_error": sum(r["error"] > r["max_error"] for r in flagged),
                "flagged_rank_deficient": sum(bool(r.get("rank_deficient")) for r in flagged),
            }
        )
    return summary


# --------------------------------------------------------------------------------------------
# Start-up and workflow overhead
# --------------------------------------------------------------------------------------------


def import_seconds(
    code: str, repeats: int = 3, python: str = sys.executable, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Wall seconds of ``python -c code`` in a fresh interpreter (start-up + imports), ``repeats``
    times (no warm-up); returns ``code`` and :meth:`descent.timing.Timing.summary` (the samples,
    ``seconds_min``, ``seconds_median``, …). Raises if it fails."""

    def run() -> None:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"python -c {code!r} failed: {proc.stderr.strip()[-500:]}")

    return {"code": code, **time_callable(run, warmup=0, repeats=repeats).summary()}


def read_benchmark_tsv(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Rows of a Snakemake ``benchmark:`` TSV (header ``s h:m:s max_rss …``), numbers as floats
    (``NA`` and non-numbers as NaN, the ``h:m:s`` column dropped)."""
    rows = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            parsed = {}
            for key, value in row.items():
                if key == "h:m:s" or key is None:
                    continue
                try:
                    parsed[key] = float(value)
                except (TypeError, ValueError):
                    parsed[key] = math.nan
            rows.append(parsed)
    return rows


def benchmark_seconds(benchmarks_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Sum of the ``s`` column (wall seconds of each job, as Snakemake measured it) over every
    ``*.tsv`` under ``benchmarks_dir``; also ``jobs`` (files), the per-stage sums (first folder)
    and per-file seconds (relative path → s), sorted."""
    root = Path(benchmarks_dir)
    per_file: dict[str, float] = {}
    for path in sorted(root.rglob("*.tsv")):
        rows = read_benchmark_tsv(path)
        per_file[str(path.relative_to(root))] = float(sum(r.get("s", math.nan) for r in rows))
    stages: dict[str, float] = {}
    for rel, seconds in per_file.items():
        stage = rel.split(os.sep)[0] if os.sep in rel else "."
        stages[stage] = stages.get(stage, 0.0) + seconds
    return {"jobs": len(per_file), "seconds": float(sum(per_file.values())), "by_stage": stages, "by_file": per_file}


def fit_seconds(fits_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Sum of the ``seconds`` field (the fit's own compute, inside the job) of every fit JSON under
    ``fits_dir`` (files with a numeric ``seconds`` and a ``method``), and their count."""
    total, count = 0.0, 0
    for path in sorted(Path(fits_dir).rglob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and "method" in record and isinstance(record.get("seconds"), (int, float)):
            total += float(record["seconds"])
            count += 1
    return {"fits": count, "seconds": total}


def workflow_overhead(
    wall_seconds: float, cores: int, jobs: int, job_seconds: float, startup_seconds: float
) -> dict[str, float]:
    """Where a workflow run's time went.

    ``compute_ratio = job_seconds / (wall_seconds·cores)``: the share of the available core-time
    the jobs used (their ``benchmark:`` seconds, start-up included); ``startup_share =
    jobs·startup_seconds / (wall_seconds·cores)``: the share of core-time spent starting jobs
    (interpreter + imports, one measured start-up per job). Both are ratios of core-seconds.
    """
    core_seconds = wall_seconds * cores
    return {
        "wall_seconds": wall_seconds,
        "cores": cores,
        "jobs": jobs,
        "job_seconds": job_seconds,
        "startup_seconds_per_job": startup_seconds,
        "startup_seconds_total": jobs * startup_seconds,
        "compute_ratio": job_seconds / core_seconds if core_seconds > 0 else math.nan,
        "startup_share": jobs * startup_seconds / core_seconds if core_seconds > 0 else math.nan,
    }


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def target(name: str, value: float, limit: float, kind: str, unit: str = "") -> dict[str, Any]:
    """One target of the issue: ``kind`` is ``'min'`` (value must be ≥ limit) or ``'max'`` (≤).

    ``ratio = value / limit``; ``met`` says whether it holds; ``missed_by`` is how far off it is,
    as a fraction of the limit (0 when met, NaN when the value is not a number).
    """
    if kind not in ("min", "max"):
        raise ValueError(f"kind must be 'min' or 'max', got {kind!r}")
    finite = isinstance(value, (int, float)) and math.isfinite(value)
    met = finite and (value >= limit if kind == "min" else value <= limit)
    if not finite:
        missed = math.nan
    elif met:
        missed = 0.0
    else:
        missed = (limit - value) / limit if kind == "min" else (value - limit) / limit
    return {
        "target": name,
        "value": float(value) if finite else math.nan,
        "limit": float(limit),
        "kind": kind,
        "unit": unit,
        "ratio": float(value) / limit if finite and limit else math.nan,
        "met": bool(met),
        "missed_by": missed,
    }


def format_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain-text table with left-aligned columns (floats to 4 significant digits)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.4g}"
        return str(value)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
    return "\n".join(lines)


def peak_rss_child(code: str, python: str = sys.executable, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter and return the JSON object it prints last: the dict
    ``RESULT`` it defines (if any) plus ``peak_rss_bytes``, the child's own high-water resident
    set (``VmHWM`` of ``/proc/self/status``, read by the child at exit). Not ``ru_maxrss``: Linux
    carries the parent's peak across fork+exec into it, and RUSAGE_CHILDREN mixes every child."""
    wrapped = (
        code
        + "\nimport json as _j\nfrom descent.perf import vm_hwm_bytes as _hwm\n"
        + "print(_j.dumps({**globals().get('RESULT', {}), 'peak_rss_bytes': _hwm(open('/proc/self/status').read())}))\n"
    )
    proc = subprocess.run([python, "-c", wrapped], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def vm_hwm_bytes(status_text: str) -> int:
    """The ``VmHWM`` (peak resident set) of ``/proc/<pid>/status`` text, in bytes."""
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            return int(value) * {"kB": 1024, "mB": 2**20}.get(unit, 1)
    raise ValueError("no VmHWM line")
