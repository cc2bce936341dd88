"""Gradient descent on data read from disk chunk by chunk (:mod:`descent.fitting.stream`), in
float64 with the hand-derived gradients, memory bounded by a chunk (full batch) or a row group
(mini-batches):

* :func:`full_batch_descent` — one pass over the chunks per iteration, the loss and the gradient
  accumulated over them;
* :func:`minibatch_descent` — each epoch visits the row groups in a seeded random order and the
  rows of each group in a seeded random order (:func:`shuffled_batches`), one update per batch of
  ``batch_size`` rows; step-size schedules and Polyak–Ruppert averaging as in memory. The batches
  differ from the in-memory fit's (one permutation of all rows), so the two agree in
  distribution, not bit for bit;
* :func:`streamed_step` — ``lr: lipschitz`` / ``optimal`` from the streamed float64 Gram.

Shapes: ``w`` (k,), chunks ``(X (m, k), y (m,))`` as in :mod:`descent.fitting.stream`. With
``fit_intercept: false`` the bias's gradient is taken as 0: it starts at 0 and stays there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from descent.fitting.closed_form import Chunks, float64_block
from descent.fitting.common import FitError, FitOutcome
from descent.fitting.iterative import history_frame, optimal_step_and_options, scheduled_lr
from descent.fitting.method import Method
from descent.fitting.scaling import Standardization
from descent.fitting.settings import FitSettings
from descent.fitting.stream import gradient_pass
from descent.fitting.theory import conditioning

#: A source of row groups in a given random order: ``shuffled(rng)`` yields every row group once,
#: in the order ``rng`` draws (:func:`descent.fitting.stream.parquet_row_groups`).
ShuffledGroups = Callable[[np.random.Generator], Chunks]

HistoryRow = tuple[int, float, float, np.ndarray, float, float]


def streamed_step(gram: np.ndarray, method: Method, settings: FitSettings, n: int | None = None) -> float:
    """The numeric step for ``settings.lr``: itself, or for ``lipschitz`` 1/L and for ``optimal``
    the method's theory-optimal step, with μ, L the extreme eigenvalues of the mean-loss Hessian
    from the streamed float64 Gram of ``[X, 1, y]`` ((k+2, k+2); of ``[X, y]`` without the
    intercept, then with the rows ``n``, which it cannot count); a summed loss's step is n times
    smaller."""
    if settings.lr not in ("lipschitz", "optimal"):
        return float(settings.lr)
    if n is None:
        n = int(round(gram[-2, -2]))  # the Gram's ones-column entry counts the rows
    cond = conditioning(gram, n)
    if settings.lr == "optimal":
        return optimal_step_and_options(method, cond, settings, dict(settings.options))[0]
    step = 1.0 / cond.lambda_max
    return step / n if settings.loss_reduction == "sum" else step


def _batch_gradient(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, stats: Standardization | None) -> Any:
    """Mean-loss gradient ``(∂w (k,), ∂b)`` of one batch, in float64 (standardized when ``stats``)."""
    k = len(w)
    block = float64_block(X, y, stats)
    r = block[:, k + 1] - (block[:, :k] @ w + b)
    return -2.0 / len(r) * (block[:, :k].T @ r), -2.0 / len(r) * float(r.sum())


def shuffled_batches(
    groups: Chunks, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of ``batch_size`` rows from ``groups`` (row groups, already in a random order), the
    rows of each group permuted by ``rng``; rows left over at the end of a group open the next
    group's first batch, so every batch but the last of the epoch is full and every row is used
    exactly once. Memory: about two row groups."""
    left_X: np.ndarray | None = None
    left_y: np.ndarray | None = None
    for X, y in groups:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
        if left_X is not None and left_y is not None and len(left_y):
            X, y = np.concatenate([left_X, X]), np.concatenate([left_y, y])
        full = len(y) // batch_size * batch_size
        for start in range(0, full, batch_size):
            yield X[start : start + batch_size], y[start : start + batch_size]
        left_X, left_y = X[full:], y[full:]
    if left_X is not None and left_y is not None and len(left_y):
        yield left_X, left_y


def _outcome(
    rows: list[HistoryRow], converged: bool, diverged: bool, seconds: float, extra: dict[str, Any]
) -> FitOutcome:
    if not rows:
        raise FitError("the loss or its gradient is not finite at the initial point (values too large?)")
    last = rows[-1]  # diverged: the last parameters before the loss exploded (never non-finite)
    return FitOutcome(
        weights=last[3],
        bias=last[4],
        iterations=last[0],
        converged=converged and not diverged,
        diverged=diverged,
        status="diverged" if diverged else "converged" if converged else "max_iterations",
        diverged_at=len(rows) if diverged else None,
        seconds=seconds,
        history=history_frame(rows, len(last[3])),
        extra={"final_loss": last[1], "final_grad_norm": last[2], "streamed": True, **extra},
    )


