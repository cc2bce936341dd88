"""Measurements that need a fresh interpreter, to see their own peak resident memory.

Each is a function here taking JSON-able keyword arguments and returning a dict. The benchmark
runs one as ``python -m descent.perf.child NAME 'JSON'`` (:func:`run_child`), which prints its
result with ``peak_rss_bytes``, the child's high-water resident set (``VmHWM``) at the end. Each
function imports what it measures inside itself, so that the memory seen is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from descent.perf.tables import vm_hwm_bytes


def _peak() -> int:
    with open("/proc/self/status") as status:
        return vm_hwm_bytes(status.read())


def baseline_imports() -> dict[str, Any]:
    """What a fit job imports before it touches data (the memory every child below starts from)."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    import torch  # noqa: F401

    import descent.fitting.records  # noqa: F401  (measured: a fit job's imports)
    import descent.io  # noqa: F401  (measured: a fit job's imports)

    return {}


def fit_arrays(x: str, y: str, threads: int, settings: dict[str, Any]) -> dict[str, Any]:
    """``np.load`` X and y (``.npy``), then a raw ``manual_gd`` fit of them
    (``descent.fitting.iterative.fit_iterative``)."""
    import numpy as np

    # measured: the fit's imports, then the data
    from descent.fitting.iterative import fit_iterative
    from descent.fitting.registry import typed_settings

    X, target = np.load(x), np.load(y)
    after_load = _peak()
    import torch

    torch.set_num_threads(threads)
    out = fit_iterative(X, target, "manual_gd", typed_settings(settings), [0.0] * X.shape[1], 0.0)
    return {
        "rss_after_load_bytes": after_load,
        "iterations": out.iterations,
        "x_bytes": X.nbytes,
        "seconds": out.seconds,
    }


def fit_job(parquet: str, meta: str, threads: int, k: int, settings: dict[str, Any]) -> dict[str, Any]:
    """A workflow fit job's path: ``descent.fitting.records.fit_files`` from parquet, raw ``manual_gd``."""
    import torch

    from descent.fitting.records import fit_files  # measured: the job's own imports

    torch.set_num_threads(threads)
    job = {"dataset": "bench", "scaling": "raw", "method": "manual_gd"}
    record, _ = fit_files(parquet, meta, job, settings, ([0.0] * k, 0.0), [])
    return {"iterations": record["iterations"], "seconds": record["seconds"]}


def read_parquet(path: str) -> dict[str, Any]:
    """Read a parquet file once, batch by batch (pyarrow, no compute): the read rate to compare with."""
    import pyarrow.parquet as pq

    start, rows = time.perf_counter(), 0
    with pq.ParquetFile(path, pre_buffer=False) as handle:
        for batch in handle.iter_batches(batch_size=1 << 18):
            rows += batch.num_rows
    return {"rows": rows, "seconds": time.perf_counter() - start}


def fit_streamed(
    path: str, features: list[str], scaling: str, settings: dict[str, Any], init: Any | None
) -> dict[str, Any]:
    """A float32 parquet file fitted from disk, chunk by chunk (``descent.fitting.streamed.fit_streaming``)."""
    import numpy as np

    # measured: the streamed fit's imports
    from descent.fitting import stream
    from descent.fitting.registry import typed_settings
    from descent.fitting.streamed import fit_streaming

    def chunks() -> Any:
        return stream.parquet_chunks(path, features, "y")

    start = time.perf_counter()
    outcome, w, b = fit_streaming(chunks, features, np.dtype("float32"), scaling, typed_settings(settings), init)
    return {
        "seconds": time.perf_counter() - start,
        "status": outcome.status,
        "iterations": outcome.iterations,
        "weights": [float(v) for v in w],
        "bias": float(b),
        "passes": outcome.extra.get("passes"),
        "certificate": outcome.extra.get("certificate"),
    }


#: The measurements a child can run, by name.
CHILDREN: dict[str, Callable[..., dict[str, Any]]] = {
    f.__name__: f for f in (baseline_imports, fit_arrays, fit_job, read_parquet, fit_streamed)
}


def run_child(
    name: str, kwargs: dict[str, Any] | None = None, env: dict[str, str] | None = None, python: str = sys.executable
) -> dict[str, Any]:
    """Run the measurement ``name`` of :data:`CHILDREN` in a fresh interpreter; its result plus
    ``peak_rss_bytes``. Raises with the child's last lines of stderr when it fails."""
    if name not in CHILDREN:
        raise ValueError(f"unknown child measurement {name!r}; known: {', '.join(CHILDREN)}")
    command = [python, "-m", "descent.perf.child", name, json.dumps(kwargs or {})]
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m descent.perf.child NAME 'JSON'``: print the result and the peak resident memory."""
    name, arguments = (sys.argv[1:] if argv is None else argv)[:2]
    result = CHILDREN[name](**json.loads(arguments))
    print(json.dumps({**result, "peak_rss_bytes": _peak()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
