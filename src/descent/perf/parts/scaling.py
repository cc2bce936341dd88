"""Beyond one machine, measured on this one: full-batch gradient descent of one dataset by P = 1,
2, … processes (torch.distributed, gloo; as many as the machine has cores), one thread each,
each reading only its rows of the parquet file: time per iteration, the share of it spent in all-reduces, the speed-up
over P = 1 and the relative difference from the one-process parameters; and the
map-reduce closed form (one map step per shard, then the reduce) against the one-file Gram and
QR passes (``scaling.json``)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from argparse import Namespace
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from descent.fitting import stream
from descent.fitting.closed_form import gram_of_chunks, qr_of_chunks
from descent.fitting.iterative import fit_iterative
from descent.fitting.parallel import RankSource, fit_data_parallel_files
from descent.fitting.partials import reduce_partials, shard_partials
from descent.fitting.scaling import standardize
from descent.moments import contiguous_part
from descent.perf.part import Flag, Part, Result, fit_settings, log


def process_counts(cores: int) -> list[int]:
    """1, 2, and the powers of two up to the machine's cores.

    >>> process_counts(2), process_counts(6)
    ([1, 2], [1, 2, 4])
    """
    counts, p = [1], 2
    while p <= max(2, cores):
        counts.append(p)
        p *= 2
    return counts


def _write_shards(path: Path, features: list[str], count: int, rows: int, folder: Path) -> list[str]:
    """The rows of ``path`` cut into ``count`` shard files (contiguous, sizes differing by one)."""
    import pandas as pd

    files = []
    for shard in range(count):
        start, stop = contiguous_part(rows, count, shard)
        X, y = stream.parquet_rows(path, features, "y", start, stop)
        file = folder / f"shard-{shard:05d}.parquet"
        frame = pd.DataFrame(X, columns=features)
        frame["y"] = y
        frame.to_parquet(file, index=False)
        files.append(str(file))
    return files


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    rows, k, iterations = args.scaling_rows, args.features, args.scaling_iterations
    cores = len(os.sched_getaffinity(0))
    counts = process_counts(cores)
    tmp = Path(tempfile.mkdtemp(prefix="descent-bench-scaling-"))
    try:
        path = tmp / "data.parquet"
        log(f"scaling: writing {rows} x {k} float64 to {path}")
        meta = stream.write_synthetic_parquet(path, rows, k, seed=7, dtype="float64", rows_per_group=1 << 16)
        features = list(meta["features"])
        stats = stream.chunk_statistics(stream.parquet_chunks(path, features, "y"), features)[0]
        settings = fit_settings("manual_gd", lr=0.1, iterations=iterations, stall_window=0)
        init = ([0.0] * k, 0.0)
        X, y = standardize(*stream.parquet_rows(path, features, "y", 0, rows), stats)
        log(f"scaling: one process, no collective, one thread ({iterations} iterations)")
        previous = torch.get_num_threads()
        with threadpool_limits(1):
            torch.set_num_threads(1)
            try:
                alone = fit_iterative(X, y, "manual_gd", settings, init[0], init[1])
            finally:
                torch.set_num_threads(previous)
        reference = np.append(alone.weights, alone.bias)
        del X, y
        out: dict[str, Any] = {
            "rows": rows,
            "k": k,
            "dtype": "float64",
            "iterations": iterations,
            "cores": cores,
            "load_average": os.getloadavg()[0],
            "one_process_ms_per_iteration": 1e3 * alone.seconds / alone.iterations,
            "processes": [],
        }
        source = RankSource([str(path)], features, "y", rows, stats)
        for processes in counts:
            log(f"scaling: {processes} process(es), each reading {rows // processes} rows")
            started = time.perf_counter()
            outcome, _ = fit_data_parallel_files(source, settings, init, processes, threads=1)
            wall = time.perf_counter() - started
            theta = np.append(outcome.weights, outcome.bias)
            out["processes"].append(
                {
                    "processes": processes,
                    "ms_per_iteration": 1e3 * outcome.seconds / outcome.iterations,
                    "communication_share": outcome.extra["communication_seconds"] / outcome.seconds,
                    "job_seconds": wall,
                    "rows_per_process": outcome.extra["rows_per_process"],
                    "threads_per_process": 1,
                    "relative_difference": float(np.linalg.norm(theta - reference) / np.linalg.norm(reference)),
                }
            )
        base = out["processes"][0]["ms_per_iteration"]
        for row in out["processes"]:
            row["speedup"] = base / row["ms_per_iteration"]
        out["map_reduce"] = _map_reduce(path, features, rows, max(counts), tmp)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _map_reduce(path: Path, features: list[str], rows: int, shards: int, tmp: Path) -> dict[str, Any]:
    """The closed form's Gram and R factor of one file against ``shards`` map steps and a reduce."""
    k = len(features)
    log("scaling: closed form, one file (Gram and QR passes)")
    start = time.perf_counter()
    gram = gram_of_chunks(stream.parquet_chunks(path, features, "y"), k)
    r = qr_of_chunks(stream.parquet_chunks(path, features, "y"), k)
    one_file = time.perf_counter() - start
    (tmp / "shards").mkdir()
    files = _write_shards(path, features, shards, rows, tmp / "shards")
    log(f"scaling: closed form, {shards} map steps (one per shard) and the reduce")
    maps, parts = [], []
    for file in files:
        start = time.perf_counter()
        parts.append(shard_partials(partial(stream.parquet_chunks, file, features, "y"), k, None))
        maps.append(time.perf_counter() - start)
    start = time.perf_counter()
    reduced = reduce_partials(parts)
    reduce_seconds = time.perf_counter() - start
    return {
        "shards": shards,
        "one_file_seconds": one_file,
        "map_seconds": maps,
        "reduce_seconds": reduce_seconds,
        # the jobs of a cluster run the maps side by side: the wall time is the slowest map's
        "parallel_seconds": max(maps) + reduce_seconds,
        "gram_relative_difference": float(np.max(np.abs(reduced.gram - gram)) / np.max(np.abs(gram))),
        "r_gram_relative_difference": float(np.max(np.abs(reduced.r.T @ reduced.r - r.T @ r)) / np.max(np.abs(gram))),
    }


def rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    what = f"{result['rows']}x{result['k']} float64, {result['iterations']} iterations"
    table = [
        [
            "scaling",
            f"manual_gd, 1 process, 1 thread, no collective ({what})",
            f"{result['one_process_ms_per_iteration']:.2f} ms/iter",
            f"load {result['load_average']:.1f} on {result['cores']} cores",
        ]
    ]
    for row in result["processes"]:
        table.append(
            [
                "scaling",
                f"data-parallel, {row['processes']} process(es)",
                f"{row['ms_per_iteration']:.2f} ms/iter",
                f"speed-up {row['speedup']:.2f}; communication {100 * row['communication_share']:.0f} %; "
                f"{row['threads_per_process']} thread(s) each; |Δθ|/|θ| {row['relative_difference']:.1e}",
            ]
        )
    mr = result["map_reduce"]
    table.append(
        [
            "scaling",
            f"closed form: {mr['shards']} maps + reduce vs one file",
            f"{mr['parallel_seconds']:.2f} s vs {mr['one_file_seconds']:.2f} s",
            f"maps {', '.join(f'{s:.2f}' for s in mr['map_seconds'])} s; reduce {mr['reduce_seconds'] * 1e3:.1f} ms; "
            f"Gram rel. diff {mr['gram_relative_difference']:.1e}",
        ]
    )
    return table


PART = Part(
    name="scaling",
    position=95,
    description=__doc__ or "",
    run=run,
    rows=rows,
    flags=(
        Flag("--scaling-rows", {"type": int, "default": 2_000_000, "help": "rows of the scaling part (default 2e6)"}),
        Flag(
            "--scaling-iterations",
            {"type": int, "default": 30, "help": "iterations per data-parallel fit (default 30)"},
        ),
    ),
)
