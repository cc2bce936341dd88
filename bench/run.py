"""The project's own speed-and-scale benchmark (``make bench``; not part of the test suite).

Measures, in one run (so the ratios hold on a noisy machine), and writes ``results/perf/*.json``:

1. workflow overhead: the full default workflow from a clean directory (wall, jobs' own seconds,
   start-up share) and a no-op rerun; per-job start-up cost by import profile;
2. fit throughput at 10⁷ × 10 (float32, float64): one full-batch gradient iteration of
   ``manual_gd`` (and its former two-product path), ``autograd`` and ``nn_linear`` against a
   STREAM-like bandwidth measured in the same run at the same thread count;
3. closed form: the workflow's ``lstsq`` (and candidate replacements) against scikit-learn's
   ``LinearRegression``, time and max parameter error against a float64 SVD reference;
4. memory: peak RSS of a 10⁷ × 10 float32 ``manual_gd`` fit (fit alone, and the workflow's job path
   from parquet) against the size of X;
5. matmul: NumPy GEMM at n=4096 as a fraction of the estimated peak (descent.machine).

Usage: ``python bench/run.py [--quick] [--out results/perf] [--rows 10000000] [--threads N]``.
``--quick`` skips the full-workflow part. See README.md, section "Speed and scale".
"""

from __future__ import annotations

import argparse
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

ITERATIVE = ("manual_gd", "autograd", "nn_linear")


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
    cmd = [snakemake, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", str(cores),
           f"--configfile={ROOT / 'config.yaml'}", "--quiet", "all"]
    log(f"full default workflow in {workdir} (several minutes)")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"workflow failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    log(f"workflow done in {wall:.1f} s; no-op rerun")
    rerun = perf.time_repeats(lambda: subprocess.run(cmd, capture_output=True, text=True, env=child_env(), check=True),
                              warmup=0, repeats=3)
    dry = perf.time_repeats(lambda: subprocess.run(cmd + ["-n"], capture_output=True, text=True, env=child_env(),
                                                   check=True), warmup=0, repeats=1)
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
            "jobs x median wall of `python -c 'import descent.fitting, descent.io, torch, pandas, pyarrow'` "
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

    from descent import fitting

    out: dict[str, Any] = {"rows": rows, "k": k, "threads": threads, "block_min_rows": fitting._BLOCK_MIN_ROWS,
                           "block_bytes": fitting._BLOCK_BYTES, "runs": []}
    for dtype in ("float32", "float64"):
        log(f"throughput {rows}x{k} {dtype}: generating data")
        X, y, w_true, b_true = perf.synthetic_regression(rows, k, dtype, seed=0)
        for method in ITERATIVE:
            log(f"  {method}")
            out["runs"].append(perf.gradient_iteration(method, X, y, threads, warmup=1, repeats=repeats))
        # The former path of manual_gd (two products, n-sized temporaries), for before/after.
        saved = fitting._BLOCK_MIN_ROWS
        fitting._BLOCK_MIN_ROWS = rows + 1
        try:
            log("  manual_gd, two-product path (before)")
            run = perf.gradient_iteration("manual_gd", X, y, threads, warmup=1, repeats=repeats)
        finally:
            fitting._BLOCK_MIN_ROWS = saved
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
        blocked = fitting._blocked_gradients(Xt, yt, w, b, "mean")
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

    from descent import fitting

    torch.set_num_threads(threads)
    log(f"closed form {rows}x{k} float64 (features on scales 1e-2..1e3)")
    X, y, w_true, b_true = perf.synthetic_regression(rows, k, "float64", seed=1, scale_range=(1e-2, 1e3),
                                                     offset_factor=1.0)
    out: dict[str, Any] = {"rows": rows, "k": k, "dtype": "float64", "threads": threads,
                           "data": "perf.synthetic_regression(seed=1, scale_range=(1e-2, 1e3), offset_factor=1)",
                           "methods": {}}
    with threadpool_limits(threads):
        log("  float64 reference: numpy.linalg.lstsq (SVD) on [X, 1]")
        start = time.perf_counter()
        w_ref, b_ref, rank = fitting.least_squares_reference(X, y)
        ref = np.append(w_ref, b_ref)
        out["reference"] = {"method": "numpy.linalg.lstsq float64 (gelsd)", "rank": rank,
                            "seconds": time.perf_counter() - start, "theta": ref.tolist()}

        def run(name: str, fn) -> None:
            log(f"  {name}")
            values = {}

            def call() -> None:
                values["theta"] = fn()

            timing = perf.time_repeats(call, warmup=0, repeats=repeats)
            out["methods"][name] = {**perf.closed_form_errors(values["theta"], ref), "timings": timing,
                                    "seconds": timing["seconds_min"]}

        def outcome_theta(outcome) -> np.ndarray:
            return np.append(outcome.weights, outcome.bias)

        run("lstsq (workflow default: lstsq_solver auto)",
            lambda: outcome_theta(fitting.fit_lstsq(X, y, {"dtype": "data", "device": "cpu"})))
        run("lstsq torch gelsd, equilibrated",
            lambda: outcome_theta(fitting.fit_lstsq(X, y, {"dtype": "data", "device": "cpu", "lstsq_solver": "torch"})))
        run("sklearn LinearRegression", lambda: outcome_theta(fitting.fit_sklearn(X, y, {"dtype": "data"})))
        run("lstsq driver gels (QR), equilibrated",
            lambda: outcome_theta(fitting.fit_lstsq(X, y, {"dtype": "data", "device": "cpu", "lstsq_driver": "gels",
                                                           "lstsq_solver": "torch"})))
        normal: dict[str, Any] = {}

        def normal_eq() -> np.ndarray:
            normal.update(perf.equilibrated_normal_equations(X, y))
            return normal["theta"]

        run("normal equations float64, equilibrated (Cholesky)", normal_eq)
        out["methods"]["normal equations float64, equilibrated (Cholesky)"]["condition"] = normal["condition"]
        out["methods"]["normal equations float64, equilibrated (Cholesky)"]["well_conditioned"] = normal["well_conditioned"]
    del X, y
    return out


