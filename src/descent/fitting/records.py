"""One fit from data to its record: scaling, the registered method, mapping back to original
units, predictions, and the ``results/fits/{dataset}/{scaling}/{method}.json`` contract.

Shapes: ``X`` (n, k), ``y`` (n,); weights (k,) and bias in original units.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from descent.fitting import objective
from descent.fitting.closed_form import array_chunks
from descent.fitting.common import FitError, FitOutcome, require_no_bias, set_threads
from descent.fitting.convergence import annotate_convergence, check_convergence
from descent.fitting.inference import inference_from_chunks, inference_from_data
from descent.fitting.iterative import fit_iterative
from descent.fitting.method import Method
from descent.fitting.objective import mse
from descent.fitting.parallel import (
    RankLaunch,
    RankSource,
    fit_data_parallel,
    fit_data_parallel_files,
    launcher_command,
)
from descent.fitting.partials import Partials, reduce_partials
from descent.fitting.registry import get_method, typed_settings
from descent.fitting.scaling import Standardization, outcome_in_original_units, standardization_stats, standardize
from descent.fitting.settings import FitSettings
from descent.fitting.stream import gradient_pass, parquet_chunks, shuffled_row_groups
from descent.fitting.streamed import fit_streaming
from descent.io import DataFiles, LoadedDataset, data_files, describe_files, load_dataset, read_json


def fit(
    X: np.ndarray,
    y: np.ndarray,
    scaling: str,
    settings: FitSettings | dict[str, Any],
    init: tuple[list[float], float] | None = None,
    features: list[str] | None = None,
    accuracy_targets: Sequence[float] = (),
    partials: Partials | None = None,
    ranks: RankLaunch | None = None,
) -> tuple[FitOutcome, np.ndarray, float]:
    """Fit ``X`` (n, k), ``y`` (n,) in ``scaling`` with the registered ``settings.method``
    (a closed form that reduces them: from a sharded dataset's ``partials``, which carry their
    standardization). A data-parallel fit (``processes`` > 1) reads its rows from ``ranks``'
    files when given (each rank only its own; started by its launcher), else from ``X``, ``y``.

    Iterative methods run on the data standardized in its own dtype (as the lessons do), and
    their history is annotated with the gap to the least-squares loss and, for gradient-descent
    methods, the exact prediction (:func:`annotate_convergence`; ``accuracy_targets`` are the
    relative gaps the prediction is asked about). Closed forms standardize chunk by chunk in
    float64. Returns the outcome (in the fitted space) and the weights (k,) and bias in original
    units.
    """
    settings = typed_settings(settings)
    method = get_method(settings.method)
    # Without an intercept the scaling does not centre (scaling.scaling_stats).
    stats = (
        standardization_stats(X, y, features, settings.fit_intercept)
        if scaling == "standardized" and partials is None
        else None
    )
    if partials is not None:
        stats = partials_stats(partials, scaling)
        k = X.shape[1]
        outcome = _solve_chunks(method)(lambda: array_chunks(X, y), k, X.dtype, settings, stats, partials=partials)
    elif method.solve is not None:
        outcome = method.solve(X, y, settings, stats)
    else:
        if init is None:
            raise ValueError("iterative fits need an initial point")
        Xf, yf = standardize(X, y, stats) if stats is not None else (X, y)
        if settings.processes > 1 and ranks is not None:
            source = RankSource(ranks.files, list(features or []), ranks.target, len(y), stats)
            outcome = fit_data_parallel_files(source, settings, init, settings.processes, ranks.launcher)[0]
        elif settings.processes > 1:
            outcome = fit_data_parallel(Xf, yf, settings, init, settings.processes)
        else:
            outcome = fit_iterative(Xf, yf, method.name, settings, init[0], init[1])
        annotate_convergence(outcome, Xf, yf, settings, init, accuracy_targets)
        check_convergence(outcome, Xf, yf, settings, init)
    require_no_bias(outcome, settings.fit_intercept, method.name)
    w, b = outcome_in_original_units(outcome, stats)
    return outcome, w, b


def partials_stats(partials: Partials, scaling: str) -> Standardization | None:
    """The standardization ``partials`` were computed with, checked against the fit's ``scaling``."""
    if (partials.stats is not None) != (scaling == "standardized"):
        raise FitError(f"partial statistics of another scaling than {scaling}")
    return partials.stats


