"""One fit from data to its record: scaling, the registered method, mapping back to original
units, predictions, and the ``results/fits/{dataset}/{scaling}/{method}.json`` contract.

Shapes: ``X`` (n, k), ``y`` (n,); weights (k,) and bias in original units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from descent.config.fits import FitSettings
from descent.fitting.closed_form import design_gram
from descent.fitting.common import FitError, FitOutcome, resolve_dtype, set_threads
from descent.fitting.inference import OLS_METHODS, inference_from_data
from descent.fitting.iterative import fit_iterative
from descent.fitting.objective import mse
from descent.fitting.registry import get_method
from descent.fitting.scaling import standardization_stats, standardize, to_original_units
from descent.fitting.theory import MomentumPrediction, Prediction, conditioning, predict, predict_momentum


def fit(
    X: np.ndarray,
    y: np.ndarray,
    scaling: str,
    settings: FitSettings | dict[str, Any],
    init: tuple[list[float], float] | None = None,
    features: list[str] | None = None,
    accuracy_targets: Sequence[float] = (),
) -> tuple[FitOutcome, np.ndarray, float]:
    """Fit ``X`` (n, k), ``y`` (n,) in ``scaling`` with the registered ``settings.method``.

    Iterative methods run on the data standardized in its own dtype (as the lessons do), and
    their history is annotated with the gap to the least-squares loss and, for gradient-descent
    methods, the exact prediction (:func:`annotate_convergence`; ``accuracy_targets`` are the
    relative gaps the prediction is asked about). Closed forms standardize chunk by chunk in
    float64. Returns the outcome (in the fitted space) and the weights (k,) and bias in original
    units.
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
        annotate_convergence(outcome, Xf, yf, settings, init, accuracy_targets)
    if stats is None:
        return outcome, outcome.weights, outcome.bias
    w, b = to_original_units(outcome.weights, outcome.bias, stats)
    return outcome, w, b


def annotate_convergence(
    outcome: FitOutcome,
    X: np.ndarray,
    y: np.ndarray,
    settings: FitSettings,
    init: tuple[list[float], float],
    accuracy_targets: Sequence[float],
) -> None:
    """Add to an iterative outcome's history ``gap`` (loss − L*, fitted space, L* from the float64
    least-squares solution of the very data fitted: ``X`` (n, k), ``y`` (n,)) and
    ``relative_gap`` (gap / initial gap); for gradient-descent methods also ``predicted_gap``,
    and to its extras ``loss_star``, ``predicted`` (rate, divergence, iterations to each target;
    ``reference_only`` for mini-batch runs, which follow the full-batch prediction only on
    average) and ``observed_rate`` (the gap's per-iteration contraction over the run's second
    half, square-rooted to compare with the rate). Heavy-ball and Nesterov methods get their own
    exact linear prediction (:func:`~descent.fitting.theory.predict_momentum`)."""
    eps = float(np.finfo(resolve_dtype(settings.dtype, X.dtype)).eps)
    annotate_from_gram(outcome, design_gram(X, y), X.shape[0], eps, settings, init, accuracy_targets)


