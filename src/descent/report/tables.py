"""The report's tables, computed from the fits' results.

Everything here is pure: it takes frames/records read by the rule script and returns frames,
dicts and rows for the page. ``summary`` is ``results/fits/summary.parquet`` (one row per fit,
with its recorded ``status``); ``records`` maps ``(dataset, scaling, method)`` to a fit's JSON;
``predictions`` is ``results/fits/predictions.parquet``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from descent.report.formatting import format_number, format_vector
from descent.report.status import (
    CATEGORY_FAILED,
    CATEGORY_SKIPPED,
    CATEGORY_UNCONVERGED,
    finite_parameters,
    is_diverging,
    loss_path,
    require_status,
    status_category,
    status_text,
)

FitKey = tuple[str, str, str]


def mark_fits(
    summary: pd.DataFrame,
    best_rtol: float = 1e-9,
    records: Mapping[FitKey, dict[str, Any]] | None = None,
    data_dtypes: Mapping[str, str] | None = None,
    words: Any = None,
    histories: Mapping[FitKey, Any] | None = None,
) -> pd.DataFrame:
    """``summary`` (n rows) plus, per fit, what the page shows about its recorded ``status``.

    Added columns: ``rank_deficient`` (from the fit ``records`` when given, else the summary's
    column, else false), ``category`` (:func:`descent.report.status.status_category`:
    ``'failed'``, ``'not converged'`` or ``'ok'``), ``failed``, ``unconverged``, ``status_text``
    (the category and reason in words) and ``best``. ``data_dtypes`` maps dataset to its dtype
    (for "stalled … (float32 precision)"); ``words`` the :class:`descent.report.words.Words` of
    the status's reason (default: the built-in ``status.j2``); ``histories`` the fits' loss
    histories, from which a fit whose loss grew tenfold is marked failed as diverging
    (:func:`descent.report.status.is_diverging`).

    Within each dataset, ``best`` marks every non-failed fit whose ``mse`` is within ``best_rtol``
    (relative) of the lowest non-failed ``mse`` — several fits reaching the same minimum tie.
    Rows keep the summary's order. Raises ``ValueError`` when the summary has no ``status``.
    """
    require_status(list(summary.columns))
    frame = summary.copy()
    records = records or {}
    data_dtypes = data_dtypes or {}
    keys = list(zip(frame["dataset"], frame["scaling"], frame["method"]))
    summary_rank = frame["rank_deficient"].tolist() if "rank_deficient" in frame else [False] * len(frame)
    frame["rank_deficient"] = [
        bool(records.get(key, {}).get("rank_deficient", flag if isinstance(flag, (bool, np.bool_)) else False))
        for key, flag in zip(keys, summary_rank)
    ]
    rows = frame.to_dict("records")
    histories = histories or {}
    paths = [loss_path(histories.get(key)) for key in keys]
    frame["diverging"] = [is_diverging(row["status"], path) for row, path in zip(rows, paths)]
    frame["category"] = [
        status_category(row["status"], finite_parameters(row), diverging)
        for row, diverging in zip(rows, frame["diverging"])
    ]
    frame["failed"] = frame["category"] == CATEGORY_FAILED
    frame["unconverged"] = frame["category"] == CATEGORY_UNCONVERGED
    frame["skipped"] = frame["category"] == CATEGORY_SKIPPED
    frame["status_text"] = [
        status_text(row, records.get(key), data_dtypes.get(key[0]), words, path)
        for row, key, path in zip(rows, keys, paths)
    ]
    frame["best"] = False
    for _, group in frame[~frame["failed"] & ~frame["skipped"]].groupby("dataset", sort=False):
        lowest = float(group["mse"].min())
        frame.loc[group.index[group["mse"] <= lowest + best_rtol * abs(lowest)], "best"] = True
    return frame


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
    ("certified_digits", "certified digits"),
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


def _known(value: Any) -> bool:
    """Present: not None/NaN (user data have no true parameters)."""
    if value is None:
        return False
    if isinstance(value, float):
        return not math.isnan(value)
    return True


def dataset_table(marked: pd.DataFrame, dataset: str) -> dict[str, Any]:
    """The summary table of one dataset: header, reference rows and one row per fit.

    ``marked`` comes from :func:`mark_fits`. Returns ``{"dataset", "features", "columns":
    [(field, header)], "references": [...], "rows": [{"key": (dataset, scaling, method), "classes":
    [...], "cells": {field: cell}}]}``; references are the true parameters and the independent NumPy
    float64 least squares (and, when some fit has ``fit_intercept: false``, the least squares
    through the origin). Classes: ``best``, ``failed`` (red), ``unconverged`` (amber). The status
    cell's value is the recorded status, its text the category and reason. ``no_intercept`` marks
    a row whose bias is fixed at 0 (the page says so in its bias cell).
    """
    rows = marked[marked["dataset"] == dataset]
    if rows.empty:
        raise KeyError(f"no fits for dataset {dataset!r}")
    first = rows.iloc[0]
    references: list[dict[str, Any]] = (
        [
            {
                "label": "true parameters",
                "weights": cell("weights", list(first["true_weights"])),
                "bias": cell("bias", float(first["true_bias"])),
            }
        ]
        if _known(first.get("true_weights")) and _known(first.get("true_bias"))
        else []
    )
    # The fits through the origin (fit_intercept: false) are compared with their own least squares.
    intercepts = [bool(v) for v in rows["fit_intercept"]] if "fit_intercept" in rows else [True] * len(rows)
    for intercept in sorted(set(intercepts), reverse=True):
        first_of = rows[[v == intercept for v in intercepts]].iloc[0]
        references.append(
            {
                "label": "least squares (NumPy, float64)"
                if intercept
                else "least squares through the origin (NumPy, float64)",
                "weights": cell("weights", list(first_of["lstsq_weights"])),
                "bias": cell("bias", float(first_of["lstsq_bias"])),
                "mse": cell("mse", float(first_of["lstsq_mse"])),
                "no_intercept": not intercept,
            }
        )
    out_rows = []
    for record in rows.to_dict("records"):
        classes = ["best"] if record["best"] else []
        if record["failed"]:
            classes.append("failed")
        elif record["unconverged"]:
            classes.append("unconverged")
        elif record.get("skipped"):
            classes.append("skipped")
        cells = {field: cell(field, record.get(field)) for field, _ in TABLE_COLUMNS}
        cells["status"] = {
            "text": record["status_text"] + (" ★ best" if record["best"] else ""),
            "value": str(record["status"]),
        }
        out_rows.append(
            {
                "key": (record["dataset"], record["scaling"], record["method"]),
                "classes": classes,
                "cells": cells,
                "no_intercept": not record.get("fit_intercept", True),
            }
        )
    return {
        "dataset": dataset,
        "features": list(first["features"]),
        "columns": list(TABLE_COLUMNS),
        "references": references,
        "rows": out_rows,
    }


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
            rows.append(
                {
                    "dataset": dataset,
                    "dtype": dtype,
                    "loss": part["loss"],
                    "max_abs_diff": part["max_abs_diff"],
                    "max_rel_diff": part["max_rel_diff"],
                    "eps": part["eps"],
                    "agree": bool(part["max_rel_diff"] <= 100 * n_params * part["eps"]),
                }
            )
    return rows


BENCHMARK_COLUMNS: tuple[str, ...] = (
    "backend",
    "device",
    "dtype",
    "n",
    "seconds_median",
    "gflops",
    "peak_gflops",
    "fraction_of_peak",
    "threads",
    "max_abs_error",
    "status",
)


#: Columns of the predictions table (``error`` = prediction − true value).
PREDICTION_COLUMNS: tuple[str, ...] = ("dataset", "scaling", "method", "inputs", "prediction", "true_value", "error")


def prediction_rows(
    predictions: pd.DataFrame, marked: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The predictions the page shows as numbers, and the fits whose predictions it withholds.

    ``predictions`` has one row per fit and input (``dataset``, ``scaling``, ``method``,
    ``inputs`` (k,), ``prediction``, ``true_value``, and ``status``); ``marked`` is
    :func:`mark_fits`'s frame. A failed fit (its summary row is failed, or the prediction's own
    ``status`` is a failed one) contributes no numbers: it is listed once in the second list as
    ``{"dataset", "scaling", "method", "status", "reason"}`` instead. Shown rows gain ``error``.
    """
    by_key = {(r["dataset"], r["scaling"], r["method"]): r for r in marked.to_dict("records")}
    shown: list[dict[str, Any]] = []
    withheld: dict[FitKey, dict[str, Any]] = {}
    for row in predictions.to_dict("records"):
        key = (row["dataset"], row["scaling"], row["method"])
        fit = by_key.get(key)
        status = row.get("status", fit["status"] if fit is not None else None)
        failed = (fit is not None and (bool(fit["failed"]) or bool(fit.get("skipped")))) or status_category(status) in (
            CATEGORY_FAILED,
            CATEGORY_SKIPPED,
        )
        if not failed and (row["prediction"] is None or not math.isfinite(float(row["prediction"]))):
            failed = True
        if failed:
            reason = fit["status_text"] if fit is not None else f"failed: status {status}"
            withheld.setdefault(
                key, {"dataset": key[0], "scaling": key[1], "method": key[2], "status": status, "reason": reason}
            )
            continue
        shown.append(
            {
                **row,
                "inputs": [float(v) for v in row["inputs"]],
                "error": (
                    float(row["prediction"]) - float(row["true_value"]) if _known(row.get("true_value")) else None
                ),
            }
        )
    return shown, list(withheld.values())
