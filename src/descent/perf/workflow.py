"""A job's start-up cost (interpreter and imports) and a finished workflow's timings: Snakemake's
``benchmark:`` TSVs, the fits' own seconds and the start-up share of the wall time."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from descent.timing import time_callable

#: Import sets whose start-up cost is measured: what each kind of job imports before working.
IMPORT_PROFILES: dict[str, str] = {
    "python": "pass",
    "numpy": "import numpy",
    "snakemake_script": "import snakemake.script",
    "fit_job": "import descent.fitting.records, descent.io, torch, pandas, pyarrow",
    # a fit of large data (from 2^20 rows) also imports numba and loads the fused pass's cached kernels
    "large_fit_job": "import descent.fitting.records, descent.io, torch, pandas, pyarrow, descent.fitting.fused",
    "sklearn_job": "import descent.fitting.records, descent.io, pandas, pyarrow, sklearn.linear_model",
    "figure_job": "import descent.io, pandas, pyarrow, matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot",
    "all": "import numpy, torch, sklearn.linear_model, pandas, pyarrow",
}


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


def fit_job_benchmarks(by_file: dict[str, float]) -> tuple[int, float]:
    """The fit jobs among a run's benchmark TSVs (``by_file`` of :func:`benchmark_seconds`: path
    under ``results/benchmarks`` → seconds): their number and seconds. A fit job's TSV is
    ``fits/{dataset}/{scaling}.tsv`` (a job of several fits) or ``fits/{dataset}/{scaling}/{fit}.tsv``
    (one fit); the summary, gradient checks and loss surfaces, also under ``fits/``, are not fits."""
    found = [
        seconds
        for rel, seconds in by_file.items()
        if rel.startswith(f"fits{os.sep}")
        and not rel.startswith(f"fits{os.sep}gradient_check{os.sep}")
        and rel != f"fits{os.sep}summary.tsv"
        and Path(rel).name != "loss_surface.tsv"
    ]
    return len(found), float(sum(found))


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
