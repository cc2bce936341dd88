"""The gather job: the jobs' tables and facts combined into ``matmul.parquet`` and its sidecar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from descent.config.sections import BenchmarkConfig
from descent.matmul import backends
from descent.matmul.config import LESSON_CLAIM
from descent.matmul.table import COLUMNS, TIMING_COLUMNS, rows_frame


def machine_job(by_backend: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The job whose facts describe the machine: a CPU BLAS backend if any ran, else a naive CPU
    loop, else a CUDA job (registry order within each group); ``{}`` without jobs."""
    order = sorted(backends.BACKENDS, key=lambda b: (backends.get(b).device != "cpu", backends.get(b).naive))
    return next((by_backend[b] for b in order if b in by_backend), {})


def gather(
    frames: Sequence[Any], facts: Sequence[dict[str, Any]], section: BenchmarkConfig | Mapping[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """Combine the jobs' tables (``pandas.DataFrame`` each) and facts into ``(table, sidecar)``.

    The sidecar holds ``benchmark`` (the resolved config section), ``machine`` (summary: CPU
    model, cores, BLAS library and kernel, GPU name, torch and numpy versions, BLAS environment),
    ``peak`` (``cpu`` and ``cuda`` per dtype, with every factor and its source), ``notes``,
    ``jobs`` (each job's full facts by backend), ``columns``, ``timing_columns`` and
    ``lesson_claim`` (the size and seconds Lesson 0 quotes for its loop).
    """
    import pandas as pd

    table = rows_frame(pd.concat(list(frames), ignore_index=True).to_dict("records"))
    by_backend = {f["backend"]: f for f in facts}
    cpu_job = machine_job(by_backend)
    blas = [p for p in cpu_job.get("threadpools", []) if p.get("user_api") == "blas"]
    cuda_jobs = [by_backend[b] for b in backends.CUDA_BACKENDS if b in by_backend]
    cuda_job = cuda_jobs[0] if cuda_jobs else {}
    cuda = cuda_job.get("cuda", {})
    cpu_is_cpu_job = cpu_job.get("backend") in backends.CPU_BACKENDS
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
        "benchmark": BenchmarkConfig.coerce(section).as_dict(),
        "machine": machine_summary,
        "peak": {"cpu": cpu_job.get("peak") if cpu_is_cpu_job else None, "cuda": cuda_job.get("peak") or None},
        "notes": [note for b in backends.BACKENDS if b in by_backend for note in by_backend[b].get("notes", [])],
        "jobs": by_backend,
        "columns": COLUMNS,
        "timing_columns": list(TIMING_COLUMNS),
        "lesson_claim": LESSON_CLAIM,
    }
    return table, sidecar