def annotate_from_gram(
    outcome: FitOutcome,
    gram: np.ndarray,
    n: int,
    eps: float,
    settings: FitSettings,
    init: tuple[list[float], float],
    accuracy_targets: Sequence[float],
) -> None:
    """:func:`annotate_convergence` from the float64 Gram of ``[X, 1, y]`` ((k+2, k+2)) of the
    ``n`` rows fitted (in memory, or streamed from disk), ``eps`` the machine epsilon of the
    fit's arithmetic (the floor of the observed rate)."""
    history = outcome.history
    assert history is not None  # an iterative outcome
    cond = conditioning(gram, n)
    gap = history["loss"].to_numpy() - cond.loss_star
    history["gap"] = gap
    history["relative_gap"] = gap / gap[0] if gap[0] > 0 else np.nan
    outcome.extra["loss_star"] = cond.loss_star
    kind = get_method(settings.method).prediction
    if kind is not None:
        lr = float(outcome.extra["lr"])
        alpha = lr * n if settings.loss_reduction == "sum" else lr  # the step on the mean loss
        theta0 = np.append(np.asarray(init[0], dtype=np.float64), init[1])
        if kind == "gd":
            prediction: Prediction | MomentumPrediction = predict(cond, theta0, alpha)
        else:
            prediction = predict_momentum(cond, theta0, alpha, float(outcome.extra["momentum"]), kind == "nesterov")
        history["predicted_gap"] = prediction.gap(history["iteration"].to_numpy())
        # The prediction is exact for constant full-batch steps of the iterate itself.
        exact = (settings.batch_size is None or settings.batch_size >= n) and settings.schedule == "constant"
        outcome.extra["predicted"] = prediction.summary(
            list(accuracy_targets), reference_only=not exact or settings.averaging
        )
    outcome.extra["observed_rate"] = observed_rate(history, floor=1e3 * eps * float(history["loss"].iloc[0]))