def _solve_chunks(method: Method) -> Any:
    if method.solve_chunks is None:
        raise FitError(f"method {method.name!r} cannot solve from partial statistics")
    return method.solve_chunks


def read_partials(paths: Sequence[str]) -> Partials | None:
    """The partial statistics of a sharded dataset's shards (``results/partials/...``, one JSON per
    shard, in shard order) reduced (:func:`descent.fitting.partials.reduce_partials`); None for none."""
    if not paths:
        return None
    parts = []
    for path in paths:
        try:
            parts.append(Partials.from_dict(read_json(path)))
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise FitError(f"{path}: not a shard's partial statistics ({type(exc).__name__}: {exc})") from exc
    return reduce_partials(parts)


def fit_record(
    X: np.ndarray,
    y: np.ndarray,
    meta: dict[str, Any],
    job: dict[str, str],
    settings: FitSettings | dict[str, Any],
    init: tuple[list[float], float] | None,
    predict_at: list[list[float]],
    accuracy_targets: Sequence[float] = (),
    partials: Partials | None = None,
    ranks: RankLaunch | None = None,
) -> tuple[dict[str, Any], Any]:
    """Run one fit and build its result record (the fit JSON contract, see docs/results.md).

    ``job`` holds ``dataset``, ``scaling`` and ``method``. Returns the record and, for iterative
    methods, the history frame (else None).
    """
    settings = typed_settings(settings)
    features = list(meta["features"])
    outcome, w, b = fit(X, y, job["scaling"], settings, init, features, accuracy_targets, partials, ranks)
    record = build_record(meta, job, settings, outcome, w, b, init, predict_at, mse(X, y, w, b))
    if get_method(settings.method).inference:  # classical OLS inference, original units; only for a certified fit
        record["inference"] = (
            inference_from_data(
                X, y, w, b, meta["true_weights"], meta["true_bias"], intercept=settings.fit_intercept
            ).as_dict()
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
    parquet: DataFiles,
    meta: dict[str, Any],
    job: dict[str, str],
    settings: FitSettings,
    init: tuple[list[float], float] | None,
    predict_at: list[list[float]],
    accuracy_targets: Sequence[float] = (),
    partials: Partials | None = None,
    launcher: list[str] | None = None,
) -> tuple[dict[str, Any], Any]:
    """:func:`fit_record` for data over the memory budget, read from ``parquet`` chunk by chunk
    (:mod:`descent.fitting.stream`; methods that cannot stream are refused with the reason)."""
    features, target = list(meta["features"]), str(meta["target"])
    dtype = np.dtype("float32" if meta.get("dtype") == "float32" else "float64")

    def chunks() -> Any:
        return parquet_chunks(parquet, features, target)

    shuffled = shuffled_row_groups(parquet, features, target) if settings.batch_size is not None else None
    ranks = RankLaunch([str(f) for f in data_files(parquet)], target, launcher)
    outcome, w, b = fit_streaming(
        chunks, features, dtype, job["scaling"], settings, init, shuffled, accuracy_targets, partials, ranks
    )
    outcome.extra["streamed"] = True
    record = build_record(meta, job, settings, outcome, w, b, init, predict_at, gradient_pass(chunks(), w, b, None)[0])
    if get_method(settings.method).inference:  # as fit_record: from the streamed Gram, two more passes
        record["inference"] = (
            inference_from_chunks(
                chunks, len(features), w, b, meta["true_weights"], meta["true_bias"], intercept=settings.fit_intercept
            ).as_dict()
            if outcome.status == "closed_form"
            else None
        )
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
    parquet: DataFiles,
    meta_path: str,
    job: dict[str, str],
    settings: dict[str, Any],
    init: tuple[list[float], float] | None,
    predict_at: list[list[float]],
    mem_mb: float | None = None,
    threads: int | None = None,
    accuracy_targets: Sequence[float] = (),
    stream: bool = False,
    partials: Sequence[str] = (),
    mpi: str | None = None,
    cpus_per_task: int | None = None,
    data: LoadedDataset | None = None,
) -> tuple[dict[str, Any], Any]:
    """Load a dataset (checked against ``mem_mb``; or take ``data``, loaded already) and fit it
    with ``threads`` threads — or, with ``stream`` (the data exceed ``memory_budget_mb``), fit it
    from disk chunk by chunk; errors name the file. ``partials``: a sharded dataset's per-shard
    statistics (a closed form that reduces them, ``Method.reduces_partials``). ``mpi``: the fit
    rule's launcher of a data-parallel fit's ranks (``srun``, used inside a SLURM allocation,
    giving each rank ``cpus_per_task`` CPUs; else local processes), which read their rows from
    ``parquet`` themselves. Returns what :func:`fit_record` returns."""
    if settings["device"] == "cuda" and not cuda_available():
        return skipped_record(read_json(meta_path), job, settings, "CUDA not available on this machine"), None
    if threads is not None:
        typed = typed_settings(settings)
        set_threads(threads, uses_torch=get_method(typed.method).uses_torch(typed.options))
    try:
        reduced = read_partials(partials)
        launcher = launcher_command(mpi, cpus_per_task)
        if stream:
            typed = typed_settings(settings)
            meta = read_json(meta_path)
            record, history = streaming_record(
                parquet, meta, job, typed, init, predict_at, accuracy_targets, reduced, launcher
            )
        else:
            if data is None:
                data = load_table(parquet, meta_path, mem_mb)
            ranks = RankLaunch([str(f) for f in data_files(parquet)], str(data.meta["target"]), launcher)
            record, history = fit_record(
                data.X, data.y, data.meta, job, settings, init, predict_at, accuracy_targets, reduced, ranks
            )
        if partials:
            record["map_reduce"] = {"shards": len(partials), "rows": reduced.rows if reduced is not None else None}
        return record, history
    except FitError as exc:
        raise FitError(f"{describe_files(parquet)}: {exc}") from exc


