"""Plain-language notes on one benchmark job's rows and facts (the sidecar's ``notes``)."""

from __future__ import annotations

import math
from typing import Any

from descent.matmul import backends
from descent.matmul.config import LESSON_CLAIM


def _peak_notes(backend: str, measured: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """How close to peak the largest measured size came, and a clock the rate proves too low."""
    notes: list[str] = []
    spec = backends.get(backend)
    peak = facts.get("peak", {})
    for dtype in sorted({r["dtype"] for r in measured}):
        largest = max((r for r in measured if r["dtype"] == dtype), key=lambda r: r["n"])
        frac = largest["fraction_of_peak"]
        if spec.naive or not math.isfinite(largest["gflops"]):
            continue
        text = f"{backend} {dtype} at n={largest['n']}: {largest['gflops']:.1f} GFLOP/s" + (
            f" = {frac:.0%} of the estimated peak {largest['peak_gflops']:.1f}"
            if math.isfinite(frac)
            else " (peak unknown)"
        )
        ceiling = facts.get("blas_kernel", {}).get("ceiling_fraction") if backend == "numpy" else None
        ceiling = ceiling if ceiling is not None and ceiling < 1 else 1.0
        if ceiling < 1 and math.isfinite(frac):
            text += (
                f"; its BLAS kernel can use at most {ceiling:.0%} of the peak, so this is "
                f"{frac / ceiling:.0%} of the kernel's own ceiling at the assumed clock"
            )
        notes.append(text)
        p = peak.get(dtype, {})
        if math.isfinite(frac) and frac > ceiling and spec.device == "cpu" and p.get("flops_per_cycle_per_core"):
            implied = largest["gflops"] / (p["cores"] * p["flops_per_cycle_per_core"] * ceiling)
            notes.append(
                f"{backend} {dtype} runs faster than its estimated ceiling: the clock assumed ({p['clock_ghz']:.2f} GHz, "
                f"{p['clock_source']}) is below the clock the cores ran at, which must be at least {implied:.2f} GHz; "
                "the peak and fraction_of_peak are therefore over- and under-estimates respectively only up to that "
                "clock error (set benchmark.cpu_clock_ghz to the CPU's all-core boost clock for a sound peak)"
            )
    return notes


def _blas_notes(backend: str, facts: dict[str, Any]) -> list[str]:
    """Why NumPy's or torch's BLAS stays below the peak: kernel width, environment, MKL code path."""
    notes: list[str] = []
    if backend == "numpy":
        kernel = facts.get("blas_kernel", {})
        if kernel.get("ceiling_fraction") is not None and kernel["ceiling_fraction"] < 1:
            env = facts.get("blas_env", {})
            cause = (
                f" because OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} is set in the environment"
                if "OPENBLAS_CORETYPE" in env
                else ""
            )
            notes.append(
                f"numpy: OpenBLAS runs its '{kernel['name']}' GEMM kernel ({kernel['bits']}-bit vectors){cause}, "
                f"while this CPU executes {kernel['hardware_bits']}-bit FMAs at full rate: NumPy is capped at "
                f"{kernel['ceiling_fraction']:.0%} of the peak by its BLAS kernel, not by threads"
            )
        if "OPENBLAS_L2_SIZE" in facts.get("blas_env", {}):
            notes.append(
                f"numpy: OPENBLAS_L2_SIZE={facts['blas_env']['OPENBLAS_L2_SIZE']} is set in the environment "
                "(overrides the L2 cache size OpenBLAS detects; recorded, not changed)"
            )
    if backend == "torch_cpu" and facts.get("torch", {}).get("mkl_code_path"):
        notes.append(f"torch_cpu: GEMM by oneMKL, which reports: {facts['torch']['mkl_code_path']}")
    return notes


def _load_notes(backend: str, measured: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """Competing processes (load average, CPU share of the timed threads) and thread count."""
    notes: list[str] = []
    load = facts.get("load_average_before")
    if load and load[0] >= 1.0:
        notes.append(
            f"{backend}: the 1-minute load average was {load[0]:.2f} when the job started "
            f"({facts.get('cpu', {}).get('usable_cpus')} CPUs): other processes were running"
        )
    utilisation = facts.get("cpu_utilisation")
    if utilisation is not None and utilisation < 0.85:
        notes.append(
            f"{backend}: its threads got {utilisation:.0%} of the CPU time they could have used while timing "
            "(process CPU time / (wall time x threads)): other processes competed for the cores, so these "
            "timings understate what the machine can do"
        )
    spec = backends.get(backend)
    used = {r["threads"] for r in measured}
    usable = facts.get("cpu", {}).get("usable_cpus") or 0
    if spec.device == "cpu" and spec.naive and used and max(used) < usable:
        notes.append(
            f"{backend}: a Python loop on one thread, timed on one core while other jobs ran on the other "
            f"{usable - max(used)} (the rule's threads: 1); NumPy and torch were timed holding every core, "
            "nothing beside them"
        )
    if (
        spec.device == "cpu"
        and not spec.naive
        and used
        and max(used) < facts.get("cpu", {}).get("physical_cores_usable", 0)
    ):
        notes.append(
            f"{backend}: ran with {max(used)} thread(s) on a machine with "
            f"{facts['cpu']['physical_cores_usable']} usable cores (the rule's threads)"
        )
    return notes


def _lesson_notes(backend: str, measured: list[dict[str, Any]]) -> list[str]:
    """A naive loop's time at the lesson's n = 500 (measured, or O(n³) from its largest measured
    size) against the lesson's "no more than 2 minutes", and the dtype it computed in."""
    notes: list[str] = []
    spec = backends.get(backend)
    for dtype in sorted({r["dtype"] for r in measured}):
        largest = max((r for r in measured if r["dtype"] == dtype), key=lambda r: r["n"])
        at_claim = largest["seconds_median"] * (LESSON_CLAIM["n"] / largest["n"]) ** 3
        how = "measured" if largest["n"] == LESSON_CLAIM["n"] else f"extrapolated as O(n^3) from n={largest['n']}"
        computes = spec.compute_dtype(dtype)
        dtype_text = "" if computes == dtype else f" (computed in {computes})"
        notes.append(
            f"{backend} {dtype}{dtype_text}: n={LESSON_CLAIM['n']:.0f} takes {at_claim:.1f} s ({how}); Lesson 0 claims "
            f"no more than {LESSON_CLAIM['seconds']:.0f} s"
        )
    return notes


def performance_notes(rows: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """Plain-language notes on a job's rows: how close to peak the largest size came and why not
    closer (BLAS kernel width, thread count, clock estimate), the lesson's n=500 claim, skips."""
    measured = [r for r in rows if r["status"] == "ok"]
    backend = str(rows[0]["backend"] if rows else facts.get("backend"))
    if rows and all(r["status"].startswith("skipped") for r in rows):
        reason = facts.get("cuda", {}).get("reason")
        return [f"{backend}: {rows[0]['status']}" + (f" ({reason})" if reason else "")]
    notes = _peak_notes(backend, measured, facts) + _blas_notes(backend, facts) + _load_notes(backend, measured, facts)
    if backends.get(backend).naive:
        notes += _lesson_notes(backend, measured)
    return notes