MEMORY_FIT = """
import numpy as np, resource, time
from descent import fitting
X = np.load({x!r}); y = np.load({y!r})
from descent.perf import vm_hwm_bytes
after_load = vm_hwm_bytes(open("/proc/self/status").read())
import torch
torch.set_num_threads({threads})
settings = dict(lr=1e-3, iterations=3, loss_reduction="mean", tolerance=1e-5, stop_criterion="grad_norm", dtype="data", device="cpu")
out = fitting.fit_iterative(X, y, "manual_gd", settings, [0.0] * X.shape[1], 0.0)
RESULT = dict(rss_after_load_bytes=after_load, iterations=out.iterations, x_bytes=X.nbytes, seconds=out.seconds)
"""

MEMORY_BASELINE = """
import numpy, torch, pandas, pyarrow
from descent import fitting, io
"""

MEMORY_JOB = """
import torch
from descent.fitting import fit_files
torch.set_num_threads({threads})
settings = dict(method="manual_gd", lr=1e-3, iterations=3, loss_reduction="mean", tolerance=1e-5, stop_criterion="grad_norm", dtype="data", device="cpu")
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
        fit = perf.peak_rss_child(MEMORY_FIT.format(x=str(tmp / "X.npy"), y=str(tmp / "y.npy"), threads=threads), env=env)
        out: dict[str, Any] = {
            "rows": rows, "k": k, "dtype": "float32", "x_bytes": x_bytes, "y_bytes": y.nbytes,
            "baseline_imports": baseline,
            "fit": {**fit, "ratio_to_x": fit["peak_rss_bytes"] / x_bytes,
                    "ratio_to_x_above_imports": (fit["peak_rss_bytes"] - baseline["peak_rss_bytes"]) / x_bytes,
                    "what": "np.load X and y (.npy), then fitting.fit_iterative(manual_gd, 3 iterations)"},
        }
        if job_path:
            log("  the workflow job path: fit_files from parquet")
            features = [f"x{j}" for j in range(k)]
            frame = pd.DataFrame({name: X[:, j] for j, name in enumerate(features)})
            frame["y"] = y
            frame.to_parquet(tmp / "bench.parquet", engine="pyarrow", index=False, compression="zstd")
            del frame
            write_meta(tmp / "bench.json", {"features": features, "target": "y", "true_weights": list(w_true),
                                            "true_bias": b_true, "n": rows, "seed": 2, "generator": "perf",
                                            "dtype": "float32"})
            job = perf.peak_rss_child(MEMORY_JOB.format(parquet=str(tmp / "bench.parquet"), meta=str(tmp / "bench.json"),
                                                        threads=threads, k=k), env=env)
            out["job"] = {**job, "ratio_to_x": job["peak_rss_bytes"] / x_bytes,
                          "ratio_to_x_above_imports": (job["peak_rss_bytes"] - baseline["peak_rss_bytes"]) / x_bytes,
                          "what": "descent.fitting.fit_files (load_dataset from parquet, fit_record with mse), raw manual_gd"}
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_matmul(threads: int, n: int, repeats: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from descent.machine import cpu_facts, cpu_peak

    cpu = cpu_facts()
    cores = max(1, min(threads, int(cpu["physical_cores_usable"])))
    out: dict[str, Any] = {"n": n, "threads": threads, "backend": "numpy (np.matmul)", "dtypes": {}}
    with threadpool_limits(threads):
        for dtype in ("float64", "float32"):
            log(f"matmul n={n} {dtype}")
            rng = np.random.default_rng(0)
            A = rng.standard_normal((n, n)).astype(dtype)
            B = rng.standard_normal((n, n)).astype(dtype)
            timing = perf.time_repeats(lambda: np.matmul(A, B), warmup=1, repeats=repeats)
            gflops = 2.0 * n**3 / timing["seconds_median"] / 1e9
            peak = cpu_peak(cpu, cores, dtype)
            out["dtypes"][dtype] = {"gflops": gflops, "gflops_best": 2.0 * n**3 / timing["seconds_min"] / 1e9,
                                    "peak_gflops": peak["gflops"], "peak": peak,
                                    "fraction_of_peak": gflops / peak["gflops"] if peak["gflops"] else math.nan,
                                    "timings": timing}
    return out


# --------------------------------------------------------------------------------------------


def summarize(results: dict[str, Any]) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """The issue's targets (met/missed with ratios) and the printed table rows."""
    targets, rows = [], []
    stream = results["stream"]["best_gbps"]
    rows.append(["stream", "copy / triad GB/s (float64)", f"{results['stream']['copy']['gbps']:.1f} / "
                 f"{results['stream']['triad']['gbps']:.1f}", f"threads={results['stream']['threads']}"])
    for run in results["throughput"]["runs"]:
        share = run["effective_gbps"] / stream
        rows.append(["throughput", f"{run['method']} {run['dtype']}",
                     f"{run['timings']['seconds_median'] * 1e3:.1f} ms/iter",
                     f"{run['effective_gbps']:.2f} GB/s eff. ({share:.0%} of STREAM), {run['implementation']}, "
                     f"{run['passes_over_x']} pass(es), {run['bytes_x_min'] / 1e6:.0f} MB of X"])
        if run["method"] == "manual_gd":
            targets.append(perf.target(f"manual_gd {run['dtype']} effective bandwidth / STREAM", share, 0.5, "min"))
    cf = results["closed_form"]["methods"]
    sk = cf["sklearn LinearRegression"]["seconds"]
    for name, m in cf.items():
        rows.append(["closed form", name, f"{m['seconds']:.3f} s",
                     f"{sk / m['seconds']:.2f}x vs sklearn, max rel err {m['max_rel_error']:.2e}"])
    lstsq = cf["lstsq (workflow default: lstsq_solver auto)"]
    targets.append(perf.target("lstsq speed-up over sklearn LinearRegression", sk / lstsq["seconds"], 3.0, "min", "x"))
    targets.append(perf.target("lstsq max relative parameter error (float64)", lstsq["max_rel_error"], 1e-6, "max"))
    mem = results["memory"]
    rows.append(["memory", "peak RSS / X bytes, fit (float32)", f"{mem['fit']['ratio_to_x']:.2f}x",
                 f"{mem['fit']['peak_rss_bytes'] / 2**20:.0f} MiB; imports alone "
                 f"{mem['baseline_imports']['peak_rss_bytes'] / 2**20:.0f} MiB; X {mem['x_bytes'] / 2**20:.0f} MiB"])
    targets.append(perf.target("peak RSS / size of X, 1e7x10 float32 fit", mem["fit"]["ratio_to_x"], 3.0, "max", "x"))
    if "job" in mem:
        rows.append(["memory", "peak RSS / X bytes, workflow job path", f"{mem['job']['ratio_to_x']:.2f}x",
                     f"{mem['job']['peak_rss_bytes'] / 2**20:.0f} MiB (parquet load + mse in float64)"])
        targets.append(perf.target("peak RSS / size of X, job path (fit_files)", mem["job"]["ratio_to_x"], 3.0, "max", "x"))
    for dtype, m in results["matmul"]["dtypes"].items():
        rows.append(["matmul", f"numpy n={results['matmul']['n']} {dtype}", f"{m['gflops']:.1f} GFLOP/s",
                     f"{m['fraction_of_peak']:.0%} of estimated peak {m['peak_gflops']:.1f}"])
    for name, s in results["startup"].items():
        rows.append(["start-up", name, f"{s['seconds_median']:.2f} s", s["code"][:60]])
    wf = results.get("workflow")
    if wf:
        rows.append(["workflow", "full default run", f"{wf['wall_seconds']:.1f} s",
                     f"{wf['jobs']} jobs, jobs' own s {wf['job_seconds']:.1f}, compute ratio {wf['compute_ratio']:.2f}, "
                     f"fits' compute {wf['fit_compute']['seconds']:.2f} s"])
        rows.append(["workflow", "start-up share", f"{wf['startup_share']:.0%}",
                     f"lower bound {wf['startup_share_lower_bound']:.0%} (bare interpreter)"])
        rows.append(["workflow", "fit jobs outside the fit", f"{wf['fit_jobs_noncompute_share']:.0%}",
                     f"{wf['fit_jobs_noncompute_seconds']:.0f} s of fit-stage job time not in the fits' own seconds"])
        rows.append(["workflow", "no-op rerun", f"{wf['noop_rerun']['seconds_median']:.2f} s", ""])
        targets.append(perf.target("workflow start-up share of wall x cores", wf["startup_share"], 0.25, "max"))
        targets.append(perf.target("no-op rerun seconds", wf["noop_rerun"]["seconds_median"], 2.0, "max", "s"))
    return targets, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the full-workflow part (development)")
    parser.add_argument("--out", default=str(ROOT / "results" / "perf"), help="output folder (default results/perf)")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the large data sets (default 1e7)")
    parser.add_argument("--features", type=int, default=10, help="features of the large data sets (default 10)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="threads (default: usable CPUs)")
    parser.add_argument("--repeats", type=int, default=5, help="timed gradient iterations per method (default 5)")
    parser.add_argument("--matmul-n", type=int, default=4096, help="matmul size (default 4096)")
    parser.add_argument("--stream-elements", type=int, default=1 << 25, help="STREAM array length (default 2^25)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the workflow's temporary directory")
    parser.add_argument("--no-job-memory", action="store_true", help="skip the job-path memory measurement")
    args = parser.parse_args(argv)

    out = Path(args.out)
    from descent.machine import cpu_facts

    results: dict[str, Any] = {}
    machine = {"cpu": cpu_facts(), "threads": args.threads, "python": sys.version.split()[0],
               "load_average_start": load_average(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    results["startup"] = bench_startup(3)
    if not args.quick:
        results["workflow"] = bench_workflow(args.threads, results["startup"], args.keep_workdir)
    results["stream"] = bench_stream(args.threads, args.stream_elements)
    results["throughput"] = bench_throughput(args.rows, args.features, args.threads, args.repeats)
    results["closed_form"] = bench_closed_form(args.rows, args.features, args.threads, 2)
    results["memory"] = bench_memory(args.rows, args.features, args.threads, not args.no_job_memory)
    results["matmul"] = bench_matmul(args.threads, args.matmul_n, 3)
    machine["load_average_end"] = load_average()
    targets, rows = summarize(results)
    for name, data in results.items():
        write_json(out / f"{name}.json", data)
    write_json(out / "machine.json", machine)
    write_json(out / "summary.json", {"machine": machine, "targets": targets, "quick": args.quick,
                                      "argv": sys.argv[1:] if argv is None else argv})
    print(perf.format_table(rows, ["part", "what", "value", "detail"]))
    print()
    print(perf.format_table(
        [[t["target"], t["value"], f"{'>=' if t['kind'] == 'min' else '<='} {t['limit']:g}", t["ratio"],
          "met" if t["met"] else f"MISSED by {t['missed_by']:.0%}"] for t in targets],
        ["target", "value", "limit", "value/limit", "status"]))
    print(f"\nload average start {machine['load_average_start']} end {machine['load_average_end']}; "
          f"results in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