def load_table(parquet: DataFiles, meta_path: str, mem_mb: float | None = None) -> LoadedDataset:
    """A dataset as the fits take it (:func:`descent.io.load_dataset`): large tables (from
    ``objective.BLOCK_MIN_ROWS`` rows) column-major, which the fused gradient pass reads in place;
    smaller ones row-major, as before, so their fits' numbers stay bit for bit."""
    return load_dataset(parquet, meta_path, mem_mb, column_major_rows=objective.BLOCK_MIN_ROWS)


def fit_group_files(
    parquet: DataFiles,
    meta_path: str,
    fits: Sequence[dict[str, Any]],
    predict_at: list[list[float]],
    mem_mb: float | None = None,
    threads: int | None = None,
    accuracy_targets: Sequence[float] = (),
    stream: bool = False,
) -> Iterator[tuple[dict[str, Any], dict[str, Any], Any]]:
    """:func:`fit_files` for several fits of one dataset (a job of several fits, ``fits.jobs``),
    one after another, the data loaded once (when first needed; never when streamed or every fit
    is skipped). ``fits``: one dict per fit with ``job``, ``settings`` and ``init``
    (:meth:`descent.plan.Plan.group_params`). Yields ``(fit, record, history)`` as each finishes,
    so the caller writes each result before the next fit starts."""
    data: LoadedDataset | None = None
    for entry in fits:
        cuda_skip = entry["settings"]["device"] == "cuda" and not cuda_available()
        if data is None and not stream and not cuda_skip:
            try:
                data = load_table(parquet, meta_path, mem_mb)
            except FitError as exc:
                raise FitError(f"{describe_files(parquet)}: {exc}") from exc
        record, history = fit_files(
            parquet,
            meta_path,
            dict(entry["job"]),
            entry["settings"],
            entry["init"],
            predict_at,
            mem_mb,
            threads,
            accuracy_targets=accuracy_targets if entry["init"] is not None else (),
            stream=stream,
            data=data,
        )
        yield entry, record, history
