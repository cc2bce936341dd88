"""The report's tables and generated findings, computed from the fits' results.

Everything here is pure: it takes frames/records read by the rule script and returns frames,
dicts and sentences. ``summary`` is ``results/fits/summary.parquet`` (one row per fit); a
``history`` is a ``results/fits/…/{method}.history.parquet`` frame (``iteration``, ``loss``,
``grad_norm``, ``w0..w{k-1}``, ``b``); ``records`` maps ``(dataset, scaling, method)`` to a fit's JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from descent.fit_config import ITERATIVE_METHODS
from descent.report import format_number, format_vector

FitKey = tuple[str, str, str]

#: Status of a fit as shown in the table (``status`` column of :func:`mark_fits`).
STATUS_FAILED = "failed"
STATUS_UNCONVERGED = "not converged"
STATUS_CONVERGED = "converged"
STATUS_CLOSED_FORM = "closed form"


def fit_status(row: Mapping[str, Any]) -> str:
    """``'failed'`` (diverged, non-finite result, or a closed form flagged ``rank_deficient``), ``'closed form'``,
    ``'converged'`` or ``'not converged'`` (an iterative fit that used up its iterations)."""
    values = [row.get("bias"), row.get("mse"), *list(row.get("weights") if row.get("weights") is not None else [])]
    finite = all(v is not None and math.isfinite(float(v)) for v in values)
    if bool(row.get("diverged")) or not finite:
        return STATUS_FAILED
    if row.get("base_method") not in ITERATIVE_METHODS:
        return STATUS_FAILED if bool(row.get("rank_deficient")) else STATUS_CLOSED_FORM
    return STATUS_CONVERGED if bool(row.get("converged")) else STATUS_UNCONVERGED


def mark_fits(
    summary: pd.DataFrame, best_rtol: float = 1e-9, records: Mapping[FitKey, dict[str, Any]] | None = None
) -> pd.DataFrame:
    """``summary`` plus ``rank_deficient`` (from the fit ``records`` when given), ``status``
    (:func:`fit_status`), ``failed`` and ``best``.

    Within each dataset, ``best`` marks every non-failed fit whose ``mse`` is within ``best_rtol``
    (relative) of the lowest non-failed ``mse`` — several fits reaching the same minimum tie.
    Rows keep the summary's order.
    """
    frame = summary.copy()
    records = records or {}
    frame["rank_deficient"] = [
        bool(records.get((d, s, m), {}).get("rank_deficient", False))
        for d, s, m in zip(frame["dataset"], frame["scaling"], frame["method"])
    ]
    frame["status"] = [fit_status(row) for row in frame.to_dict("records")]
    frame["failed"] = frame["status"] == STATUS_FAILED
    frame["best"] = False
    for _, group in frame[~frame["failed"]].groupby("dataset", sort=False):
        lowest = float(group["mse"].min())
        frame.loc[group.index[group["mse"] <= lowest + best_rtol * abs(lowest)], "best"] = True
    return frame


def iterations_to_tolerance(history: pd.DataFrame, tolerance: float, criterion: str = "grad_norm") -> int | None:
    """The first iteration at which a fit met its convergence test, from its history.

    ``grad_norm``: ``grad_norm[i] <= tolerance * grad_norm[0]``; ``loss_change``:
    ``|loss[i] - loss[i-1]| <= tolerance * loss[i-1]``. ``None`` when never met.

    >>> h = pd.DataFrame({"iteration": [0, 1, 2, 3], "loss": [4.0, 1.0, 0.5, 0.4], "grad_norm": [10.0, 3.0, 0.5, 0.01]})
    >>> iterations_to_tolerance(h, 0.1)
    2
    """
    if history.empty:
        return None
    if criterion == "grad_norm":
        grad = history["grad_norm"].to_numpy(dtype=np.float64)
        hits = np.flatnonzero(grad <= tolerance * grad[0])
    else:
        loss = history["loss"].to_numpy(dtype=np.float64)
        hits = np.flatnonzero(np.abs(np.diff(loss)) <= tolerance * loss[:-1]) + 1
    return int(history["iteration"].iloc[int(hits[0])]) if hits.size else None


#: Columns of a dataset's summary table: (field, header). ``field`` is the ``data-field`` of
#: the cell; the cell's ``data-value`` holds the full-precision value from summary.parquet.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("method", "method"),
    ("scaling", "scaling"),
    ("weights", "weights w"),
    ("bias", "bias b"),
    ("dist_to_lstsq", "‖θ − θ_lstsq‖"),
    ("rel_dist_to_lstsq", "relative"),
    ("dist_to_true", "‖θ − θ_true‖"),
    ("mse", "final MSE"),
    ("iterations", "iterations"),
    ("lr", "step"),
    ("status", "status"),
    ("seconds", "fit time (s)"),
)


def cell(field: str, value: Any) -> dict[str, str]:
    """One table cell: ``text`` for reading and ``value``, the exact value (``repr`` of floats,
    JSON-style list for vectors, ``''`` for missing) for machines (the page's ``data-value``)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        values = [float(v) for v in value]
        return {"text": format_vector(values), "value": "[" + ", ".join(repr(v) for v in values) + "]"}
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return {"text": "–", "value": ""}
    if isinstance(value, (bool, np.bool_)):
        return {"text": "yes" if value else "no", "value": "true" if value else "false"}
    if isinstance(value, (int, np.integer)):
        return {"text": str(int(value)), "value": str(int(value))}
    if isinstance(value, (float, np.floating)):
        return {"text": format_number(float(value)), "value": repr(float(value))}
    return {"text": str(value), "value": str(value)}


def status_text(row: Mapping[str, Any]) -> str:
    """The status cell's words, e.g. ``'failed: diverged at iteration 2'``."""
    status = row["status"]
    if status == STATUS_FAILED and bool(row.get("diverged")):
        at = row.get("diverged_at")
        return "failed: diverged" + ("" if at is None or at is pd.NA else f" at iteration {int(at)}")
    return str(status)


def dataset_table(marked: pd.DataFrame, dataset: str) -> dict[str, Any]:
    """The summary table of one dataset: header, reference rows and one row per fit.

    Returns ``{"dataset", "features", "columns": [(field, header)], "references": [...],
    "rows": [{"key": (dataset, scaling, method), "classes": [...], "cells": {field: cell}}]}``;
    references are the true parameters and the independent NumPy float64 least squares.
    """
    rows = marked[marked["dataset"] == dataset]
    if rows.empty:
        raise KeyError(f"no fits for dataset {dataset!r}")
    first = rows.iloc[0]
    references = [
        {"label": "true parameters", "weights": cell("weights", list(first["true_weights"])),
         "bias": cell("bias", float(first["true_bias"]))},
        {"label": "least squares (NumPy, float64)", "weights": cell("weights", list(first["lstsq_weights"])),
         "bias": cell("bias", float(first["lstsq_bias"])), "mse": cell("mse", float(first["lstsq_mse"]))},
    ]
    out_rows = []
    for record in rows.to_dict("records"):
        classes = ["best"] if record["best"] else []
        if record["status"] == STATUS_FAILED:
            classes.append("failed")
        elif record["status"] == STATUS_UNCONVERGED:
            classes.append("unconverged")
        cells = {}
        for field, _ in TABLE_COLUMNS:
            value = record.get(field)
            cells[field] = cell(field, value)
        cells["status"] = {"text": status_text(record) + (" ★ best" if record["best"] else ""),
                           "value": record["status"]}
        out_rows.append({"key": (record["dataset"], record["scaling"], record["method"]),
                         "classes": classes, "cells": cells})
    return {"dataset": dataset, "features": list(first["features"]), "columns": list(TABLE_COLUMNS),
            "references": references, "rows": out_rows}


# --------------------------------------------------------------------------------------------
# Findings (generated sentences)
# --------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.3g} %"


def dataset_findings(
    marked: pd.DataFrame,
    dataset: str,
    records: Mapping[FitKey, dict[str, Any]],
    histories: Mapping[FitKey, pd.DataFrame],
) -> list[str]:
    """A few sentences stating what the fits of ``dataset`` found, every number computed.

    Covers: which fits reached the least-squares minimum (best), the failed ones, how far raw
    full-batch descent ended from the least-squares intercept and slope, how many iterations
    each standardized descent needed to meet its tolerance, and the fastest fit.
    """
    rows = marked[marked["dataset"] == dataset]
    sentences: list[str] = []
    best = rows[rows["best"]]
    sentences.append(
        f"{len(best)} of {len(rows)} fits reach the lowest MSE ({format_number(float(best['mse'].min()))}, "
        f"least squares: {format_number(float(rows['lstsq_mse'].iloc[0]))}): "
        + ", ".join(f"{m} ({s})" for m, s in zip(best["method"], best["scaling"])) + "."
        if not best.empty else f"None of the {len(rows)} fits of {dataset} succeeded."
    )
    failed = rows[rows["failed"]]
    if not failed.empty:
        sentences.append(
            "Failed: " + "; ".join(
                f"{r['method']} ({r['scaling']}) {status_text(r).removeprefix('failed: ')}" for r in failed.to_dict("records")
            ) + "."
        )
    lstsq_b = float(rows["lstsq_bias"].iloc[0])
    lstsq_w = [float(v) for v in rows["lstsq_weights"].iloc[0]]
    for record in rows[(rows["scaling"] == "raw") & rows["base_method"].isin(ITERATIVE_METHODS)
                       & (rows["method"] == rows["base_method"])].to_dict("records"):
        if record["failed"]:
            continue
        gap = float(record["bias"]) - lstsq_b
        text = (f"Raw {record['method']} ended after {int(record['iterations'])} iterations at b = "
                f"{format_number(float(record['bias']))}, {format_number(abs(gap))} "
                f"{'below' if gap < 0 else 'above'} the least-squares intercept {format_number(lstsq_b)}"
                + (f" ({_pct(abs(gap) / abs(lstsq_b))} of it)" if lstsq_b != 0 else ""))
        if len(lstsq_w) == 1:
            text += (f", with w = {format_number(float(record['weights'][0]))} against "
                     f"{format_number(lstsq_w[0])}")
        text += f" ({record['status']})."
        sentences.append(text)
    for record in rows[(rows["scaling"] == "standardized") & rows["base_method"].isin(ITERATIVE_METHODS)].to_dict("records"):
        key = (dataset, "standardized", record["method"])
        settings = records.get(key, {}).get("settings", {})
        history = histories.get(key)
        if history is None or record["failed"] or "tolerance" not in settings:
            continue
        criterion = settings.get("stop_criterion", "grad_norm")
        needed = iterations_to_tolerance(history, float(settings["tolerance"]), criterion)
        test = ("gradient norm ≤ " if criterion == "grad_norm" else "relative loss change ≤ ") + format_number(
            float(settings["tolerance"])) + (" × its initial value" if criterion == "grad_norm" else "")
        if needed is None:
            sentences.append(f"Standardized {record['method']} did not get within tolerance ({test}) in "
                             f"{int(record['iterations'])} iterations.")
        else:
            sentences.append(f"Standardized {record['method']} needed {needed} iterations to get within "
                             f"tolerance ({test}); it ended {format_number(float(record['rel_dist_to_lstsq']))} "
                             "(relative) from the least-squares solution.")
    ok = rows[~rows["failed"]]
    if not ok.empty:
        fastest = ok.loc[ok["seconds"].idxmin()]
        sentences.append(f"Fastest successful fit: {fastest['method']} ({fastest['scaling']}) in "
                         f"{format_number(float(fastest['seconds']), 3)} s (timings vary from run to run).")
    return sentences


def gradient_check_rows(checks: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per dataset and dtype of the gradient checks: ``dataset``, ``dtype``, ``loss``,
    ``max_abs_diff``, ``max_rel_diff``, ``eps`` and ``agree`` (relative difference within
    ``100 · n_params · eps``)."""
    rows = []
    for dataset in sorted(checks):
        check = checks[dataset]
        for dtype in ("float64", "float32"):
            if dtype not in check:
                continue
            part = check[dtype]
            n_params = len(part["hand"]["weights"]) + 1
            rows.append({"dataset": dataset, "dtype": dtype, "loss": part["loss"],
                         "max_abs_diff": part["max_abs_diff"], "max_rel_diff": part["max_rel_diff"],
                         "eps": part["eps"],
                         "agree": bool(part["max_rel_diff"] <= 100 * n_params * part["eps"])})
    return rows


# --------------------------------------------------------------------------------------------
# Benchmark and lessons
# --------------------------------------------------------------------------------------------

BENCHMARK_COLUMNS: tuple[str, ...] = (
    "backend", "device", "dtype", "n", "seconds_median", "gflops", "peak_gflops", "fraction_of_peak",
    "threads", "max_abs_error", "status",
)


def benchmark_findings(table: pd.DataFrame, sidecar: dict[str, Any]) -> list[str]:
    """Sentences on the matmul benchmark: the fastest measured backend per dtype at the largest
    size, its fraction of the peak, the CUDA status, then the benchmark's own notes."""
    sentences: list[str] = []
    measured = table[table["status"] == "ok"]
    for dtype in sorted(measured["dtype"].unique()):
        sub = measured[measured["dtype"] == dtype]
        n = int(sub["n"].max())
        at_n = sub[sub["n"] == n]
        top = at_n.loc[at_n["gflops"].idxmax()]
        frac = top["fraction_of_peak"]
        sentences.append(
            f"{dtype}, n = {n}: fastest is {top['backend']} ({top['device']}) at {format_number(float(top['gflops']), 4)} "
            f"GFLOP/s" + (f", {_pct(float(frac))} of the estimated peak" if pd.notna(frac) else "") + "."
        )
    cuda = table[table["backend"] == "torch_cuda"]
    if not cuda.empty:
        statuses = sorted(set(cuda["status"]))
        sentences.append("CUDA (torch_cuda): " + ", ".join(statuses)
                         + (f" — {sidecar['machine']['gpu_name']}" if sidecar.get("machine", {}).get("gpu_name") else "")
                         + ".")
    sentences.extend(str(note) for note in sidecar.get("notes", []))
    return sentences


def lessons_findings(summaries: Mapping[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Sentences per lesson experiment from its JSON summary (keys ``binomial``, ``descent_x2``,
    ``minima``, ``vectors``); fields that are absent are skipped."""
    out: dict[str, list[str]] = {}
    b = summaries.get("binomial")
    if b:
        lines = []
        if "mean_correct" in b and "expected_mean_correct" in b:
            lines.append(f"{b.get('n_tests')} random tests of {b.get('n_questions')} questions: mean score "
                         f"{format_number(b['mean_correct'])} (expected {format_number(b['expected_mean_correct'])}), "
                         f"variance {format_number(b.get('variance_correct'))} (expected "
                         f"{format_number(b.get('expected_variance_correct'))}); within tolerance: "
                         f"{format_number(bool(b.get('mean_within_tolerance')))}.")
        lt = b.get("long_test")
        if lt:
            lines.append(f"One long test of {lt.get('n_questions')} questions: {format_number(lt.get('fraction_correct'))} "
                         f"right (z = {format_number(lt.get('z_score'), 3)}).")
        out["binomial"] = lines
    d = summaries.get("descent_x2")
    if d:
        out["descent_x2"] = [
            f"Step {format_number(r.get('step_size'))}: {r.get('status')} after {r.get('iterations')} iterations "
            f"(x multiplied by {format_number(r.get('factor_per_step'))} per step; {r.get('reason')})."
            for r in d.get("runs", [])
        ]
    m = summaries.get("minima")
    if m:
        lines = []
        if "fraction_global" in m:
            lines.append(f"{_pct(float(m['fraction_global']))} of {m.get('config', {}).get('n_starts', '?')} random starts "
                         f"reached the global minimum"
                         + (f" at x = {format_vector(m['global_minimum']['x'])}" if m.get("global_minimum") else "")
                         + "; the rest stopped in a local minimum.")
        if "best_is_global" in m:
            lines.append(f"Keeping the best of all restarts finds the global minimum: {format_number(bool(m['best_is_global']))}.")
        out["minima"] = lines
    v = summaries.get("vectors")
    if v:
        lines = []
        if "dot_product" in v:
            lines.append(f"Dot product by hand {format_number(v['dot_product'].get('dot_by_hand'))} = NumPy "
                         f"{format_number(v['dot_product'].get('dot_numpy'))}.")
        if "linear_model" in v:
            lines.append(f"Linear model output {format_number(v['linear_model'].get('output'))}, with the bias folded "
                         f"into the weights: {format_number(v['linear_model'].get('output_folded'))}.")
        out["vectors"] = lines
    return out