def observed_rate(history: Any, floor: float) -> float | None:
    """``(gap_b/gap_a)^(1/(2·(b − a)))`` over the second half of the rows whose gap is above
    ``floor`` (the loss's rounding level): the observed per-iteration contraction of the error,
    comparable with the predicted rate."""
    rows = history[history["gap"] > floor]
    if len(rows) < 3:
        return None
    half = rows.iloc[len(rows) // 2 :]
    first, last = half.iloc[0], half.iloc[-1]
    steps = float(last["iteration"] - first["iteration"])
    return float((last["gap"] / first["gap"]) ** (1.0 / (2.0 * steps))) if steps > 0 else None


def fit_record(
    X: np.ndarray,
    y: np.ndarray,
    meta: dict[str, Any],
    job: dict[str, str],
    settings: FitSettings | dict[str, Any],
    init: tuple[list[float], float] | None,
    predict_at: list[list[float]],
    accuracy_targets: Sequence[float] = (),
) -> tuple[dict[str, Any], Any]:
    """Run one fit and build its result record (the fit JSON contract, see the README).

    ``job`` holds ``dataset``, ``scaling`` and ``method``. Returns the record and, for iterative
    methods, the history frame (else None).
    """
    settings = settings if isinstance(settings, FitSettings) else FitSettings.from_dict(settings)
    outcome, w, b = fit(X, y, job["scaling"], settings, init, list(meta["features"]), accuracy_targets)
    record = build_record(meta, job, settings, outcome, w, b, init, predict_at, mse(X, y, w, b))
    if settings.method in OLS_METHODS:  # classical OLS inference, original units; only for a certified fit
        record["inference"] = (
            inference_from_data(X, y, w, b, meta["true_weights"], meta["true_bias"]).as_dict()
            if outcome.status == "closed_form"
            else None
        )
    return record, outcome.history


def build_record(
    meta: dict[str, Any],
    job: dict[str, str],
    settings: FitSettings,
    outcome: FitOutcome,
    w: np.ndarray,
    b: float,
    init: tuple[list[float], float] | None,
    predict_at: list[list[float]],
    mse_value: float,
) -> dict[str, Any]:
    """The fit JSON of one outcome: weights (k,) and bias in original units, the predictions at
    ``predict_at``, the MSE over the whole dataset, and the outcome's status and extras."""
    predictions = [
        {"inputs": [float(v) for v in row], "prediction": float(np.asarray(row, dtype=np.float64) @ w + b)}
        for row in predict_at
    ]
    return {
        **job,
        "base_method": settings.method,
        "features": list(meta["features"]),
        "target": meta["target"],
        "weights": [float(v) for v in w],
        "bias": float(b),
        "fitted_space": {"weights": [float(v) for v in outcome.weights], "bias": float(outcome.bias)},
        "true_weights": None if meta["true_weights"] is None else [float(v) for v in meta["true_weights"]],
        "true_bias": None if meta["true_bias"] is None else float(meta["true_bias"]),
        "mse": mse_value,
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


def streaming_record(
    parquet: str,
    meta: dict[str, Any],
    job: dict[str, str],
    settings: FitSettings,
    init: tuple[list[float], float] | None,
    predict_at: list[list[float]],
    accuracy_targets: Sequence[float] = (),
) -> tuple[dict[str, Any], Any]:
    """:func:`fit_record` for data over the memory budget, read from ``parquet`` chunk by chunk
    (:mod:`descent.fitting.stream`; methods that cannot stream are refused with the reason)."""
    from descent.fitting.stream import fit_streaming, gradient_pass, parquet_chunks, shuffled_row_groups

    features, target = list(meta["features"]), str(meta["target"])
    dtype = np.dtype("float32" if meta.get("dtype") == "float32" else "float64")

    def chunks() -> Any:
        return parquet_chunks(parquet, features, target)

    shuffled = shuffled_row_groups(parquet, features, target) if settings.batch_size is not None else None
    outcome, w, b = fit_streaming(chunks, features, dtype, job["scaling"], settings, init, shuffled, accuracy_targets)
    outcome.extra["streamed"] = True
    record = build_record(meta, job, settings, outcome, w, b, init, predict_at, gradient_pass(chunks(), w, b, None)[0])
    return record, outcome.history


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def skipped_record(meta: dict[str, Any], job: dict[str, str], settings: dict[str, Any], reason: str) -> dict[str, Any]:
    """The record of a fit that could not run here (a CUDA fit without CUDA): ``status:
    skipped`` with the reason, no parameters — as the matmul benchmark's CUDA rows say
    ``skipped`` — so the run completes and the report says why the row is empty."""
    return {
        **job,
        "base_method": settings["method"],
        "features": list(meta["features"]),
        "target": meta["target"],
        "weights": None,
        "bias": None,
        "fitted_space": None,
        "true_weights": meta["true_weights"],
        "true_bias": meta["true_bias"],
        "mse": None,
        "status": "skipped",
        "status_reason": reason,
        "iterations": 0,
        "converged": False,
        "diverged": False,
        "diverged_at": None,
        "seconds": 0.0,
        "device": settings["device"],
        "init": None,
        "settings": settings,
        "predictions": [],
    }


def fit_files(
    parquet: str,
    meta_path: str,
    job: dict[str, str],
    settings: dict[str, Any],
    init: tuple[list[float], float] | None,
    predict_at: list[list[float]],
    mem_mb: float | None = None,
    threads: int | None = None,
    accuracy_targets: Sequence[float] = (),
    stream: bool = False,
) -> tuple[dict[str, Any], Any]:
    """Load a dataset (checked against ``mem_mb``) and fit it with ``threads`` threads — or,
    with ``stream`` (the data exceed ``memory_budget_mb``), fit it from disk chunk by chunk;
    errors name the file. Returns what :func:`fit_record` returns."""
    from descent.io import load_dataset

    if settings["device"] == "cuda" and not cuda_available():
        from descent.io import read_json

        return skipped_record(read_json(meta_path), job, settings, "CUDA not available on this machine"), None
    if threads is not None:
        torch_solver = settings["lstsq_solver"] in ("torch", "torch_lesson")
        set_threads(threads, uses_torch=get_method(settings["method"]).needs_torch or torch_solver)
    try:
        if stream:
            from descent.io import read_json

            return streaming_record(
                parquet, read_json(meta_path), job, FitSettings.from_dict(settings), init, predict_at, accuracy_targets
            )
        data = load_dataset(parquet, meta_path, mem_mb)
        return fit_record(data.X, data.y, data.meta, job, settings, init, predict_at, accuracy_targets)
    except FitError as exc:
        raise FitError(f"{parquet}: {exc}") from exc
