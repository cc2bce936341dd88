"""Peak resident memory (VmHWM) of a 10⁷ × 10 float32 ``manual_gd`` fit, alone and on the
workflow's job path (parquet → fit), relative to the size of X (``memory.json``)."""

from __future__ import annotations

import shutil
import tempfile
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from descent.io import write_json
from descent.perf.bandwidth import synthetic_regression
from descent.perf.child import run_child
from descent.perf.part import Flag, Part, Result, child_env, fit_settings, log
from descent.perf.tables import target


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    import pandas as pd

    rows, k, threads = args.rows, args.features, args.threads
    log(f"peak RSS of a {rows}x{k} float32 manual_gd fit")
    X, y, w_true, b_true = synthetic_regression(rows, k, "float32", seed=2)
    x_bytes = X.nbytes
    tmp = Path(tempfile.mkdtemp(prefix="descent-bench-mem-"))
    try:
        np.save(tmp / "X.npy", X)
        np.save(tmp / "y.npy", y)
        env = child_env()
        baseline = run_child("baseline_imports", env=env)
        # The settings are built here (reading the schema imports snakemake, which the children must not).
        settings = fit_settings(
            "manual_gd", lr=1e-3, iterations=3, loss_reduction="mean", tolerance=1e-5, stop_criterion="grad_norm"
        ).as_dict()
        arrays = {"x": str(tmp / "X.npy"), "y": str(tmp / "y.npy"), "threads": threads, "settings": settings}
        fit = run_child("fit_arrays", arrays, env=env)
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
        if not args.no_job_memory:
            log("  the workflow job path: fit_files from parquet")
            features = [f"x{j}" for j in range(k)]
            frame = pd.DataFrame({name: X[:, j] for j, name in enumerate(features)})
            frame["y"] = y
            frame.to_parquet(tmp / "bench.parquet", engine="pyarrow", index=False, compression="zstd")
            del frame
            write_json(
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
            paths = {"parquet": str(tmp / "bench.parquet"), "meta": str(tmp / "bench.json")}
            job = run_child("fit_job", {**paths, "threads": threads, "k": k, "settings": settings}, env=env)
            out["job"] = {
                **job,
                "ratio_to_x": job["peak_rss_bytes"] / x_bytes,
                "ratio_to_x_above_imports": (job["peak_rss_bytes"] - baseline["peak_rss_bytes"]) / x_bytes,
                "what": "descent.fitting.records.fit_files (load_dataset from parquet, fit_record with mse), raw manual_gd",
            }
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rows(mem: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    table = [
        [
            "memory",
            "peak RSS / X bytes, fit (float32)",
            f"{mem['fit']['ratio_to_x']:.2f}x",
            f"{mem['fit']['peak_rss_bytes'] / 2**20:.0f} MiB; imports alone "
            f"{mem['baseline_imports']['peak_rss_bytes'] / 2**20:.0f} MiB; X {mem['x_bytes'] / 2**20:.0f} MiB",
        ]
    ]
    if "job" in mem:
        table.append(
            [
                "memory",
                "peak RSS / X bytes, workflow job path",
                f"{mem['job']['ratio_to_x']:.2f}x",
                f"{mem['job']['peak_rss_bytes'] / 2**20:.0f} MiB (parquet read batch by batch into X, then the fit and its MSE)",
            ]
        )
    return table


def targets(mem: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    found = [target("peak RSS / size of X, 1e7x10 float32 fit", mem["fit"]["ratio_to_x"], 3.0, "max", "x")]
    if "job" in mem:
        found.append(target("peak RSS / size of X, job path (fit_files)", mem["job"]["ratio_to_x"], 3.0, "max", "x"))
    return found


PART = Part(
    name="memory",
    position=70,
    description=__doc__ or "",
    run=run,
    rows=rows,
    targets=targets,
    flags=(Flag("--no-job-memory", {"action": "store_true", "help": "skip the job-path memory measurement"}),),
)
