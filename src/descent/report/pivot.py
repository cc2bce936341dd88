"""Readable predictions: one row per fit (method × scaling), one column per input, the true
values as a reference row, failed fits left out with their reason, and fits that agree to
display precision grouped (their sentence: ``templates/steps/predictions.j2``).

``predictions`` is ``results/fits/predictions.parquet`` (``dataset``, ``scaling``, ``method``,
``status``, ``inputs`` (k,), ``prediction``, ``true_value``); ``marked`` is
:func:`descent.report.tables.mark_fits`'s frame (its row order is the fits' order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from descent.report.formatting import format_number
from descent.report.tables import prediction_rows

#: Significant digits the predictions are shown with (and compared at, for grouping).
DISPLAY_DIGITS = 6


def input_label(inputs: Sequence[float], features: Sequence[str] | None = None) -> str:
    """``surface=30`` for one feature, ``(x0=1, x1=2)`` for several (the column's field name)."""
    names = list(features) if features and len(features) == len(inputs) else [f"x{j}" for j in range(len(inputs))]
    parts = [f"{n}={float(v):g}" for n, v in zip(names, inputs)]
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def fit_label(method: str, scaling: str) -> str:
    return f"{method} ({scaling})"


def prediction_pivot(
    predictions: pd.DataFrame, marked: pd.DataFrame, dataset: str, features: Sequence[str] | None = None
) -> dict[str, Any]:
    """The pivoted predictions of one dataset.

    Returns ``{"columns": [field, …], "headers": {field: header}, "rows": [row dicts], "row_attrs":
    [...], "inputs": [tuple, …], "withheld": [{"method", "scaling", "status", "reason"}],
    "groups": [{"fits": [labels], "values": [float, …]}], "fields": [str]}`` (the groups' sentences
    are ``templates/steps/predictions.j2``'s). The first row is
    the true values (``fit`` = ``true value``, ``data-reference``); then one row per fit in the
    summary's order (``data-pred-method``/``data-pred-scaling``); each input column's field is
    :func:`input_label`.
    """
    sub = predictions[predictions["dataset"] == dataset]
    shown, withheld = prediction_rows(sub, marked)
    inputs: list[tuple[float, ...]] = []
    for row in sub.to_dict("records"):
        key = tuple(float(v) for v in row["inputs"])
        if key not in inputs:
            inputs.append(key)
    fields = [input_label(i, features) for i in inputs]
    truth = {
        tuple(float(v) for v in r["inputs"]): (None if r.get("true_value") is None else float(r["true_value"]))
        for r in sub.to_dict("records")
    }
    order = [(r["scaling"], r["method"]) for r in marked[marked["dataset"] == dataset].to_dict("records")]
    by_fit: dict[tuple[str, str], dict[tuple[float, ...], float]] = {}
    for r in shown:
        by_fit.setdefault((r["scaling"], r["method"]), {})[tuple(r["inputs"])] = float(r["prediction"])
    fits = [k for k in order if k in by_fit] + sorted(k for k in by_fit if k not in order)
    known = [v for v in truth.values() if v is not None and v == v]
    rows = [{"fit": "true value", "scaling": "", **{f: truth.get(i) for f, i in zip(fields, inputs)}}] if known else []
    attrs = [{"reference": "true value", "pred-dataset": dataset, "class": "ref"}] if known else []
    for scaling, method in fits:
        rows.append(
            {"fit": method, "scaling": scaling, **{f: by_fit[(scaling, method)].get(i) for f, i in zip(fields, inputs)}}
        )
        attrs.append({"pred-dataset": dataset, "pred-method": method, "pred-scaling": scaling})
    groups = agreeing_groups({fit_label(m, s): [by_fit[(s, m)].get(i) for i in inputs] for s, m in fits})
    return {
        "columns": ["fit", "scaling", *fields],
        "headers": {"fit": "fit (method)", **{f: f for f in fields}},
        "rows": rows,
        "row_attrs": attrs,
        "inputs": inputs,
        "withheld": withheld,
        "groups": groups,
        "fields": fields,
    }


def agreeing_groups(values: dict[str, list[float | None]], digits: int = DISPLAY_DIGITS) -> list[dict[str, Any]]:
    """Labels whose values all read the same at ``digits`` significant digits, in groups of two or
    more (first-seen order): ``[{"fits": [label, …], "values": [first label's values]}]``.

    >>> agreeing_groups({"a": [1.0000001, 2.0], "b": [1.0, 2.0], "c": [1.1, 2.0]})
    [{'fits': ['a', 'b'], 'values': [1.0000001, 2.0]}]
    """
    buckets: dict[tuple[str, ...], list[str]] = {}
    for label, vals in values.items():
        buckets.setdefault(tuple(format_number(v, digits) for v in vals), []).append(label)
    return [{"fits": labels, "values": values[labels[0]]} for labels in buckets.values() if len(labels) > 1]
