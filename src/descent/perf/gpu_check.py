"""``make gpu-check``: every CUDA path of descent in one short run, checked against the CPU.

* the matmul benchmark's CUDA backend (``torch_cuda``) at a few sizes, float32 and float64: its
  product checked against the float64 reference, GFLOP/s and the fraction of the GPU's datasheet
  peak (:func:`descent.matmul.machine.gpu_peak`);
* the CUDA fit variants (the iterative methods that run on CUDA, and ``lstsq`` with the torch
  solver) on a few sizes of a random regression: seconds per iteration on CUDA and on the CPU,
  and how far the CUDA parameters lie from the CPU run's (iterative) or from the certified
  float64 solution (closed form).

``device`` is a parameter so the same code runs (small) on the CPU in the tests; without CUDA the
command says so and does nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from descent.fitting.problems import equilibrated_error, random_regression
from descent.fitting.records import fit
from descent.fitting.registry import get_method
from descent.matmul.backends.torch_matmul import torch_runner
from descent.matmul.machine import gpu_peak
from descent.matmul.measure import measure

#: What ``make gpu-check`` runs by default (about two minutes on one recent GPU and its host).
MATMUL_SIZES: tuple[int, ...] = (2048, 4096, 8192)
FIT_SIZES: tuple[int, ...] = (1_000_000, 10_000_000)
FIT_FEATURES = 10
FIT_ITERATIONS = 50
ITERATIVE = ("manual_gd", "autograd", "nn_linear")


def cuda_status() -> tuple[bool, str]:
    """Whether torch sees a CUDA device, and a sentence saying which (or why not)."""
    import torch

    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return False, f"CUDA not available (torch {torch.__version__}, {build}): nothing to check"
    return True, f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"


def matmul_rows(
    device: str, sizes: Sequence[int], dtypes: Sequence[str] = ("float32", "float64")
) -> list[dict[str, Any]]:
    """``torch.matmul`` on ``device`` (no TF32) per size and dtype: checked product, seconds,
    GFLOP/s and, on CUDA, the fraction of the datasheet peak."""
    import torch

    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    name = torch.cuda.get_device_name() if device == "cuda" else None
    rows = []
    for dtype in dtypes:
        peak, source = gpu_peak(name, dtype) if name else (None, "")
        for n in sizes:
            row = measure(n, dtype, lambda A, B: torch_runner(A, B, device), repeats=5, min_sample_s=0.05)
            gflops = 2.0 * n**3 / row["seconds_median"] / 1e9
            rows.append(
                {
                    "part": "matmul",
                    "what": f"torch.matmul {dtype}",
                    "n": n,
                    "seconds": row["seconds_median"],
                    "gflops": gflops,
                    "peak_fraction": gflops / peak if peak else None,
                    "peak_source": source,
                    "error": row["max_abs_error"],
                    "tolerance": row["tolerance"],
                }
            )
    return rows


def _settings(method: str, device: str, **changes: Any) -> Any:
    base = {
        "method": method,
        "lr": 0.1,
        "iterations": FIT_ITERATIONS,
        "batch_size": None,
        "shuffle_seed": 0,
        "loss_reduction": "mean",
        "init": {"kind": "zeros"},
        "tolerance": 1e-12,
        "stop_criterion": "grad_norm",
        "divergence_factor": 1e10,
        "stop_early": False,
        "dtype": "data",
        "device": device,
        "certificate_factor": 100.0,
        "certificate_max_error": 1e-4,
        "stall_window": 0,
        "stall_tolerance": None,
        "schedule": "constant",
        "schedule_t0": 100.0,
        "schedule_power": 1.0,
        "step_every": 10,
        "step_factor": 0.5,
        "averaging": False,
        "processes": 1,
        "fit_intercept": True,
    }
    return get_method(method).settings({**base, **changes})


def fit_rows(
    device: str, sizes: Sequence[int], k: int = FIT_FEATURES, methods: Sequence[str] = ITERATIVE
) -> list[dict[str, Any]]:
    """Each iterative method and ``lstsq`` (torch solver) on ``device`` and on the CPU, standardized
    float32 data of ``n`` rows × ``k``: seconds per iteration on both, and the CUDA result's
    relative distance to the CPU run's (iterative) or its equilibrated error against the certified
    float64 solution (closed form)."""
    rows = []
    for n in sizes:
        X, y = random_regression(n % 1000, n, k, log_scales=(-1.0, 2.0), offset=3.0, noise=1.0, dtype="float32")
        init = ([0.0] * k, 0.0)
        for method in methods:
            results = {}
            for where in (device, "cpu"):
                start = time.perf_counter()
                outcome, w, b = fit(X, y, "standardized", _settings(method, where), init)
                results[where] = (time.perf_counter() - start, outcome, np.append(w, b))
            (_, on_device, theta), (_, on_cpu, reference) = results[device], results["cpu"]
            rows.append(
                {
                    "part": "fit",
                    "what": f"{method} float32 standardized",
                    "n": n,
                    "k": k,
                    "seconds_per_iteration": on_device.seconds / max(on_device.iterations, 1),
                    "cpu_seconds_per_iteration": on_cpu.seconds / max(on_cpu.iterations, 1),
                    "speedup": on_cpu.seconds / on_device.seconds if on_device.seconds > 0 else None,
                    "error": float(np.linalg.norm(theta - reference) / np.linalg.norm(reference)),
                    "error_against": "the same fit on the CPU (relative, original units)",
                    "status": on_device.status,
                }
            )
        certified, w_ref, b_ref = fit(X, y, "raw", _settings("lstsq", "cpu"))
        start = time.perf_counter()
        solved, w, b = fit(X, y, "raw", _settings("lstsq", device, lstsq_solver="torch"))
        seconds = time.perf_counter() - start
        rows.append(
            {
                "part": "fit",
                "what": "lstsq torch.linalg.lstsq float32 raw",
                "n": n,
                "k": k,
                "seconds": seconds,
                "solve_seconds": solved.seconds,
                "cpu_certified_seconds": certified.seconds,
                "error": equilibrated_error(np.append(w, b), np.append(w_ref, b_ref), X),
                "error_against": "the certified float64 solution (equilibrated, relative)",
                "status": solved.status,
            }
        )
    return rows


def summary_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The table printed at the end, one line per row."""

    def number(value: Any, fmt: str) -> str:
        width = int(fmt.split(".")[0])
        return "-".rjust(width) if value is None else format(value, fmt)

    lines = [
        f"{'part':7} {'what':40} {'n':>9} {'GFLOP/s':>9} {'of peak':>8} {'s/iter':>9} {'CPU s/iter':>10} {'error':>9}"
    ]
    for row in rows:
        lines.append(
            f"{row['part']:7} {row['what']:40} {row['n']:>9} {number(row.get('gflops'), '9.1f')} "
            f"{number(row.get('peak_fraction'), '8.2f')} {number(row.get('seconds_per_iteration', row.get('seconds')), '9.2e')} "
            f"{number(row.get('cpu_seconds_per_iteration'), '10.2e')} {number(row.get('error'), '9.1e')}"
        )
    return lines
