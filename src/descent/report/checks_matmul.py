"""Claim checks on the matmul benchmark (``results/benchmark/matmul.parquet`` and its sidecar):
Lesson 0's naive loop within two minutes at n = 500, NumPy at least ten times faster, and NumPy
described as Strassen, O(n^2.807), against the exponent fitted to the measured times.

Speed depends on the machine, so these verdicts use :func:`descent.report.checkbase.machine_verdict`
(holds with a wide margin / holds only on some machines / does not hold here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from descent.report import analysis
from descent.report.checkbase import FAILS, HOLDS, UNCHECKED, Outcome, check, machine_verdict, unchecked


def _rows(table: pd.DataFrame, backend: str, dtype: str) -> pd.DataFrame:
    rows = table[(table["backend"] == backend) & (table["dtype"] == dtype)]
    return rows.sort_values("n")


def _measured(rows: pd.DataFrame) -> pd.DataFrame:
    ok = rows["status"].astype(str).eq("ok") & ~rows["extrapolated"].astype(bool)
    return rows[ok & np.isfinite(rows["seconds_median"].astype(float))]


@check("naive_loop_time")
def naive_loop_time(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Lesson 0's loop (backend ``backend``) multiplies two n × n matrices (``n``, float64, the
    lesson's dtype) within ``seconds``. From the backend's row at ``n``; when the run has none (a
    smaller ``lesson_n``), extrapolated as O(n³) from its largest measured size — and said so.
    ``expected``: ``backend``, ``n``, ``seconds``, ``dtype``, ``robust_margin``."""
    table = results.benchmark
    if table is None:
        return unchecked("the matmul benchmark is not in this run")
    rows = _rows(table, exp["backend"], exp["dtype"])
    if rows.empty:
        return unchecked(f"{exp['backend']} ({exp['dtype']}) is not in this run's benchmark")
    n, limit = int(exp["n"]), float(exp["seconds"])
    at_n = rows[rows["n"] == n]
    if not at_n.empty:
        row = at_n.iloc[0]
        seconds, extrapolated = float(row["seconds_median"]), bool(row["extrapolated"])
        how = {
            "row": "estimated" if extrapolated else "measured",
            "status": row["status"],
            "repeats": int(row["repeats"]),
            "compute_dtype": row.get("compute_dtype", exp["dtype"]),
        }
    else:
        measured = _measured(rows)
        if measured.empty:
            return unchecked(f"{exp['backend']} has no measured size in this run")
        base = measured.iloc[-1]
        seconds, extrapolated = float(base["seconds_median"]) * (n / float(base["n"])) ** 3, True
        how = {"row": "scaled", "from_n": int(base["n"]), "from_seconds": float(base["seconds_median"])}
    margin = limit / seconds
    verdict = machine_verdict(margin, float(exp["robust_margin"]))
    values = {"n": n, "seconds": seconds, "extrapolated": extrapolated, "margin": margin, "limit": limit, "how": how}
    return Outcome(verdict, "", values)


