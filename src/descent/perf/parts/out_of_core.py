"""A dataset larger than this machine's memory (default 6·10⁸ × 10 float32, 28 GiB on disk),
written in row groups and fitted from disk by the certified closed form and by a few full-batch
descent iterations, each in a fresh child whose peak resident memory is measured; rows/s against
the parquet read rate of the same file (``out_of_core.json``)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from descent.fitting import stream
from descent.perf.child import run_child
from descent.perf.part import Flag, Part, Result, child_env, fit_settings, log
from descent.perf.tables import target
from descent.resources import machine_mem_mb


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    rows, k, iterations, directory = args.ooc_rows, args.features, args.ooc_iterations, args.ooc_dir
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
        read = run_child("read_parquet", {"path": str(path)}, env=env)
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
            arguments = {"path": str(path), "features": meta["features"], "scaling": scaling, "settings": settings}
            result = run_child("fit_streamed", {**arguments, "init": init}, env=env)
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


def rows(ooc: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    table = [
        [
            "out_of_core",
            f"{ooc['rows']}x{ooc['k']} float32 on disk",
            f"{ooc['file_bytes'] / 2**30:.1f} GiB",
            f"machine {ooc['machine_mem_mb'] / 1024:.1f} GiB; read {ooc['read']['rows_per_second']:.3g} rows/s",
        ]
    ]
    for name, fit in ooc["fits"].items():
        table.append(
            [
                "out_of_core",
                name,
                f"{fit['rows_per_second']:.3g} rows/s",
                f"{fit['ratio_to_read_rate']:.2f} of read rate; peak RSS {fit['peak_rss_mb']:.0f} MB; {fit['status']}",
            ]
        )
    return table


def targets(ooc: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    found = []
    for name, fit in ooc["fits"].items():
        found.append(target(f"out of core {name}: peak RSS (MB)", fit["peak_rss_mb"], 1024, "max", "MB"))
        found.append(target(f"out of core {name}: rows/s / read rate", fit["ratio_to_read_rate"], 0.5, "min"))
    return found


PART = Part(
    name="out_of_core",
    position=90,
    description=__doc__ or "",
    run=run,
    rows=rows,
    targets=targets,
    flags=(
        Flag(
            "--ooc-rows",
            {
                "type": int,
                "default": 600_000_000,
                "help": "rows of the out-of-core dataset (default 6e8: 24 GB of float32 with 10 features)",
            },
        ),
        Flag("--ooc-iterations", {"type": int, "default": 3, "help": "streamed descent iterations (default 3)"}),
        Flag(
            "--ooc-dir",
            {
                "default": None,
                "help": "keep the out-of-core file in this folder and reuse it on the next run "
                "(default: a temporary folder)",
            },
        ),
    ),
)
