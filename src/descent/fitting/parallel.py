"""Data-parallel descent on one machine: P processes, each holding a contiguous shard of the rows,
all-reducing the summed loss and gradient every step over ``torch.distributed`` (gloo, a
``file://`` rendezvous: no network set-up).

Each process is ``python -m descent.fitting.parallel`` (a real entry point, as ``torchrun`` and
``srun`` start them): it finds its rank in ``RANK``/``WORLD_SIZE`` (set by this module's launcher
or by ``torchrun``) or ``SLURM_PROCID``/``SLURM_NTASKS`` (``srun``), reads only its rows of the
data (memory-mapped ``.npy``), and runs the shared loop
(:func:`descent.fitting.iterative.fit_iterative` with a
:class:`~descent.fitting.collective.Collective`); so every method whose update takes a gradient or
a closure runs data-parallel without a line of its own, and one that runs its own pass over the
rows (``update="epoch"``) is refused. A rank that fails ends the fit with its rank and reason
named; one that hangs ends it after ``timeout_s``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from descent.fitting.collective import Collective, shard_bounds
from descent.fitting.common import FitError, FitOutcome
from descent.fitting.iterative import data_parallel_problem, fit_iterative
from descent.fitting.registry import get_method, methods, plugin_source, typed_settings, use_plugins
from descent.fitting.settings import FitSettings


def rank_and_size() -> tuple[int, int]:
    """This process's rank and the number of processes, from ``torchrun``'s (or this module's)
    ``RANK``/``WORLD_SIZE``, else ``srun``'s ``SLURM_PROCID``/``SLURM_NTASKS``."""
    for rank, size in (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS")):
        if rank in os.environ and size in os.environ:
            return int(os.environ[rank]), int(os.environ[size])
    raise FitError("not started as one of several processes: RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS unset")


def run_rank(folder: Path, timeout_s: float) -> None:
    """One process of a data-parallel fit prepared in ``folder`` (:func:`fit_data_parallel`):
    join the group, fit its shard, rank 0 writes the outcome; a failure is written for the launcher."""
    import torch.distributed as dist

    rank, size = rank_and_size()

    def record(exc: BaseException) -> None:  # before the group is torn down, so the root cause is first
        (folder / f"rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    try:
        job = json.loads((folder / "job.json").read_text())
        if job["plugins"]:
            use_plugins(job["plugins"])
        settings = typed_settings(job["settings"])
        X, y = np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r")
        start, stop = shard_bounds(len(y), size, rank)
        dist.init_process_group(
            "gloo",
            init_method=f"file://{folder / 'rendezvous'}",
            rank=rank,
            world_size=size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    except BaseException as exc:
        record(exc)
        raise SystemExit(1) from exc
    try:
        collective = Collective(rank, size, len(y))
        w0, b0 = job["init"]
        outcome = fit_iterative(
            np.array(X[start:stop]), np.array(y[start:stop]), settings.method, settings, w0, b0, collective
        )
    except BaseException as exc:
        record(exc)
        raise SystemExit(1) from exc
    finally:
        dist.destroy_process_group()
    if rank == 0:
        (folder / "outcome.pkl").write_bytes(pickle.dumps(outcome))


def fit_data_parallel(
    X: np.ndarray,
    y: np.ndarray,
    settings: FitSettings,
    init: tuple[list[float], float],
    processes: int,
    timeout_s: float = 600.0,
) -> FitOutcome:
    """Full-batch descent of ``X`` (n, k), ``y`` (n,) from ``init`` by ``processes`` local processes,
    rank r holding rows :func:`~descent.fitting.collective.shard_bounds` (n, P, r). Returns rank 0's
    outcome (every rank took the same steps), with ``processes`` and each rank's rows in its
    extras. Raises :class:`FitError` naming the rank and its reason when one fails, or when the fit
    has not ended after ``timeout_s``."""
    n = len(X)
    if processes < 1 or processes > n:
        raise FitError(f"processes: {processes} for {n} rows (each process needs at least one row)")
    data_parallel_problem(get_method(settings.method), settings)
    plugins = [str(source) for name in methods() if (source := plugin_source(name)) is not None]
    with tempfile.TemporaryDirectory(prefix="descent-dp-") as tmp:
        folder = Path(tmp)
        np.save(folder / "X.npy", np.ascontiguousarray(X))
        np.save(folder / "y.npy", np.ascontiguousarray(y))
        job = {"settings": settings.as_dict(), "init": [list(init[0]), float(init[1])], "plugins": plugins}
        (folder / "job.json").write_text(json.dumps(job))
        command = [sys.executable, "-m", "descent.fitting.parallel", str(folder), "--timeout", str(timeout_s)]
        workers = [
            subprocess.Popen(command, env={**os.environ, "RANK": str(rank), "WORLD_SIZE": str(processes)})
            for rank in range(processes)
        ]
        failed = _wait(workers, time.monotonic() + timeout_s)
        for worker in workers:  # the others end on their own once a peer is gone: give them a moment
            try:
                worker.wait(timeout=5 if failed is not None and "timeout" not in failed[1] else 0.1)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if failed is not None:
            rank, detail = root_cause(folder, *failed)
            raise FitError(f"data-parallel fit ({processes} processes): rank {rank} failed: {detail}")
        outcome: FitOutcome = pickle.loads((folder / "outcome.pkl").read_bytes())
    outcome.extra["processes"] = processes
    outcome.extra["rows_per_process"] = [b - a for a, b in (shard_bounds(n, processes, r) for r in range(processes))]
    return outcome


def root_cause(folder: Path, rank: int, reason: str) -> tuple[int, str]:
    """The rank whose error came first (the others then lose their peer in the collective) and its
    message; ``rank`` and ``reason`` when no rank wrote one (killed, or hung)."""
    errors = sorted(folder.glob("rank*.error"), key=lambda p: p.stat().st_mtime_ns)
    if not errors:
        return rank, reason
    first = errors[0]
    return int(first.stem.removeprefix("rank")), first.read_text().splitlines()[0]


def _wait(workers: list[subprocess.Popen[bytes]], deadline: float) -> tuple[int, str] | None:
    """Wait for every worker: None when all succeeded, else the first failure (rank, reason)."""
    while True:
        codes = [worker.poll() for worker in workers]
        for rank, code in enumerate(codes):
            if code not in (None, 0):
                return rank, f"exited with code {code}"
        if all(code == 0 for code in codes):
            return None
        if time.monotonic() > deadline:
            stuck = [rank for rank, code in enumerate(codes) if code is None]
            return stuck[0], "did not finish within the timeout (a hung rank or collective)"
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    """``python -m descent.fitting.parallel FOLDER``: one rank of a prepared data-parallel fit."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    run_rank(args.folder, args.timeout)


if __name__ == "__main__":
    main()
