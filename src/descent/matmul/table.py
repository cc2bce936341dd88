"""The columns of ``results/benchmark/matmul.parquet`` (a contract) and the typed frame of rows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from descent.matmul.backends import BACKENDS

#: Columns of ``results/benchmark/matmul.parquet``, in order, with their meaning (a contract).
COLUMNS: dict[str, str] = {
    "backend": " | ".join(BACKENDS),
    "device": "'cpu', or the CUDA device ('cuda:0'; 'cuda' when skipped)",
    "dtype": "float32 | float64: the operands' dtype (see compute_dtype for what the arithmetic ran in)",
    "compute_dtype": "dtype the products and sums were computed in: the operands' dtype, except naive_python, "
    "which loops over Python floats and so computes in float64 (its float32 rows multiply "
    "float32 values in float64)",
    "n": "matrix size: A and B are n x n",
    "seconds_median": "median seconds per product over the repeats (NaN when skipped)",
    "seconds_min": "fastest repeat, seconds per product",
    "seconds_max": "slowest repeat, seconds per product",
    "repeats": "timed samples taken (0 when extrapolated or skipped; 1 for the lesson's loop at lesson_n, "
    "timed once with no warm-up as the lesson does)",
    "loops_per_repeat": "products per timed sample (>1 only for tiny, fast sizes; 0 when not measured)",
    "warmup": "untimed warm-up products before timing",
    "gflops": "2 n^3 / seconds_median / 1e9",
    "peak_gflops": "estimated peak of the machine for the dtype (CPU: cores x FMA x lanes x 2 x clock; "
    "CUDA: datasheet), see the sidecar's 'peak'",
    "fraction_of_peak": "gflops / peak_gflops",
    "threads": "threads computing the product (torch/BLAS threads set from the rule's threads; 1 for the naive loops)",
    "max_abs_error": "max |C - C_ref| against the float64 NumPy reference (NaN when not measured)",
    "tolerance": "the error allowed: tolerance_factor x n x eps(dtype) x max row norm(A) x max column norm(B)",
    "extrapolated": "True when the row is an O(n^3) extrapolation, not a measurement",
    "status": "'ok', 'extrapolated: O(n^3) from n=<m>' or 'skipped: CUDA not available'",
}
#: Columns whose values depend on the timings (everything else is reproducible bit for bit).
TIMING_COLUMNS: tuple[str, ...] = (
    "seconds_median",
    "seconds_min",
    "seconds_max",
    "loops_per_repeat",
    "gflops",
    "fraction_of_peak",
)
_INT_COLUMNS = ("n", "repeats", "loops_per_repeat", "warmup", "threads")
_FLOAT_COLUMNS = (
    "seconds_median",
    "seconds_min",
    "seconds_max",
    "gflops",
    "peak_gflops",
    "fraction_of_peak",
    "max_abs_error",
    "tolerance",
)
_TEXT_COLUMNS = ("backend", "device", "dtype", "compute_dtype", "status")


def with_throughput(row: dict[str, Any], peak_gflops: float | None) -> dict[str, Any]:
    """``row`` plus ``gflops`` (from ``seconds_median``), ``peak_gflops`` and ``fraction_of_peak``."""
    seconds = row["seconds_median"]
    gflops = 2.0 * row["n"] ** 3 / seconds / 1e9 if seconds and math.isfinite(seconds) else math.nan
    peak = float(peak_gflops) if peak_gflops else math.nan
    return {
        **row,
        "gflops": gflops,
        "peak_gflops": peak,
        "fraction_of_peak": gflops / peak if math.isfinite(peak) else math.nan,
    }


def rows_frame(rows: Iterable[dict[str, Any]]) -> Any:
    """The rows as a ``pandas.DataFrame`` with exactly :data:`COLUMNS`, in order, with fixed dtypes,
    sorted by backend (registry order), dtype and n."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for column in _INT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    for column in _FLOAT_COLUMNS:
        frame[column] = frame[column].astype("float64")
    frame["extrapolated"] = frame["extrapolated"].astype(bool)
    for column in _TEXT_COLUMNS:
        frame[column] = frame[column].astype(str)
    order = {name: i for i, name in enumerate(BACKENDS)}
    frame = frame.sort_values(
        ["backend", "dtype", "n"], key=lambda s: s.map(order) if s.name == "backend" else s, kind="stable"
    )
    return frame.reset_index(drop=True)
