"""What one Snakemake benchmark job does (:func:`run_matmul_job`): threads, machine facts, peak,
rows (or CUDA-skipped rows) and notes."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from descent.config.sections import BenchmarkConfig
from descent.matmul import backends, machine
from descent.matmul.backends import RunnerFactory
from descent.matmul.machine import cpu_peak
from descent.matmul.measure import SKIPPED_NO_CUDA, benchmark_backend, skipped_rows
from descent.matmul.notes import performance_notes


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def cpu_peaks(cpu: dict[str, Any], threads: int, dtypes: Sequence[str], clock_override: float | None) -> dict[str, Any]:
    """Peak estimate per dtype for a job given ``threads`` (capped at the usable physical cores)."""

    cores = max(1, min(int(threads), int(cpu["physical_cores_usable"])))
    return {dtype: cpu_peak(cpu, cores, dtype, clock_override) for dtype in dtypes}


def run_matmul_job(
    backend: str,
    section: BenchmarkConfig | Mapping[str, Any],
    threads: int,
    log: Any = None,
    factory: RunnerFactory | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Everything one benchmark job does: returns ``(rows, facts)``.

    Sets NumPy's BLAS threads (threadpoolctl) and, for backends that need torch, torch's threads
    to ``threads`` for the whole job, gathers machine facts and the peak estimate, then measures
    ``backend`` (a CUDA backend only if CUDA is available, else skipped rows with status
    ``'skipped: CUDA not available'``). ``factory`` replaces the backend's runner factory (tests).

    Raises
    ------
    ValueError
        For a backend that is not registered.
    """
    from threadpoolctl import threadpool_limits

    section = BenchmarkConfig.coerce(section)
    spec = backends.get(backend)
    threads = int(threads)
    cpu = machine.cpu_facts()
    facts: dict[str, Any] = {
        "backend": backend,
        "threads": threads,
        "cpu": cpu,
        "host": machine.host_facts(),
        "versions": machine.library_versions(),
        "blas_env": machine.blas_env(),
        "load_average_before": _load(),
    }
    with threadpool_limits(limits=threads, user_api="blas"):
        if spec.needs_torch:
            import torch  # before the pool facts, so that they list torch's OpenMP pool at these threads

            torch.set_num_threads(threads)
        pools = machine.threadpool_facts()
        facts["threadpools"] = pools
        bits, name = machine.blas_kernel_bits(pools)
        peaks = cpu_peaks(cpu, threads, section.dtypes, section.cpu_clock_ghz)
        isa_bits, _ = machine.vector_bits(cpu["simd_flags"])
        _, datapath_bits, _ = machine.fma_units(cpu)
        hardware_bits = min(isa_bits, datapath_bits or isa_bits) if isa_bits else None  # full-rate FMA width
        facts["blas_kernel"] = {
            "name": name,
            "bits": bits,
            "hardware_bits": hardware_bits,
            "ceiling_fraction": min(1.0, bits / hardware_bits) if bits and hardware_bits else None,
        }
        if spec.needs_torch:
            torch.set_float32_matmul_precision("highest")  # no TF32 / bf16 shortcuts: real float32
            facts["torch"] = machine.torch_cpu_facts()
        if spec.device == "cuda":
            import torch

            torch.backends.cuda.matmul.allow_tf32 = False
            facts["cuda"] = machine.cuda_facts()
            if not facts["cuda"]["cuda_available"]:
                if log is not None:
                    log.warning("%s: %s (%s)", backend, SKIPPED_NO_CUDA, facts["cuda"]["reason"])
                facts["peak"] = {}
                rows = skipped_rows(backend, section, threads)
                facts["notes"] = performance_notes(rows, facts)
                return rows, facts
            gpu = facts["cuda"]["gpu_name"]
            facts["peak"] = {}
            for dtype in section.dtypes:
                gflops, source = machine.gpu_peak(gpu, dtype)
                facts["peak"][dtype] = {"gflops": gflops, "source": source, "device": gpu}
            peak_gflops = {d: p["gflops"] for d, p in facts["peak"].items()}
        else:
            facts["peak"] = peaks
            peak_gflops = {d: p["gflops"] for d, p in peaks.items()}
        started = time.perf_counter()
        rows = benchmark_backend(backend, section, threads=threads, peak_gflops=peak_gflops, factory=factory, log=log)
        facts["seconds_total"] = time.perf_counter() - started
        timed = [r for r in rows if "wall_seconds" in r]
        if spec.device == "cpu" and timed:
            # CPU time the timed regions got, over what their threads could have used (1.0 = uncontended).
            facts["cpu_utilisation"] = sum(r["cpu_seconds"] for r in timed) / sum(
                r["wall_seconds"] * r["threads"] for r in timed
            )
    facts["load_average_after"] = _load()
    facts["notes"] = performance_notes(rows, facts)
    if spec.device == "cuda" and any(p["gflops"] is None for p in facts["peak"].values()):
        facts["notes"].append(
            f"{backend}: no datasheet peak for {facts['cuda']['gpu_name']!r}; peak_gflops and fraction_of_peak are null"
        )
    return rows, facts