def full_batch_descent(
    chunks: Callable[[], Chunks],
    w: np.ndarray,
    b: float,
    lr: float,
    settings: FitSettings,
    stats: Standardization | None,
) -> FitOutcome:
    """Full-batch gradient descent from ``(w, b)``, one pass over the chunks per iteration (mean
    loss; the gradient of a summed loss is n× larger)."""
    rows: list[HistoryRow] = []
    start, initial, converged, diverged = time.perf_counter(), None, False, False
    for iteration in range(settings.iterations + 1):
        elapsed = time.perf_counter() - start
        loss, gw, gb, n = gradient_pass(chunks(), w, b, stats)
        scale = float(n) if settings.loss_reduction == "sum" else 1.0
        gb = gb if settings.fit_intercept else 0.0  # without an intercept the bias is no parameter: it stays 0
        grad_norm = math.sqrt(float(gw @ gw) + gb * gb)
        exploded = bool(rows) and loss > settings.divergence_factor * max(rows[0][1], np.finfo(np.float64).tiny)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)) or exploded:
            diverged = True
            break
        rows.append((iteration, loss, grad_norm, w.copy(), b, elapsed))
        initial = grad_norm if initial is None else initial
        converged = grad_norm <= settings.tolerance * initial
        if iteration == settings.iterations or (converged and settings.stop_early):
            break
        w, b = w - lr * scale * gw, b - lr * scale * gb
    extra = {"lr": lr, "options": dict(settings.options), "passes": len(rows) + (1 if stats is not None else 0)}
    return _outcome(rows, converged, diverged, time.perf_counter() - start, extra)


def minibatch_descent(
    chunks: Callable[[], Chunks],
    shuffled: ShuffledGroups,
    w: np.ndarray,
    b: float,
    lr: float,
    settings: FitSettings,
    stats: Standardization | None,
) -> FitOutcome:
    """Mini-batch (or stochastic, ``batch_size: 1``) descent from ``(w, b)``: ``settings.iterations``
    epochs over shuffled row groups (:func:`shuffled_batches`, seeded by ``shuffle_seed``), each
    batch's mean-loss gradient (× the batch's rows for a summed loss) times the scheduled step
    (:func:`descent.fitting.iterative.scheduled_lr`). Before each epoch and after the last, one
    full pass records the loss and gradient norm of the reported parameters (the running average
    with ``averaging``), as the in-memory loop does."""
    rng = np.random.default_rng(settings.shuffle_seed)
    if settings.batch_size is None:
        raise ValueError("mini-batch descent needs a batch_size")
    batch_size = int(settings.batch_size)
    rows: list[HistoryRow] = []
    average: tuple[np.ndarray, float] | None = None
    start, initial, converged, diverged, updates = time.perf_counter(), None, False, False, 0
    for epoch in range(settings.iterations + 1):
        elapsed = time.perf_counter() - start
        w_now, b_now = average if average is not None else (w, b)
        loss, gw_full, gb_full, _ = gradient_pass(chunks(), w_now, b_now, stats)
        gb_full = gb_full if settings.fit_intercept else 0.0
        grad_norm = math.sqrt(float(gw_full @ gw_full) + gb_full * gb_full)
        exploded = bool(rows) and loss > settings.divergence_factor * max(rows[0][1], np.finfo(np.float64).tiny)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)) or exploded:
            diverged = True
            break
        rows.append((epoch, loss, grad_norm, np.array(w_now, dtype=np.float64), float(b_now), elapsed))
        initial = grad_norm if initial is None else initial
        converged = grad_norm <= settings.tolerance * initial
        if epoch == settings.iterations or (converged and settings.stop_early):
            break
        for X, y in shuffled_batches(shuffled(rng), batch_size, rng):
            gw, gb = _batch_gradient(X, y, w, b, stats)
            gb = gb if settings.fit_intercept else 0.0
            step = scheduled_lr(lr, settings, updates, epoch) * (len(y) if settings.loss_reduction == "sum" else 1)
            w, b = w - step * gw, b - step * gb
            updates += 1
            if settings.averaging:
                if average is None:
                    average = (w.copy(), b)
                else:
                    average = (average[0] + (w - average[0]) / updates, average[1] + (b - average[1]) / updates)
    extra = {
        "lr": lr,
        "options": dict(settings.options),
        "updates": updates,
        "batch_size": batch_size,
        "passes": 2 * len(rows) - 1 + (1 if stats is not None else 0),
        "batches_from": "shuffled row groups",
    }
    return _outcome(rows, converged, diverged, time.perf_counter() - start, extra)
