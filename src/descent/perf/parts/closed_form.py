"""The ``lstsq`` solvers ``auto`` (the workflow's default), ``normal_equations``, ``qr`` and
``torch`` against scikit-learn's ``LinearRegression`` at 10⁷ × 10 float64: time (solve and
certificate), parameter error against a float64 SVD reference, each result's certificate
(``closed_form.json``)."""

from __future__ import annotations

import time
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.fitting.objective import least_squares_reference
from descent.fitting.problems import equilibrated_error
from descent.fitting.records import fit
from descent.perf.bandwidth import synthetic_regression
from descent.perf.part import Part, Result, closed_form_settings, log
from descent.perf.sweep import closed_form_errors
from descent.perf.tables import target
from descent.timing import time_callable

#: Paths timed at full size (the sweep runs all of descent.perf.sweep.CLOSED_FORM_PATHS).
CLOSED_FORM_TIMED = ("lstsq auto", "lstsq normal_equations", "lstsq qr", "lstsq torch", "sklearn")


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    import torch
    from threadpoolctl import threadpool_limits

    rows, k, threads, repeats = args.rows, args.features, args.threads, 2
    torch.set_num_threads(threads)
    log(f"closed form {rows}x{k} float64 (features on scales 1e-2..1e3)")
    X, y, w_true, b_true = synthetic_regression(rows, k, "float64", seed=1, scale_range=(1e-2, 1e3), offset_factor=1.0)
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
                **closed_form_errors(theta, ref),
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


def rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    methods = result["methods"]
    sk = methods["sklearn"]["seconds"]
    table = []
    for name, m in methods.items():
        c = m["certificate"]
        table.append(
            [
                "closed form",
                f"{name} ({m['solver']})",
                f"{m['seconds']:.3f} s",
                f"{sk / m['seconds']:.2f}x vs sklearn, max rel err {m['max_rel_error']:.2e}, equilibrated "
                f"{m['equilibrated_error']:.1e}; {m['status']} (κ {c['condition_number']:.3g}, "
                f"bound {c['error_bound']:.1e})",
            ]
        )
    return table


def targets(result: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    methods = result["methods"]
    lstsq = methods["lstsq auto"]
    return [
        target(
            "lstsq speed-up over sklearn LinearRegression",
            methods["sklearn"]["seconds"] / lstsq["seconds"],
            3.0,
            "min",
            "x",
        ),
        target("lstsq max relative parameter error (float64)", lstsq["max_rel_error"], 1e-6, "max"),
    ]


PART = Part(name="closed_form", position=50, description=__doc__ or "", run=run, rows=rows, targets=targets)
