"""The project's own speed-and-scale benchmark (``make bench``; not part of the test suite).

Measures, in one run (so the ratios hold on a noisy machine), and writes ``results/perf/*.json``:

1. workflow overhead: the full default workflow from a clean directory (wall, jobs' own seconds,
   start-up share) and a no-op rerun; per-job start-up cost by import profile;
2. fit throughput at 10⁷ × 10 (float32, float64): one full-batch gradient iteration of
   ``manual_gd`` (and its former two-product path), ``autograd`` and ``nn_linear`` against a
   STREAM-like bandwidth measured in the same run at the same thread count;
3. closed form at 10⁷ × 10 float64: the ``lstsq`` solvers (``auto``, the workflow's default;
   ``normal_equations``, ``qr``, ``torch``) against scikit-learn's ``LinearRegression``: time,
   parameter error against a float64 SVD reference, and each result's certificate;
3b. closed-form accuracy sweep: every closed-form path (the five ``lstsq`` solvers and
   ``sklearn``) on seeded random problems (n 2..2·10⁶, k 1..50, scales over up to 7 decades,
   offsets, noise, float32 and float64): per path and dtype, how many were certified or flagged
   and the worst error of each against the float64 reference (``closed_form_sweep.json``);
4. memory: peak RSS of a 10⁷ × 10 float32 ``manual_gd`` fit (fit alone, and the workflow's job path
   from parquet) against the size of X;
5. NIST StRD digits (``nist.json``): every closed-form path against NumPy, scikit-learn and
   statsmodels on the NIST linear-regression datasets the project ships, LRE against exact
   rational arithmetic (:mod:`descent.perf.nist`);
6. matmul: a registered BLAS backend (default NumPy's GEMM; ``--matmul-backend``, from the registry
   descent.matmul.backends) at n=4096 as a fraction of the estimated peak (descent.matmul.machine).

Every timing goes through the project's one harness, descent.timing.time_callable.

Usage: ``python bench/run.py [--quick] [--only PART ...] [--out results/perf] [--rows 10000000]
[--threads N]``. ``--quick`` skips the full-workflow part; ``--only`` runs the parts named (see
:data:`PARTS`; e.g. ``make bench BENCH_ARGS="--only closed_form_sweep"``) and writes only their
files. See README.md, section "Speed and scale".
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from descent import perf  # noqa: E402
from descent.io import write_json  # noqa: E402
from descent.matmul import backends  # noqa: E402
from descent.timing import time_callable  # noqa: E402

ITERATIVE = ("manual_gd", "autograd", "nn_linear")
#: The benchmark's parts, in the order they run; each writes ``<part>.json``.
PARTS = (
    "startup",
    "workflow",
    "stream",
    "throughput",
    "closed_form",
    "closed_form_sweep",
    "memory",
    "matmul",
    "out_of_core",
    "nist",
)
#: Problems of the closed-form sweep (n up to 2e5) and tall ones (n 5e5..2e6); see perf.sweep_problems.
SWEEP_PROBLEMS, SWEEP_LARGE = 600, 6
#: Paths timed at full size by :func:`bench_closed_form` (the sweep runs all of perf.CLOSED_FORM_PATHS).
CLOSED_FORM_TIMED = ("lstsq auto", "lstsq normal_equations", "lstsq qr", "lstsq torch", "sklearn")


def fit_settings(method: str, **changes: Any) -> Any:
    """The workflow's default settings of ``method`` (from schemas/fits.schema.yaml) with
    ``changes``: the benchmark's fits are configured as the workflow's are."""
    from descent.config.fits import default_fit_settings

    return default_fit_settings(ROOT / "schemas", method, **changes)


def closed_form_settings(path: str) -> Any:
    """The settings of one closed-form path of perf.CLOSED_FORM_PATHS."""
    changes = dict(perf.CLOSED_FORM_PATHS[path])
    return fit_settings(changes.pop("method"), **changes)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def child_env() -> dict[str, str]:
    """Environment of subprocesses: this interpreter's bin first on PATH, the package importable."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    return env


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# --------------------------------------------------------------------------------------------


def bench_startup(repeats: int) -> dict[str, Any]:
    log("start-up cost by import profile")
    return {name: perf.import_seconds(code, repeats, env=child_env()) for name, code in perf.IMPORT_PROFILES.items()}


