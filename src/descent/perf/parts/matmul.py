"""A registered CPU matmul backend (default NumPy's GEMM, ``--matmul-backend``) at n = 4096 as a
fraction of the estimated peak (``descent.matmul.machine``; ``matmul.json``)."""

from __future__ import annotations

import math
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.matmul import backends
from descent.matmul.machine import cpu_facts, cpu_peak
from descent.perf.part import Flag, Part, Result, log
from descent.timing import time_callable


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    from threadpoolctl import threadpool_limits

    threads, n, repeats, backend = args.threads, args.matmul_n, 3, args.matmul_backend
    spec = backends.get(backend)
    cpu = cpu_facts()
    cores = max(1, min(threads, int(cpu["physical_cores_usable"])))
    out: dict[str, Any] = {"n": n, "threads": threads, "backend": f"{backend} ({spec.description})", "dtypes": {}}
    with threadpool_limits(threads):
        if spec.needs_torch:
            import torch

            torch.set_num_threads(threads)
        for dtype in ("float64", "float32"):
            log(f"matmul {backend} n={n} {dtype}")
            rng = np.random.default_rng(0)
            A = rng.standard_normal((n, n)).astype(dtype)
            B = rng.standard_normal((n, n)).astype(dtype)
            runner = spec.factory(A, B)
            timing = time_callable(runner.fn, warmup=1, repeats=repeats, sync=runner.sync).summary()
            gflops = 2.0 * n**3 / timing["seconds_median"] / 1e9
            peak = cpu_peak(cpu, cores, dtype)
            out["dtypes"][dtype] = {
                "gflops": gflops,
                "gflops_best": 2.0 * n**3 / timing["seconds_min"] / 1e9,
                "peak_gflops": peak["gflops"],
                "peak": peak,
                "fraction_of_peak": gflops / peak["gflops"] if peak["gflops"] else math.nan,
                "timings": timing,
            }
    return out


def rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    return [
        [
            "matmul",
            f"{result['backend'].split()[0]} n={result['n']} {dtype}",
            f"{m['gflops']:.1f} GFLOP/s",
            f"{m['fraction_of_peak']:.0%} of estimated peak {m['peak_gflops']:.1f}",
        ]
        for dtype, m in result["dtypes"].items()
    ]


PART = Part(
    name="matmul",
    position=80,
    description=__doc__ or "",
    run=run,
    rows=rows,
    flags=(
        Flag("--matmul-n", {"type": int, "default": 4096, "help": "matmul size (default 4096)"}),
        Flag(
            "--matmul-backend",
            {
                "default": "numpy",
                # the registry's CPU backends that are not naive loops
                "choices": backends.names(device="cpu", naive=False),
                "help": "registered CPU backend timed for the matmul part (default numpy)",
            },
        ),
    ),
)
