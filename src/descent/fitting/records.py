"""One fit from data to its record: scaling, the registered method, mapping back to original
units, predictions, and the ``results/fits/{dataset}/{scaling}/{method}.json`` contract.

Shapes: ``X`` (n, k), ``y`` (n,); weights (k,) and bias in original units.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descent.config.fits import FitSettings
from descent.fitting.common import FitError, FitOutcome, set_threads
from descent.fitting.iterative import fit_iterative
from descent.fitting.objective import mse
from descent.fitting.registry import get_method
from descent.fitting.scaling import standardization_stats, standardize, to_original_units


def fit(
    X: np.ndarray,
    y: np.ndarray,
    scaling: str,
    settings: FitSettings | dict[str, Any],
    init: tuple[list[float], float] | None = None,
    features: list[str] | None = None,
) -> tuple[FitOutcome, np.ndarray, float]:
    """Fit ``X`` (n, k), ``y`` (n,) in ``scaling`` with the registered ``settings['method']``.

    Iterative methods run on the data standardized in its own dtype (as the lessons do); closed
    forms standardize chunk by chunk in float64. Returns the outcome (in the fitted space) and
    the weights (k,) and bias in original units.
    """
    settings = settings if isinstance(settings, FitSettings) else FitSettings.from_dict(settings)
    method = get_method(settings.method)
    stats = standardization_stats(X, y, features) if scaling == "standardized" else None
    if method.solve is not None:
        outcome = method.solve(X, y, settings, stats)
    else:
        if init is None:
            raise ValueError("iterative fits need an initial point")
        Xf, yf = standardize(X, y, stats) if stats is not None else (X, y)
        outcome = fit_iterative(Xf, yf, method.name, settings, init[0], init[1])
    if stats is None:
        return outcome, outcome.weights, outcome.bias
    w, b = to_original_units(outcome.weights, outcome.bias, stats)
    return outcome, w, b


def fit_record(
    X: np.ndarray,
    y: np.ndarray,
    meta: dict[str, Any],
    job: dict[str, str],
    settings: FitSettings | dict[str, Any],
    init: tuple[list[float], float] | None,
    predict: list[list[float]],
) -> tuple[dict[str, Any], Any]:
    """Run one fit and build its result record (the fit JSON contract, see the README).

    ``job`` holds ``dataset``, ``scaling`` and ``method``. Returns the record and, for iterative
    methods, the history frame (else None).
    """
    settings = settings if isinstance(settings, FitSettings) else FitSettings.from_dict(settings)
    outcome, w, b = fit(X, y, job["scaling"], settings, init, list(meta["features"]))
    predictions = [
        {"inputs": [float(v) for v in row], "prediction": float(np.asarray(row, dtype=np.float64) @ w + b)}
        for row in predict
    ]
    record: dict[str, Any] = {
        **job,
        "base_method": settings.method,
        "features": list(meta["features"]),
        "target": meta["target"],
        "weights": [float(v) for v in w],
        "bias": float(b),
        "fitted_space": {"weights": [float(v) for v in outcome.weights], "bias": float(outcome.bias)},
        "true_weights": [float(v) for v in meta["true_weights"]],
        "true_bias": float(meta["true_bias"]),
        "mse": mse(X, y, w, b),
        "status": outcome.status,
        "iterations": outcome.iterations,
        "converged": outcome.converged,
        "diverged": outcome.diverged,
        "diverged_at": outcome.diverged_at,
        "seconds": outcome.seconds,
        "device": outcome.device,
        "init": {"weights": list(init[0]), "bias": init[1]} if init is not None else None,
        "settings": settings.as_dict(),
        "predictions": predictions,
        **outcome.extra,
    }
    return record, outcome.history


def fit_files(
    parquet: str,
    meta_path: str,
    job: dict[str, str],
    settings: dict[str, Any],
    init: tuple[list[float], float] | None,
    predict: list[list[float]],
    mem_mb: float | None = None,
    threads: int | None = None,
) -> tuple[dict[str, Any], Any]:
    """Load a dataset (checked against ``mem_mb``) and fit it with ``threads`` threads; errors
    name the file. Returns what :func:`fit_record` returns."""
    from descent.io import load_dataset

    if threads is not None:
        torch_solver = settings["lstsq_solver"] in ("torch", "torch_lesson")
        set_threads(threads, uses_torch=get_method(settings["method"]).needs_torch or torch_solver)
    data = load_dataset(parquet, meta_path, mem_mb)
    try:
        return fit_record(data.X, data.y, data.meta, job, settings, init, predict)
    except FitError as exc:
        raise FitError(f"{parquet}: {exc}") from exc
