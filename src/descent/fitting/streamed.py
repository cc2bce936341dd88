"""Fits of data larger than memory, read from disk chunk by chunk (:mod:`descent.fitting.stream`):
a closed form that solves from row chunks (``Method.solve_chunks``: the certified float64 Gram,
QR when needed) or plain gradient descent (``Method.streamed_descent``: full batch, one pass per
iteration, or mini-batches from shuffled row groups, :mod:`descent.fitting.stream_descent`); any
other method is refused with the reason instead of swapping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from descent.fitting.closed_form import Chunks, gram_of_chunks, without_intercept
from descent.fitting.common import FitError, FitOutcome, require_no_bias, resolve_dtype
from descent.fitting.convergence import annotate_from_gram
from descent.fitting.parallel import RankLaunch, RankSource, fit_data_parallel_files
from descent.fitting.partials import Partials
from descent.fitting.registry import get_method, methods
from descent.fitting.scaling import outcome_in_original_units
from descent.fitting.settings import FitSettings
from descent.fitting.stream import chunk_statistics, parquet_row_count
from descent.fitting.stream_descent import full_batch_descent, minibatch_descent, streamed_step


def streaming_methods() -> list[str]:
    """The registered methods that can fit from disk."""
    return [name for name, m in methods().items() if m.solve_chunks is not None or m.streamed_descent]


def fit_streaming(
    chunks: Callable[[], Chunks],
    features: list[str],
    data_dtype: np.dtype,
    scaling: str,
    settings: FitSettings,
    init: tuple[list[float], float] | None,
    shuffled: Callable[[np.random.Generator], Chunks] | None = None,
    accuracy_targets: Sequence[float] = (),
    partials: Partials | None = None,
    ranks: RankLaunch | None = None,
) -> tuple[FitOutcome, np.ndarray, float]:
    """Fit data read by ``chunks()`` (each call a fresh pass) with ``settings.method`` in
    ``scaling``, in memory bounded by the chunk size (a row group for mini-batches, which draw
    from ``shuffled(rng)``: the row groups in a random order, :func:`parquet_row_groups`).
    Descent also takes one pass for the float64 Gram, which gives ``lr: lipschitz``/``optimal``
    and the history's gap to least squares and exact prediction
    (:func:`descent.fitting.convergence.annotate_from_gram`, asked about ``accuracy_targets``).
    ``partials``: a sharded dataset's reduced per-shard statistics, for a closed form that takes
    them (:mod:`descent.fitting.partials`) in place of its own Gram and QR passes.
    Returns what :func:`descent.fitting.records.fit` returns (outcome in the fitted space,
    weights (k,) and bias in original units)."""
    method = get_method(settings.method)
    if settings.processes > 1 and method.kind == "iterative":  # each rank holds its rows: any gradient method
        if ranks is None:
            raise FitError(f"processes: {settings.processes}: a data-parallel fit from disk needs its files")
        return _data_parallel(chunks, features, data_dtype, scaling, settings, init, accuracy_targets, ranks)
    if method.solve_chunks is None and not method.streamed_descent:
        raise FitError(
            f"method {method.name!r} cannot stream data larger than memory_budget_mb (it needs the data in memory); "
            f"streaming methods: {', '.join(streaming_methods())}; or set processes: P (a data-parallel fit, "
            "each process holding 1/P of the rows), raise memory_budget_mb, use float32, a bigger node"
        )
    intercept = settings.fit_intercept
    k = len(features)
    if partials is not None and method.solve_chunks is not None:
        stats = partials.stats  # what the shards' jobs standardized with
        if (stats is not None) != (scaling == "standardized"):
            raise FitError(f"partial statistics of another scaling than {scaling}")
        outcome = method.solve_chunks(chunks, k, data_dtype, settings, stats, partials=partials)
        w, b = outcome_in_original_units(outcome, stats)
        return outcome, w, b
    # Without an intercept the scaling does not centre (descent.fitting.scaling.scaling_stats).
    stats = chunk_statistics(chunks(), features, intercept)[0] if scaling == "standardized" else None
    if method.solve_chunks is not None:
        outcome = method.solve_chunks(chunks, k, data_dtype, settings, stats)
    else:
        if init is None:
            raise ValueError("iterative fits need an initial point")
        w0, b0 = np.asarray(init[0], dtype=np.float64), float(init[1])
        if not intercept and b0 != 0.0:
            raise FitError(f"fit_intercept: false fixes the bias at 0; the initial bias is {b0}")
        full = gram_of_chunks(chunks(), k, stats)
        n = int(round(full[k, k]))  # the ones column's sum of squares counts the rows
        gram = full if intercept else without_intercept(full)
        lr = streamed_step(gram, method, settings, n)
        if settings.batch_size is None:
            outcome = full_batch_descent(chunks, w0, b0, lr, settings, stats)
        elif shuffled is None:
            raise ValueError("mini-batch descent from disk needs the row groups (shuffled)")
        else:
            outcome = minibatch_descent(chunks, shuffled, w0, b0, lr, settings, stats)
        outcome.extra["passes"] += 1  # the Gram's
        eps64 = float(np.finfo(np.float64).eps)  # streamed descent computes in float64
        annotate_from_gram(outcome, gram, n, eps64, settings, init, accuracy_targets)
    require_no_bias(outcome, intercept, method.name)
    w, b = outcome_in_original_units(outcome, stats)
    return outcome, w, b


def _data_parallel(
    chunks: Callable[[], Chunks],
    features: list[str],
    data_dtype: np.dtype,
    scaling: str,
    settings: FitSettings,
    init: tuple[list[float], float] | None,
    accuracy_targets: Sequence[float],
    ranks: RankLaunch,
) -> tuple[FitOutcome, np.ndarray, float]:
    """A data-parallel descent of data no process holds whole: the standardization from one pass
    here, each rank reading and holding only its rows (``ranks``), the history annotated from the Gram the ranks
    sum (:func:`descent.fitting.convergence.annotate_from_gram`)."""
    if init is None:
        raise ValueError("iterative fits need an initial point")
    intercept = settings.fit_intercept
    stats = chunk_statistics(chunks(), features, intercept)[0] if scaling == "standardized" else None
    n = parquet_row_count(ranks.files)
    source = RankSource(ranks.files, features, ranks.target, n, stats)
    outcome, gram = fit_data_parallel_files(source, settings, init, settings.processes, ranks.launcher, gram=True)
    assert gram is not None  # asked for
    eps = float(np.finfo(resolve_dtype(settings.dtype, data_dtype)).eps)
    annotate_from_gram(
        outcome, gram if intercept else without_intercept(gram), n, eps, settings, init, accuracy_targets
    )
    require_no_bias(outcome, intercept, settings.method)
    w, b = outcome_in_original_units(outcome, stats)
    return outcome, w, b