def bench_workflow(cores: int, startup: dict[str, Any], keep: bool) -> dict[str, Any]:
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
    jobs = perf.benchmark_seconds(workdir / "results" / "benchmarks")
    fits = perf.fit_seconds(workdir / "results" / "fits")
    per_job = startup["fit_job"]["seconds_median"]
    overhead = perf.workflow_overhead(wall, cores, jobs["jobs"], jobs["seconds"], per_job)
    lower = perf.workflow_overhead(wall, cores, jobs["jobs"], jobs["seconds"], startup["python"]["seconds_median"])
    result = {
        "command": " ".join(cmd),
        "workdir": str(workdir) if keep else None,
        **overhead,
        "startup_profile": "fit_job",
        "startup_share_lower_bound": lower["startup_share"],
        "startup_share_method": (
            f"jobs x median wall of `python -c '{perf.IMPORT_PROFILES['fit_job']}'` "
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


def bench_stream(threads: int, elements: int) -> dict[str, Any]:
    log(f"STREAM-like copy/triad, {elements} float64 elements, {threads} threads")
    return perf.stream_bandwidth(elements, threads, "float64", warmup=1, repeats=5)


def bench_throughput(rows: int, k: int, threads: int, repeats: int) -> dict[str, Any]:
    import torch

    from descent.fitting import objective

    out: dict[str, Any] = {
        "rows": rows,
        "k": k,
        "threads": threads,
        "block_min_rows": objective.BLOCK_MIN_ROWS,
        "block_bytes": objective.BLOCK_BYTES,
        "runs": [],
    }
    for dtype in ("float32", "float64"):
        log(f"throughput {rows}x{k} {dtype}: generating data")
        X, y, w_true, b_true = perf.synthetic_regression(rows, k, dtype, seed=0)
        for method in ITERATIVE:
            log(f"  {method}")
            out["runs"].append(perf.gradient_iteration(method, X, y, threads, warmup=1, repeats=repeats))
        # The former path of manual_gd (two products, n-sized temporaries), for before/after.
        with objective.gradient_blocking(rows + 1):
            log("  manual_gd, two-product path (before)")
            run = perf.gradient_iteration("manual_gd", X, y, threads, warmup=1, repeats=repeats)
        run["method"] = "manual_gd_two_products"
        out["runs"].append(run)
        # Accuracy of both manual paths against float64 at a point off the optimum.
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        w = torch.tensor(w_true * 0.9, dtype=Xt.dtype)
        b = torch.tensor(b_true - 1.0, dtype=Xt.dtype)
        X64, y64 = torch.from_numpy(X.astype(np.float64)), torch.from_numpy(y.astype(np.float64))
        w64, b64 = w.double(), b.double()
        r = y64 - (X64 @ w64 + b64)
        ref = np.append((-2.0 / rows * (X64.T @ r)).numpy(), float(-2.0 / rows * r.sum()))
        del X64, y64, r
        blocked = objective.blocked_gradients(Xt, yt, w, b, "mean")
        r = yt - (Xt @ w + b)
        plain = (None, -2.0 / rows * (Xt.T @ r), -2.0 / rows * r.sum())
        out[f"gradient_error_{dtype}"] = {
            "point": "0.9 x true weights, true bias - 1",
            "blocked": perf.closed_form_errors(np.append(blocked[1].double().numpy(), float(blocked[2])), ref),
            "two_products": perf.closed_form_errors(np.append(plain[1].double().numpy(), float(plain[2])), ref),
        }
        del X, y, Xt, yt
    return out


def bench_closed_form(rows: int, k: int, threads: int, repeats: int) -> dict[str, Any]:
    import torch
    from threadpoolctl import threadpool_limits

    from descent.fitting.objective import least_squares_reference
    from descent.fitting.problems import equilibrated_error
    from descent.fitting.records import fit

    torch.set_num_threads(threads)
    log(f"closed form {rows}x{k} float64 (features on scales 1e-2..1e3)")
    X, y, w_true, b_true = perf.synthetic_regression(
        rows, k, "float64", seed=1, scale_range=(1e-2, 1e3), offset_factor=1.0
    )
    out: dict[str, Any] = {
        "rows": rows,
        "k": k,
        "dtype": "float64",
        "threads": threads,
        "data": "perf.synthetic_regression(seed=1, scale_range=(1e-2, 1e3), offset_factor=1)",
        "methods": {},
    }
    with threadpool_limits(threads):
        log("  float64 reference: numpy.linalg.lstsq (SVD) on the equilibrated [X, 1]")
        start = time.perf_counter()
        w_ref, b_ref, rank = least_squares_reference(X, y)
        ref = np.append(w_ref, b_ref)
        out["reference"] = {
            "method": "descent.fitting.objective.least_squares_reference (numpy.linalg.lstsq, "
            "float64, columns equilibrated)",
            "rank": rank,
            "seconds": time.perf_counter() - start,
            "theta": ref.tolist(),
        }
        for name in CLOSED_FORM_TIMED:
            settings = closed_form_settings(name)
            log(f"  {name}")
            values: dict[str, Any] = {}

            def call(settings: Any = settings, values: dict[str, Any] = values) -> None:
                values["fit"] = fit(X, y, "raw", settings)

            # The whole call is timed: the solve and its certificate (one float64 pass over X).
            timing = time_callable(call, warmup=0, repeats=repeats).summary()
            outcome, w, b = values["fit"]
            theta = np.append(w, b)
            out["methods"][name] = {
                **perf.closed_form_errors(theta, ref),
                "equilibrated_error": equilibrated_error(theta, ref, X),
                "settings": settings.as_dict(),
                "status": outcome.status,
                "solver": outcome.extra.get("solver"),
                "certificate": outcome.extra["certificate"],
                "outcome_seconds": outcome.seconds,
                "timings": timing,
                "seconds": timing["seconds_min"],
            }
    return out


def bench_nist() -> dict[str, Any]:
    """NIST StRD digits table (descent.perf.nist): every closed-form path and NumPy, scikit-learn,
    statsmodels side by side, LRE against exact rational arithmetic (a few seconds)."""
    from descent.perf.nist import nist_table

    return nist_table(fit_settings)


def bench_closed_form_sweep(seed: int, count: int, large: int, threads: int) -> dict[str, Any]:
    """Every closed-form path (perf.CLOSED_FORM_PATHS) fitted raw on ``count`` random problems
    plus ``large`` tall ones (perf.sweep_problems), each against the float64 reference."""
    import torch
    from threadpoolctl import threadpool_limits

    from descent.fitting.objective import least_squares_reference
    from descent.fitting.problems import equilibrated_error, random_regression
    from descent.fitting.records import fit

    problems = perf.sweep_problems(seed, count, large)
    settings = {path: closed_form_settings(path) for path in perf.CLOSED_FORM_PATHS}
    log(f"closed-form accuracy sweep: {len(problems)} problems x {len(perf.CLOSED_FORM_PATHS)} paths (seed {seed})")
    results: list[dict[str, Any]] = []
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        with threadpool_limits(threads):
            for index, problem in enumerate(problems):
                if problem["large"]:
                    log(f"  problem {index}: n={problem['n']} k={problem['k']} {problem['dtype']}")
                X, y = random_regression(
                    problem["seed"],
                    problem["n"],
                    problem["k"],
                    tuple(problem["log_scales"]),
                    problem["offset"],
                    problem["noise"],
                    problem["dtype"],
                )
                w_ref, b_ref, _ = least_squares_reference(X, y)
                reference = np.append(w_ref, b_ref)
                for path, path_settings in settings.items():
                    row: dict[str, Any] = {"problem": index, "path": path, "dtype": problem["dtype"]}
                    start = time.perf_counter()
                    try:
                        outcome, w, b = fit(X, y, "raw", path_settings)
                    except Exception as exc:  # a path that raises is a result too, not a crash of the sweep
                        results.append({**row, "status": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]})
                        continue
                    certificate = outcome.extra["certificate"]
                    results.append(
                        {
                            **row,
                            "k": problem["k"],
                            "status": outcome.status,
                            "rank_deficient": bool(outcome.extra.get("rank_deficient")),
                            "solver": outcome.extra.get("solver"),
                            "error": equilibrated_error(np.append(w, b), reference, X),
                            "error_bound": certificate["error_bound"],
                            "max_error": certificate["max_error"],
                            "condition_number": certificate["condition_number"],
                            "seconds": time.perf_counter() - start,
                        }
                    )
                del X, y
    finally:
        torch.set_num_threads(before)
    seconds = time.perf_counter() - started
    log(f"  sweep done in {seconds:.1f} s")
    return {
        "seed": seed,
        "count": count,
        "large": large,
        "threads": threads,
        "seconds": seconds,
        "paths": perf.CLOSED_FORM_PATHS,
        "settings": {path: path_settings.as_dict() for path, path_settings in settings.items()},
        "max_error": settings["lstsq auto"].certificate_max_error,
        "generator": "descent.fitting.problems.random_regression, parameters from descent.perf.sweep_problems",
        "reference": "descent.fitting.objective.least_squares_reference (float64 SVD, columns equilibrated)",
        "error": "descent.fitting.problems.equilibrated_error: ||D(theta - theta*)|| / ||D theta*||, "
        "D the column norms of [X, 1]",
        "summary": perf.sweep_summary(results),
        "problems": problems,
        "results": results,
    }


SWEEP_HEADERS = [
    "path",
    "dtype",
    "count",
    "certified",
    "flagged",
    "raised",
    "worst certified err",
    "worst err/bound",
    "bound 0",
    "beyond bound",
    "certified > max",
    "worst flagged err",
    "flagged > max",
]


def sweep_table(sweep: dict[str, Any]) -> str:
    """The sweep's per path and dtype summary as a printed table."""
    rows = [
        [
            s["path"],
            s["dtype"],
            s["count"],
            s["certified"],
            s["flagged"],
            s["errors"],
            f"{s['worst_certified_error']:.2e}",
            f"{s['worst_error_to_bound']:.2g}",
            s["zero_bound"],
            s["beyond_bound"],
            s["certified_above_max_error"],
            f"{s['worst_flagged_error']:.2e}",
            s["flagged_above_max_error"],
        ]
        for s in sweep["summary"]
    ]
    return perf.format_table(rows, SWEEP_HEADERS)


MEMORY_FIT = """
import numpy as np, resource, time
from descent.fitting.iterative import fit_iterative
from descent.fitting.registry import typed_settings
X = np.load({x!r}); y = np.load({y!r})
from descent.perf import vm_hwm_bytes
after_load = vm_hwm_bytes(open("/proc/self/status").read())
import torch
torch.set_num_threads({threads})
settings = typed_settings({settings!r})
out = fit_iterative(X, y, "manual_gd", settings, [0.0] * X.shape[1], 0.0)
RESULT = dict(rss_after_load_bytes=after_load, iterations=out.iterations, x_bytes=X.nbytes, seconds=out.seconds)
"""

MEMORY_BASELINE = """
import numpy, torch, pandas, pyarrow
import descent.fitting.records, descent.io
"""

MEMORY_JOB = """
import torch
from descent.fitting.records import fit_files
torch.set_num_threads({threads})
settings = {settings!r}
job = dict(dataset="bench", scaling="raw", method="manual_gd")
record, history = fit_files({parquet!r}, {meta!r}, job, settings, ([0.0] * {k}, 0.0), [])
RESULT = dict(iterations=record["iterations"], seconds=record["seconds"])
"""


def bench_memory(rows: int, k: int, threads: int, job_path: bool) -> dict[str, Any]:
    import pandas as pd

    from descent.io import write_json as write_meta

    log(f"peak RSS of a {rows}x{k} float32 manual_gd fit")
    X, y, w_true, b_true = perf.synthetic_regression(rows, k, "float32", seed=2)
    x_bytes = X.nbytes
    tmp = Path(tempfile.mkdtemp(prefix="descent-bench-mem-"))
    try:
        np.save(tmp / "X.npy", X)
        np.save(tmp / "y.npy", y)
        env = child_env()
        baseline = perf.peak_rss_child(MEMORY_BASELINE, env=env)
        # The settings are built here (reading the schema imports snakemake, which the children must not).
        settings = fit_settings(
            "manual_gd", lr=1e-3, iterations=3, loss_reduction="mean", tolerance=1e-5, stop_criterion="grad_norm"
        ).as_dict()
        fit = perf.peak_rss_child(
            MEMORY_FIT.format(x=str(tmp / "X.npy"), y=str(tmp / "y.npy"), threads=threads, settings=settings), env=env
        )
        out: dict[str, Any] = {
            "rows": rows,
            "k": k,
            "dtype": "float32",
            "x_bytes": x_bytes,
            "y_bytes": y.nbytes,
            "baseline_imports": baseline,
            "fit": {
                **fit,
                "ratio_to_x": fit["peak_rss_bytes"] / x_bytes,
                "ratio_to_x_above_imports": (fit["peak_rss_bytes"] - baseline["peak_rss_bytes"]) / x_bytes,
                "what": "np.load X and y (.npy), then descent.fitting.iterative.fit_iterative(manual_gd, 3 iterations)",
            },
        }
        if job_path:
            log("  the workflow job path: fit_files from parquet")
            features = [f"x{j}" for j in range(k)]
            frame = pd.DataFrame({name: X[:, j] for j, name in enumerate(features)})
            frame["y"] = y
            frame.to_parquet(tmp / "bench.parquet", engine="pyarrow", index=False, compression="zstd")
            del frame
            write_meta(
                tmp / "bench.json",
                {
                    "features": features,
                    "target": "y",
                    "true_weights": list(w_true),
                    "true_bias": b_true,
                    "n": rows,
                    "seed": 2,
                    "generator": "perf",
                    "dtype": "float32",
                },
            )
            job = perf.peak_rss_child(
                MEMORY_JOB.format(
                    parquet=str(tmp / "bench.parquet"),
                    meta=str(tmp / "bench.json"),
                    threads=threads,
                    k=k,
                    settings=settings,
                ),
                env=env,
            )
            out["job"] = {
                **job,
                "ratio_to_x": job["peak_rss_bytes"] / x_bytes,
                "ratio_to_x_above_imports": (job["peak_rss_bytes"] - baseline["peak_rss_bytes"]) / x_bytes,
                "what": "descent.fitting.records.fit_files (load_dataset from parquet, fit_record with mse), raw manual_gd",
            }
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OUT_OF_CORE_READ = """
import time, pyarrow.parquet as pq
start, rows = time.perf_counter(), 0
with pq.ParquetFile({path!r}, pre_buffer=False) as handle:
    for batch in handle.iter_batches(batch_size=1 << 18):
        rows += batch.num_rows
RESULT = dict(rows=rows, seconds=time.perf_counter() - start)
"""

OUT_OF_CORE_FIT = """
import time, numpy as np
from descent.fitting import stream
from descent.fitting.registry import typed_settings
from descent.fitting.streamed import fit_streaming
settings = typed_settings({settings!r})
chunks = lambda: stream.parquet_chunks({path!r}, {features!r}, "y")
start = time.perf_counter()
outcome, w, b = fit_streaming(chunks, {features!r}, np.dtype("float32"), {scaling!r}, settings, {init!r})
RESULT = dict(seconds=time.perf_counter() - start, status=outcome.status, iterations=outcome.iterations,
              weights=[float(v) for v in w], bias=float(b), passes=outcome.extra.get("passes"),
              certificate=outcome.extra.get("certificate"))
"""


def bench_out_of_core(rows: int, k: int, iterations: int, directory: str | None) -> dict[str, Any]:
    """A dataset larger than this machine's memory, written in row groups and fitted from disk by
    the certified closed form and by a few full-batch descent iterations, each in a fresh child
    whose peak resident memory is measured; rows/s against the parquet read rate of the same file."""
    from descent.fitting import stream
    from descent.resources import machine_mem_mb

    # With --ooc-dir the file is kept there and reused by a later run with the same shape (writing
    # 28 GiB takes minutes); otherwise it lives in a temporary folder removed at the end.
    keep = directory is not None
    tmp = Path(directory) if keep else Path(tempfile.mkdtemp(prefix="descent-bench-ooc-"))
    path = tmp / f"ooc_{rows}x{k}_seed7_float32.parquet"
    sidecar = path.with_suffix(".json")
    try:
        if keep and path.exists() and sidecar.exists():
            meta = json.loads(sidecar.read_text())
            written, reused = float(meta["write_seconds"]), True
            log(f"out of core: reusing {path} (written earlier in {written:.0f} s)")
        else:
            log(f"out of core: writing {rows} x {k} float32 to {path} in row groups")
            tmp.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            meta = stream.write_synthetic_parquet(path, rows, k, seed=7, dtype="float32")
            written, reused = time.perf_counter() - start, False
            if keep:
                sidecar.write_text(json.dumps({**meta, "write_seconds": written}))
        size = path.stat().st_size
        env = child_env()
        log(f"  {size / 2**30:.1f} GiB in {written:.0f} s; reading it once (pyarrow, no compute)")
        read = perf.peak_rss_child(OUT_OF_CORE_READ.format(path=str(path)), env=env)
        out: dict[str, Any] = {
            "rows": rows,
            "k": k,
            "dtype": "float32",
            "file_bytes": size,
            "machine_mem_mb": machine_mem_mb(),
            "larger_than_memory": size > machine_mem_mb() * 2**20,
            "write_seconds": written,
            "file_reused": reused,
            "true_weights": meta["true_weights"],
            "true_bias": meta["true_bias"],
            "read": {**read, "rows_per_second": rows / read["seconds"]},
            "fits": {},
        }
        runs = {
            "lstsq (certified closed form, standardized)": ("lstsq", "standardized", {}, None),
            f"manual_gd ({iterations} full-batch iterations, standardized)": (
                "manual_gd",
                "standardized",
                {"lr": 0.1, "iterations": iterations, "stall_window": 0},
                ([0.0] * k, 0.0),
            ),
        }
        for name, (method, scaling, changes, init) in runs.items():
            log(f"  {name}")
            settings = fit_settings(method, **changes).as_dict()
            result = perf.peak_rss_child(
                OUT_OF_CORE_FIT.format(
                    settings=settings, path=str(path), features=meta["features"], scaling=scaling, init=init
                ),
                env=env,
            )
            passes = result["passes"] or (2 if result.get("certificate") else 1)
            rate = rows * passes / result["seconds"]
            out["fits"][name] = {
                **result,
                "rows_per_second": rate,
                "ratio_to_read_rate": rate / out["read"]["rows_per_second"],
                "peak_rss_mb": result["peak_rss_bytes"] / 2**20,
            }
        return out
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


#: Backends ``--matmul-backend`` accepts: the registry's CPU backends that are not naive loops.
MATMUL_BACKENDS = backends.names(device="cpu", naive=False)


def bench_matmul(threads: int, n: int, repeats: int, backend: str = "numpy") -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from descent.matmul.machine import cpu_facts, cpu_peak

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


# --------------------------------------------------------------------------------------------


def summarize(results: dict[str, Any]) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """The issue's targets (met/missed with ratios) and the printed table rows, for the parts
    that ran (``results`` holds one entry per part)."""
    targets, rows = [], []
    stream = results["stream"]["best_gbps"] if "stream" in results else math.nan
    if "stream" in results:
        rows.append(
            [
                "stream",
                "copy / triad GB/s (float64)",
                f"{results['stream']['copy']['gbps']:.1f} / {results['stream']['triad']['gbps']:.1f}",
                f"threads={results['stream']['threads']}",
            ]
        )
    for run in results.get("throughput", {}).get("runs", []):
        share = run["effective_gbps"] / stream
        rows.append(
            [
                "throughput",
                f"{run['method']} {run['dtype']}",
                f"{run['timings']['seconds_median'] * 1e3:.1f} ms/iter",
                f"{run['effective_gbps']:.2f} GB/s eff. ({share:.0%} of STREAM), {run['implementation']}, "
                f"{run['passes_over_x']} pass(es), {run['bytes_x_min'] / 1e6:.0f} MB of X",
            ]
        )
        if run["method"] == "manual_gd":
            targets.append(perf.target(f"manual_gd {run['dtype']} effective bandwidth / STREAM", share, 0.5, "min"))
    if "closed_form" in results:
        cf = results["closed_form"]["methods"]
        sk = cf["sklearn"]["seconds"]
        for name, m in cf.items():
            c = m["certificate"]
            rows.append(
                [
                    "closed form",
                    f"{name} ({m['solver']})",
                    f"{m['seconds']:.3f} s",
                    f"{sk / m['seconds']:.2f}x vs sklearn, max rel err {m['max_rel_error']:.2e}, equilibrated "
                    f"{m['equilibrated_error']:.1e}; {m['status']} (κ {c['condition_number']:.3g}, "
                    f"bound {c['error_bound']:.1e})",
                ]
            )
        lstsq = cf["lstsq auto"]
        targets.append(
            perf.target("lstsq speed-up over sklearn LinearRegression", sk / lstsq["seconds"], 3.0, "min", "x")
        )
        targets.append(perf.target("lstsq max relative parameter error (float64)", lstsq["max_rel_error"], 1e-6, "max"))
    if "closed_form_sweep" in results:
        sweep = results["closed_form_sweep"]
        for row in sweep["summary"]:
            rows.append(
                [
                    "closed-form sweep",
                    f"{row['path']} {row['dtype']}",
                    f"worst {row['worst_certified_error']:.1e}",
                    f"{row['certified']}/{row['count']} certified (worst error/bound "
                    f"{row['worst_error_to_bound']:.2g}); {row['flagged']} flagged (worst "
                    f"{row['worst_flagged_error']:.1e}, {row['flagged_above_max_error']} above max_error)"
                    + (f"; {row['errors']} raised" if row["errors"] else ""),
                ]
            )
        worst = max((row["worst_certified_error"] for row in sweep["summary"] if row["certified"]), default=math.nan)
        targets.append(
            perf.target("closed-form sweep: worst error of a certified result", worst, sweep["max_error"], "max")
        )
    if "nist" in results and results["nist"]["rows"]:
        nist = results["nist"]["rows"]
        fewest = min(row["digits"]["auto"] for row in nist)
        rows.append(
            [
                "NIST StRD",
                "lstsq auto, fewest correct digits",
                f"{fewest:.1f}",
                f"over {len(nist)} dataset × scaling rows; certified ≥ {min(r['certified_digits']['auto'] for r in nist):.1f}",
            ]
        )
        targets.append(perf.target("NIST StRD: fewest correct digits of lstsq auto", fewest, 13.0, "min"))
    if "memory" in results:
        mem = results["memory"]
        rows.append(
            [
                "memory",
                "peak RSS / X bytes, fit (float32)",
                f"{mem['fit']['ratio_to_x']:.2f}x",
                f"{mem['fit']['peak_rss_bytes'] / 2**20:.0f} MiB; imports alone "
                f"{mem['baseline_imports']['peak_rss_bytes'] / 2**20:.0f} MiB; X {mem['x_bytes'] / 2**20:.0f} MiB",
            ]
        )
        targets.append(
            perf.target("peak RSS / size of X, 1e7x10 float32 fit", mem["fit"]["ratio_to_x"], 3.0, "max", "x")
        )
        if "job" in mem:
            rows.append(
                [
                    "memory",
                    "peak RSS / X bytes, workflow job path",
                    f"{mem['job']['ratio_to_x']:.2f}x",
                    f"{mem['job']['peak_rss_bytes'] / 2**20:.0f} MiB (parquet load + mse in float64)",
                ]
            )
            targets.append(
                perf.target("peak RSS / size of X, job path (fit_files)", mem["job"]["ratio_to_x"], 3.0, "max", "x")
            )
    for dtype, m in results.get("matmul", {}).get("dtypes", {}).items():
        rows.append(
            [
                "matmul",
                f"{results['matmul']['backend'].split()[0]} n={results['matmul']['n']} {dtype}",
                f"{m['gflops']:.1f} GFLOP/s",
                f"{m['fraction_of_peak']:.0%} of estimated peak {m['peak_gflops']:.1f}",
            ]
        )
    for name, s in results.get("startup", {}).items():
        rows.append(["start-up", name, f"{s['seconds_median']:.2f} s", s["code"][:60]])
    wf = results.get("workflow")
    if wf:
        rows.append(
            [
                "workflow",
                "full default run",
                f"{wf['wall_seconds']:.1f} s",
                f"{wf['jobs']} jobs, jobs' own s {wf['job_seconds']:.1f}, compute ratio {wf['compute_ratio']:.2f}, "
                f"fits' compute {wf['fit_compute']['seconds']:.2f} s",
            ]
        )
        rows.append(
            [
                "workflow",
                "start-up share",
                f"{wf['startup_share']:.0%}",
                f"lower bound {wf['startup_share_lower_bound']:.0%} (bare interpreter)",
            ]
        )
        rows.append(
            [
                "workflow",
                "fit jobs outside the fit",
                f"{wf['fit_jobs_noncompute_share']:.0%}",
                f"{wf['fit_jobs_noncompute_seconds']:.0f} s of fit-stage job time not in the fits' own seconds",
            ]
        )
        rows.append(["workflow", "no-op rerun", f"{wf['noop_rerun']['seconds_median']:.2f} s", ""])
        targets.append(perf.target("workflow start-up share of wall x cores", wf["startup_share"], 0.25, "max"))
        targets.append(perf.target("no-op rerun seconds", wf["noop_rerun"]["seconds_median"], 2.0, "max", "s"))
    ooc = results.get("out_of_core")
    if ooc:
        rows.append(
            [
                "out_of_core",
                f"{ooc['rows']}x{ooc['k']} float32 on disk",
                f"{ooc['file_bytes'] / 2**30:.1f} GiB",
                f"machine {ooc['machine_mem_mb'] / 1024:.1f} GiB; read {ooc['read']['rows_per_second']:.3g} rows/s",
            ]
        )
        for name, fit in ooc["fits"].items():
            rows.append(
                [
                    "out_of_core",
                    name,
                    f"{fit['rows_per_second']:.3g} rows/s",
                    f"{fit['ratio_to_read_rate']:.2f} of read rate; peak RSS {fit['peak_rss_mb']:.0f} MB; {fit['status']}",
                ]
            )
            targets.append(perf.target(f"out of core {name}: peak RSS (MB)", fit["peak_rss_mb"], 1024, "max", "MB"))
            targets.append(
                perf.target(f"out of core {name}: rows/s / read rate", fit["ratio_to_read_rate"], 0.5, "min")
            )
    return targets, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the full-workflow part (development)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        metavar="PART",
        help=f"run only these parts (of: {', '.join(PARTS)}) and write only their files, "
        "not summary.json or machine.json",
    )
    parser.add_argument("--out", default=str(ROOT / "results" / "perf"), help="output folder (default results/perf)")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the large data sets (default 1e7)")
    parser.add_argument("--features", type=int, default=10, help="features of the large data sets (default 10)")
    parser.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="threads (default: usable CPUs)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed gradient iterations per method (default 5)")
    parser.add_argument("--matmul-n", type=int, default=4096, help="matmul size (default 4096)")
    parser.add_argument(
        "--matmul-backend",
        default="numpy",
        choices=MATMUL_BACKENDS,
        help="registered CPU backend timed for the matmul part (default numpy)",
    )
    parser.add_argument("--stream-elements", type=int, default=1 << 25, help="STREAM array length (default 2^25)")
    parser.add_argument(
        "--sweep-problems",
        type=int,
        default=SWEEP_PROBLEMS,
        help=f"random problems of the closed-form sweep, n up to 2e5 (default {SWEEP_PROBLEMS})",
    )
    parser.add_argument(
        "--sweep-large",
        type=int,
        default=SWEEP_LARGE,
        help=f"tall problems of the sweep, n 5e5..2e6 (default {SWEEP_LARGE})",
    )
    parser.add_argument("--sweep-seed", type=int, default=0, help="seed of the sweep's problems (default 0)")
    parser.add_argument(
        "--sweep-threads",
        type=int,
        default=1,
        help="threads of the sweep (default 1: its problems are small, and other load then costs it little)",
    )
    parser.add_argument(
        "--ooc-rows",
        type=int,
        default=600_000_000,
        help="rows of the out-of-core dataset (default 6e8: 24 GB of float32 with 10 features)",
    )
    parser.add_argument("--ooc-iterations", type=int, default=3, help="streamed descent iterations (default 3)")
    parser.add_argument(
        "--ooc-dir",
        default=None,
        help="keep the out-of-core file in this folder and reuse it on the next run (default: a temporary folder)",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the workflow's temporary directory")
    parser.add_argument("--no-job-memory", action="store_true", help="skip the job-path memory measurement")
    args = parser.parse_args(argv)

    out = Path(args.out)
    from descent.matmul.machine import cpu_facts

    parts = set(args.only or PARTS)
    if args.quick:
        parts.discard("workflow")
    if "workflow" in parts:
        parts.add("startup")  # the start-up share needs the per-job start-up cost
    results: dict[str, Any] = {}
    machine = {
        "cpu": cpu_facts(),
        "threads": args.threads,
        "python": sys.version.split()[0],
        "load_average_start": load_average(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if "startup" in parts:
        results["startup"] = bench_startup(3)
    if "workflow" in parts:
        results["workflow"] = bench_workflow(args.threads, results["startup"], args.keep_workdir)
    if "stream" in parts:
        results["stream"] = bench_stream(args.threads, args.stream_elements)
    if "throughput" in parts:
        results["throughput"] = bench_throughput(args.rows, args.features, args.threads, args.repeats)
    if "closed_form" in parts:
        results["closed_form"] = bench_closed_form(args.rows, args.features, args.threads, 2)
    if "closed_form_sweep" in parts:
        results["closed_form_sweep"] = bench_closed_form_sweep(
            args.sweep_seed, args.sweep_problems, args.sweep_large, args.sweep_threads
        )
    if "memory" in parts:
        results["memory"] = bench_memory(args.rows, args.features, args.threads, not args.no_job_memory)
    if "matmul" in parts:
        results["matmul"] = bench_matmul(args.threads, args.matmul_n, 3, args.matmul_backend)
    if "out_of_core" in parts:
        results["out_of_core"] = bench_out_of_core(args.ooc_rows, args.features, args.ooc_iterations, args.ooc_dir)
    if "nist" in parts:
        results["nist"] = bench_nist()
    machine["load_average_end"] = load_average()
    targets, rows = summarize(results)
    for name, data in results.items():
        write_json(out / f"{name}.json", data)
    if not args.only:
        write_json(out / "machine.json", machine)
        write_json(
            out / "summary.json",
            {
                "machine": machine,
                "targets": targets,
                "quick": args.quick,
                "argv": sys.argv[1:] if argv is None else argv,
            },
        )
    print(perf.format_table(rows, ["part", "what", "value", "detail"]))
    if "closed_form_sweep" in results:
        sweep = results["closed_form_sweep"]
        print(
            f"\nclosed-form accuracy sweep: {len(sweep['problems'])} problems (seed {sweep['seed']}), "
            f"{sweep['seconds']:.0f} s; errors equilibrated, against the float64 reference; "
            f"max_error {sweep['max_error']:g}"
        )
        print(sweep_table(sweep))
    if "nist" in results:
        from descent.perf.nist import format_digits

        print("\nNIST StRD: correct digits (LRE) against exact rational arithmetic on the float64 data")
        print("(stored: the float64 data's own distance from NIST's certified values; * flagged inaccurate)")
        print(format_digits(results["nist"]))
    print()
    print(
        perf.format_table(
            [
                [
                    t["target"],
                    t["value"],
                    f"{'>=' if t['kind'] == 'min' else '<='} {t['limit']:g}",
                    t["ratio"],
                    "met" if t["met"] else f"MISSED by {t['missed_by']:.0%}",
                ]
                for t in targets
            ],
            ["target", "value", "limit", "value/limit", "status"],
        )
    )
    print(f"\nload average start {machine['load_average_start']} end {machine['load_average_end']}; results in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