@check("numpy_speedup")
def numpy_speedup(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """NumPy's product is at least ``factor`` times faster than the naive loop, at the lesson's
    size ``n`` (``dtype``): the naive loop's row at ``n`` (measured, or extrapolated and said so)
    against the fast backend's nearest measured size, scaled to ``n`` as n³. Without a naive row
    at ``n``, the largest size where both were measured. ``expected``: ``naive``, ``fast``,
    ``dtype``, ``n``, ``factor``, ``robust_margin``."""
    table = results.benchmark
    if table is None:
        return unchecked("the matmul benchmark is not in this run")
    naive_rows = _rows(table, exp["naive"], exp["dtype"])
    fast = _measured(_rows(table, exp["fast"], exp["dtype"]))
    if naive_rows.empty or fast.empty:
        return unchecked(f"{exp['naive']} or {exp['fast']} ({exp['dtype']}) not measured in this run")
    n = int(exp["n"])
    at_n = naive_rows[naive_rows["n"] == n]
    if at_n.empty:
        common = sorted(set(_measured(naive_rows)["n"]) & set(fast["n"]))
        if not common:
            return unchecked(f"no size where both {exp['naive']} and {exp['fast']} were measured")
        n = int(common[-1])
        at_n = naive_rows[naive_rows["n"] == n]
    naive = at_n.iloc[0]
    nearest = fast.iloc[int(np.argmin(np.abs(np.log(fast["n"].to_numpy(dtype=np.float64) / n))))]
    fast_seconds = float(nearest["seconds_median"]) * (n / float(nearest["n"])) ** 3
    speedup = float(naive["seconds_median"]) / fast_seconds
    margin = speedup / float(exp["factor"])
    return Outcome(
        machine_verdict(margin, float(exp["robust_margin"])),
        "",
        {
            "n": n,
            "naive_seconds": float(naive["seconds_median"]),
            "fast_seconds": fast_seconds,
            "fast_measured_n": int(nearest["n"]),
            "speedup": speedup,
            "margin": margin,
            "naive_extrapolated": bool(naive["extrapolated"]),
        },
    )


def exponent_fit(rows: pd.DataFrame, min_rate_fraction: float) -> dict[str, Any] | None:
    """The log-log fit of time against n over the compute-bound sizes of one backend and dtype.

    Compute bound: measured rows whose GFLOP/s is at least ``min_rate_fraction`` of the best
    measured (below that, call overhead, caches and idle threads dominate). ``exponent`` is the
    least-squares slope of log(median seconds) on log(n); ``low``/``high`` bound it by the timing
    spread (each size's fastest or slowest run, whichever lowers/raises the slope). ``None`` with
    fewer than two such sizes.
    """
    measured = _measured(rows)
    if measured.empty:
        return None
    best = float(measured["gflops"].max())
    used = measured[measured["gflops"] >= min_rate_fraction * best]
    if len(used) < 2:
        return None
    n = used["n"].to_numpy(dtype=np.float64)
    slope, _ = analysis.fitted_log_slope(n, used["seconds_median"].to_numpy(dtype=np.float64))
    x = np.log(n) - np.log(n).mean()
    weights = x / float(x @ x)
    lo_t = np.log(used["seconds_min"].to_numpy(dtype=np.float64))
    hi_t = np.log(used["seconds_max"].to_numpy(dtype=np.float64))
    high = float(np.sum(np.where(weights > 0, weights * hi_t, weights * lo_t)))
    low = float(np.sum(np.where(weights > 0, weights * lo_t, weights * hi_t)))
    rates = used["gflops"].to_numpy(dtype=np.float64)
    peaks = used["peak_gflops"].to_numpy(dtype=np.float64) if "peak_gflops" in used else np.full(len(used), np.nan)
    return {
        "sizes": [int(v) for v in n],
        "exponent": slope,
        "low": low,
        "high": high,
        "best_gflops": best,
        "gflops": rates.tolist(),
        "above_peak": bool(np.any(np.isfinite(peaks) & (rates > 1.1 * peaks))),
    }


def _exponent_verdict(fit: dict[str, Any], claimed: float, classical: float) -> str:
    """One dtype's verdict on the Strassen claim from :func:`exponent_fit` (see :func:`matmul_exponent`)."""
    if fit["above_peak"]:
        return HOLDS
    if not fit["low"] <= claimed <= fit["high"] and fit["exponent"] >= (claimed + classical) / 2:
        return FAILS
    return UNCHECKED


@check("matmul_exponent")
def matmul_exponent(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """NumPy's product runs Strassen's algorithm, time ∝ n^``claimed`` (2.807), not the classical
    n^``classical`` (3): the exponent fitted over the compute-bound sizes (:func:`exponent_fit`),
    for each of ``dtypes``.

    Per dtype: a classical-count rate above the machine's peak proves less work than n³ → holds;
    else if the timing spread excludes ``claimed`` and the fit lies nearer ``classical`` → does
    not hold; anything else is inconclusive there (a classical kernel still gaining speed with n
    also grows slower than n³, and noisy timings can straddle both exponents). Overall: holds or
    does not hold when the conclusive dtypes agree, else not checked, with the reason.
    ``expected``: ``backend``, ``dtypes``, ``claimed``, ``classical``, ``min_rate_fraction``."""
    table = results.benchmark
    if table is None:
        return unchecked("the matmul benchmark is not in this run")
    claimed, classical = float(exp["claimed"]), float(exp["classical"])
    blas = ", ".join(
        f"{b.get('internal_api', '?')} {b.get('version', '')}".strip()
        for b in ((results.benchmark_sidecar or {}).get("machine", {}).get("blas") or [])
    )
    dtypes, verdicts, values = [], {}, {}
    for dtype in exp["dtypes"]:
        fit = exponent_fit(_rows(table, exp["backend"], dtype), float(exp["min_rate_fraction"]))
        if fit is None:
            dtypes.append({"dtype": dtype, "fit": None})
            continue
        verdicts[dtype] = _exponent_verdict(fit, claimed, classical)
        values[dtype] = {k: v for k, v in fit.items() if k != "gflops"}
        both = fit["low"] <= claimed <= fit["high"] and fit["low"] <= classical <= fit["high"]
        dtypes.append({"dtype": dtype, "fit": values[dtype], "verdict": verdicts[dtype], "admits_both": both})
    conclusive = {v for v in verdicts.values() if v != UNCHECKED}
    verdict = conclusive.pop() if len(conclusive) == 1 else UNCHECKED
    return Outcome(verdict, "", {"by_dtype": values, "verdicts": verdicts, "dtypes": dtypes, "blas": blas})
