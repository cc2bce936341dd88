"""The full default workflow from a clean temporary directory: wall time, the jobs' own seconds,
the fits' own seconds, the start-up share, and a no-op rerun (``workflow.json``)."""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import time
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from descent.perf.part import ROOT, Flag, Part, Result, child_env, log
from descent.perf.tables import target
from descent.perf.workflow import (
    IMPORT_PROFILES,
    benchmark_seconds,
    fit_job_benchmarks,
    fit_seconds,
    workflow_overhead,
)
from descent.timing import time_callable


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    cores, startup, keep = args.threads, results["startup"], args.keep_workdir
    snakemake = shutil.which("snakemake", path=child_env()["PATH"]) or "snakemake"
    workdir = Path(tempfile.mkdtemp(prefix="descent-bench-"))
    cmd = [
        snakemake,
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        f"--configfile={ROOT / 'config.yaml'}",
        "--quiet",
        "all",
    ]
    log(f"full default workflow in {workdir} (several minutes)")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"workflow failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    log(f"workflow done in {wall:.1f} s; no-op rerun")
    rerun = time_callable(
        lambda: subprocess.run(cmd, capture_output=True, text=True, env=child_env(), check=True), warmup=0, repeats=3
    ).summary()
    dry = time_callable(
        lambda: subprocess.run(cmd + ["-n"], capture_output=True, text=True, env=child_env(), check=True),
        warmup=0,
        repeats=1,
    ).summary()
    jobs = benchmark_seconds(workdir / "results" / "benchmarks")
    fits = fit_seconds(workdir / "results" / "fits")
    per_job = startup["fit_job"]["seconds_median"]
    overhead = workflow_overhead(wall, cores, jobs["jobs"], jobs["seconds"], per_job)
    lower = workflow_overhead(wall, cores, jobs["jobs"], jobs["seconds"], startup["python"]["seconds_median"])
    fit_jobs, fit_job_seconds = fit_job_benchmarks(jobs["by_file"])
    result = {
        "command": " ".join(cmd),
        # The fit jobs (the fit rules' benchmark TSVs: one per job, whether of one fit or several):
        # how many, their own seconds, and the share of those spent starting Python and importing.
        "fit_jobs": fit_jobs,
        "fit_job_seconds": fit_job_seconds,
        "fit_jobs_startup_seconds": fit_jobs * per_job,
        "fit_jobs_startup_share": fit_jobs * per_job / fit_job_seconds if fit_job_seconds > 0 else math.nan,
        "workdir": str(workdir) if keep else None,
        **overhead,
        "startup_profile": "fit_job",
        "startup_share_lower_bound": lower["startup_share"],
        "startup_share_method": (
            f"jobs x median wall of `python -c '{IMPORT_PROFILES['fit_job']}'` "
            "/ (workflow wall x cores); lower bound: same with a bare `python -c pass`"
        ),
        "benchmark_tsv": jobs,
        "fit_compute": fits,
        "fit_compute_share": fits["seconds"] / (wall * cores),
        # Another view of start-up: what fit jobs spent outside the fit itself (start-up, loading,
        # writing), from their benchmark seconds minus their records' own seconds.
        "fit_jobs_noncompute_seconds": jobs["by_stage"].get("fits", 0.0) - fits["seconds"],
        "fit_jobs_noncompute_share": (jobs["by_stage"].get("fits", 0.0) - fits["seconds"]) / (wall * cores),
        "noop_rerun": rerun,
        "dry_run": dry,
        "tail": proc.stderr[-1500:],
    }
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def rows(wf: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    return [
        [
            "workflow",
            "full default run",
            f"{wf['wall_seconds']:.1f} s",
            f"{wf['jobs']} jobs, jobs' own s {wf['job_seconds']:.1f}, compute ratio {wf['compute_ratio']:.2f}, "
            f"fits' compute {wf['fit_compute']['seconds']:.2f} s",
        ],
        [
            "workflow",
            "fit jobs' start-up share",
            f"{wf['fit_jobs_startup_share']:.0%}",
            f"{wf['fit_jobs']} fit jobs x {wf['startup_seconds_per_job']:.2f} s start-up "
            f"of their {wf['fit_job_seconds']:.0f} s",
        ],
        [
            "workflow",
            "start-up share",
            f"{wf['startup_share']:.0%}",
            f"lower bound {wf['startup_share_lower_bound']:.0%} (bare interpreter)",
        ],
        [
            "workflow",
            "fit jobs outside the fit",
            f"{wf['fit_jobs_noncompute_share']:.0%}",
            f"{wf['fit_jobs_noncompute_seconds']:.0f} s of fit-stage job time not in the fits' own seconds",
        ],
        ["workflow", "no-op rerun", f"{wf['noop_rerun']['seconds_median']:.2f} s", ""],
    ]


def targets(wf: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    return [
        target("default workflow wall seconds", wf["wall_seconds"], 180.0, "max", "s"),
        target("workflow start-up share of wall x cores", wf["startup_share"], 0.25, "max"),
        target("no-op rerun seconds", wf["noop_rerun"]["seconds_median"], 2.0, "max", "s"),
    ]


PART = Part(
    name="workflow",
    position=20,
    description=__doc__ or "",
    run=run,
    rows=rows,
    targets=targets,
    needs=("startup",),  # the start-up share needs the per-job start-up cost
    flags=(Flag("--keep-workdir", {"action": "store_true", "help": "keep the workflow's temporary directory"}),),
)
