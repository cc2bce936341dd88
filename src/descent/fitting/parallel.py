"""Data-parallel descent on one machine: P processes, each holding a contiguous shard of the rows,
all-reducing the summed loss and gradient every step over ``torch.distributed`` (gloo, a
``file://`` rendezvous: no network set-up).

Each process is ``python -m descent.fitting.parallel`` (a real entry point, as ``torchrun`` and
``srun`` start them): it finds its rank in ``RANK``/``WORLD_SIZE`` (set by this module's launcher
or by ``torchrun``) or ``SLURM_PROCID``/``SLURM_NTASKS`` (``srun``), reads only its rows of the
data (the row groups of the dataset's parquet files, or shards, that hold them; or a
memory-mapped ``.npy`` of arrays handed over in memory), and runs the shared loop
(:func:`descent.fitting.iterative.fit_iterative` with a
:class:`~descent.fitting.collective.Collective`); so every method whose update takes a gradient or
a closure runs data-parallel without a line of its own, and one that runs its own pass over the
rows (``update="epoch"``) is refused. A rank that fails ends the fit with its rank and reason
named; one that hangs ends it after ``timeout_s``.

Launched as local processes, or, inside a SLURM allocation of P tasks (the fit rule asks for
``tasks`` and names the launcher in its ``mpi`` resource, as Snakemake's SLURM executor expects),
by ``srun``, across nodes: the job folder then lies in the working directory, which the nodes share.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from descent.fitting.closed_form import array_chunks, gram_of_chunks
from descent.fitting.collective import Collective
from descent.fitting.common import FitError, FitOutcome
from descent.fitting.iterative import data_parallel_problem, fit_iterative
from descent.fitting.registry import get_method, methods, plugin_source, typed_settings, use_plugins
from descent.fitting.scaling import Standardization, standardize
from descent.fitting.settings import FitSettings
from descent.fitting.stream import parquet_rows
from descent.moments import contiguous_part


def rank_and_size() -> tuple[int, int]:
    """This process's rank and the number of processes, from ``torchrun``'s (or this module's)
    ``RANK``/``WORLD_SIZE``, else ``srun``'s ``SLURM_PROCID``/``SLURM_NTASKS``."""
    for rank, size in (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS")):
        if rank in os.environ and size in os.environ:
            return int(os.environ[rank]), int(os.environ[size])
    raise FitError("not started as one of several processes: RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS unset")


@dataclass(frozen=True)
class RankSource:
    """Where the ranks of a data-parallel fit read their rows: the dataset's parquet ``files`` (one,
    or its shards in order; ``n`` rows numbered across them), its ``features`` and ``target``,
    standardized by ``stats`` (None: raw) in the data's own dtype, as the fit in one process does."""

    files: list[str]
    features: list[str]
    target: str
    n: int
    stats: Standardization | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (floats written with ``repr``: they read back bit for bit)."""
        stats = None if self.stats is None else self.stats.as_dict()
        return {"files": self.files, "features": self.features, "target": self.target, "n": self.n, "stats": stats}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> RankSource:
        """The inverse of :meth:`as_dict`."""
        stats = Standardization.from_dict(data["stats"])
        return RankSource(list(data["files"]), list(data["features"]), str(data["target"]), int(data["n"]), stats)

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``[start, stop)`` in the fitted space: ``X`` (m, k), ``y`` (m,)."""
        X, y = parquet_rows(self.files, self.features, self.target, start, stop)
        return standardize(X, y, self.stats) if self.stats is not None else (X, y)


@dataclass(frozen=True)
class RankLaunch:
    """How a data-parallel fit's ranks find their rows and are started: the dataset's parquet
    ``files`` (in order), its ``target`` column, and the ``launcher`` command (None: local
    processes; ``["srun"]`` inside a SLURM allocation, :func:`launcher_command`)."""

    files: list[str]
    target: str
    launcher: list[str] | None = None


def _rank_rows(folder: Path, job: dict[str, Any], rank: int, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """This rank's rows ``X`` (m, k), ``y`` (m,) of the prepared job, and the rows of the whole fit."""
    if job["source"] is None:  # arrays handed over in memory
        X, y = np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r")
        start, stop = contiguous_part(len(y), size, rank)
        return np.array(X[start:stop]), np.array(y[start:stop]), len(y)
    source = RankSource.from_dict(job["source"])
    start, stop = contiguous_part(source.n, size, rank)
    X, y = source.rows(start, stop)
    return X, y, source.n


def run_rank(folder: Path, timeout_s: float) -> None:
    """One process of a data-parallel fit prepared in ``folder`` (:func:`fit_data_parallel`):
    read its rows, join the group, fit them, rank 0 writes the outcome (and the summed Gram when
    asked); a failure is written for the launcher."""
    import torch
    import torch.distributed as dist

    rank, size = rank_and_size()

    def record(exc: BaseException) -> None:  # before the group is torn down, so the root cause is first
        (folder / f"rank{rank}.error").write_text(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")

    try:
        job = json.loads((folder / "job.json").read_text())
        if job["plugins"]:
            use_plugins(job["plugins"])
        settings = typed_settings(job["settings"])
        # A rank started by srun uses the CPUs srun gave it; a local one its share of this machine's.
        started_by_srun = "RANK" not in os.environ
        torch.set_num_threads(
            int(os.environ.get("SLURM_CPUS_PER_TASK", job["threads"]) if started_by_srun else job["threads"])
        )
        Xr, yr, n = _rank_rows(folder, job, rank, size)
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
        collective = Collective(rank, size, n)
        w0, b0 = job["init"]
        outcome = fit_iterative(Xr, yr, settings.method, settings, w0, b0, collective)
        outcome.extra["communication_seconds"] = collective.communication_seconds  # rank 0's, in its loop
        gram = collective.sum_array(gram_of_chunks(array_chunks(Xr, yr), Xr.shape[1])) if job["gram"] else None
    except BaseException as exc:
        record(exc)
        raise SystemExit(1) from exc
    finally:
        dist.destroy_process_group()
    if rank == 0:
        (folder / "outcome.pkl").write_bytes(pickle.dumps((outcome, gram)))


def fit_data_parallel(
    X: np.ndarray,
    y: np.ndarray,
    settings: FitSettings,
    init: tuple[list[float], float],
    processes: int,
    timeout_s: float = 600.0,
) -> FitOutcome:
    """Full-batch descent of ``X`` (n, k), ``y`` (n,) (in memory, handed to the ranks as ``.npy``)
    from ``init`` by ``processes`` local processes, rank r holding rows
    :func:`~descent.fitting.collective.contiguous_part` (n, P, r). Returns rank 0's outcome (every
    rank took the same steps), with ``processes`` and each rank's rows in its extras. Raises
    :class:`FitError` naming the rank and its reason when one fails, or when the fit has not
    ended after ``timeout_s``."""
    check_processes(len(X), processes, settings)
    with tempfile.TemporaryDirectory(prefix="descent-dp-") as tmp:
        folder = Path(tmp)
        np.save(folder / "X.npy", np.ascontiguousarray(X))
        np.save(folder / "y.npy", np.ascontiguousarray(y))
        outcome, _ = _launch(folder, settings, init, processes, None, None, False, timeout_s)
    _rows_extra(outcome, len(X), processes)
    return outcome


def fit_data_parallel_files(
    source: RankSource,
    settings: FitSettings,
    init: tuple[list[float], float],
    processes: int,
    launcher: list[str] | None = None,
    gram: bool = False,
    timeout_s: float = 600.0,
    threads: int | None = None,
) -> tuple[FitOutcome, np.ndarray | None]:
    """:func:`fit_data_parallel` with each rank reading only its rows from ``source`` (nothing is
    loaded here), started as local processes, or by ``launcher`` (``["srun"]`` inside a SLURM
    allocation: :func:`launcher_command`), whose ranks may run on other nodes. ``gram``: also
    return the float64 Gram of ``[X, 1, y]`` ((k+2, k+2), fitted space) summed over the ranks, for
    the convergence annotation of data no single process holds. ``threads``: each rank's (default:
    this process's CPUs shared out among local ranks, one each for ``srun``'s). Returns rank 0's
    outcome and that Gram (or None)."""
    check_processes(source.n, processes, settings)
    base = None if launcher is None else Path(os.environ.get(FOLDER_VARIABLE, Path.cwd() / ".descent-parallel"))
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="descent-dp-", dir=base) as tmp:
        outcome, summed = _launch(Path(tmp), settings, init, processes, source, launcher, gram, timeout_s, threads)
    _rows_extra(outcome, source.n, processes)
    if launcher is not None:
        outcome.extra["launcher"] = " ".join(launcher)
    return outcome, summed


#: A folder the nodes of a cluster share, for a job started by ``srun`` (default: the working
#: directory's ``.descent-parallel``).
FOLDER_VARIABLE = "DESCENT_PARALLEL_DIR"


def launcher_command(mpi: str | None, cpus_per_task: int | None = None) -> list[str] | None:
    """The command that starts the ranks: the rule's ``mpi`` resource (``srun``) inside a SLURM
    allocation (``SLURM_JOB_ID`` set), with each rank's CPUs (the rule's ``cpus_per_task``), else
    None (local processes)."""
    if not mpi or "SLURM_JOB_ID" not in os.environ:
        return None
    return [*shlex.split(mpi), *([f"--cpus-per-task={int(cpus_per_task)}"] if cpus_per_task else [])]


def check_processes(n: int, processes: int, settings: FitSettings) -> None:
    """Refuse what cannot run data-parallel: fewer rows than processes, a method that runs its own
    pass, mini-batches."""
    if processes < 1 or processes > n:
        raise FitError(f"processes: {processes} for {n} rows (each process needs at least one row)")
    data_parallel_problem(get_method(settings.method), settings)


def _rows_extra(outcome: FitOutcome, n: int, processes: int) -> None:
    outcome.extra["processes"] = processes
    outcome.extra["rows_per_process"] = [b - a for a, b in (contiguous_part(n, processes, r) for r in range(processes))]


def _launch(
    folder: Path,
    settings: FitSettings,
    init: tuple[list[float], float],
    processes: int,
    source: RankSource | None,
    launcher: list[str] | None,
    gram: bool,
    timeout_s: float,
    threads: int | None = None,
) -> tuple[FitOutcome, np.ndarray | None]:
    """Write the job to ``folder``, start the ranks, wait for them; rank 0's outcome and Gram."""
    plugins = [str(file) for name in methods() if (file := plugin_source(name)) is not None]
    if threads is None:
        threads = max(1, torch_threads() // processes) if launcher is None else 1
    job = {
        "settings": settings.as_dict(),
        "init": [list(init[0]), float(init[1])],
        "plugins": plugins,
        "source": None if source is None else source.as_dict(),
        "gram": gram,
        "threads": threads,
    }
    (folder / "job.json").write_text(json.dumps(job))
    rank_command = [sys.executable, "-m", "descent.fitting.parallel", str(folder), "--timeout", str(timeout_s)]
    if launcher is None:
        workers = [
            subprocess.Popen(rank_command, env={**os.environ, "RANK": str(rank), "WORLD_SIZE": str(processes)})
            for rank in range(processes)
        ]
    else:  # srun starts every rank (SLURM_PROCID, SLURM_NTASKS) and ends them all when one fails
        workers = [subprocess.Popen([*launcher, f"--ntasks={processes}", "--kill-on-bad-exit=1", *rank_command])]
    failed = _wait(workers, time.monotonic() + timeout_s)
    for worker in workers:  # the others end on their own once a peer is gone: give them a moment
        try:
            worker.wait(timeout=5 if failed is not None and "timeout" not in failed[1] else 0.1)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    if failed is not None:
        rank, detail = root_cause(folder, *failed)
        where = "" if launcher is None else f" started by {' '.join(launcher)}"
        raise FitError(f"data-parallel fit ({processes} processes{where}): rank {rank} failed: {detail}")
    outcome, summed = pickle.loads((folder / "outcome.pkl").read_bytes())
    return outcome, summed


def torch_threads() -> int:
    """Threads this process may use (its CPU affinity), shared out among local ranks."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


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
