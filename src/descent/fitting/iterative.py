"""The iterative loop shared by every iterative method: full-batch or seeded mini-batch epochs,
divergence, convergence and stall detection, and the per-iteration history.

Shapes: ``X`` (n, k), ``y`` (n,); parameters ``w`` (k,), ``b`` scalar.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from descent.fitting.closed_form import design_gram
from descent.fitting.collective import Collective
from descent.fitting.common import FitError, FitOutcome, kept_layout, resolve_device, resolve_dtype, writable
from descent.fitting.method import Method
from descent.fitting.objective import hand_gradients, lipschitz_step
from descent.fitting.registry import get_method
from descent.fitting.settings import FitSettings
from descent.fitting.theory import conditioning
from descent.moments import contiguous_part

#: One history row: iteration, loss (mean, fitted space), gradient norm (of the mean loss), w (k,),
#: b, and the seconds the fit had spent when it reached these parameters.
HistoryRow = tuple[int, float, float, np.ndarray, float, float]


def history_frame(rows: list[HistoryRow], k: int) -> Any:
    """The history rows as a DataFrame: ``iteration``, ``seconds``, ``loss``, ``grad_norm``,
    ``w0…w{k-1}``, ``b``."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "iteration": np.array([r[0] for r in rows], dtype=np.int64),
            "seconds": np.array([r[5] for r in rows], dtype=np.float64),
            "loss": [r[1] for r in rows],
            "grad_norm": [r[2] for r in rows],
        }
    )
    weights = np.array([r[3] for r in rows], dtype=np.float64).reshape(len(rows), k)
    for j in range(k):
        frame[f"w{j}"] = weights[:, j]
    frame["b"] = [r[4] for r in rows]
    return frame


def empty_history(features: list[str]) -> Any:
    """A history with no rows and every column an annotated one has (for a skipped fit)."""
    frame = history_frame([], len(features))
    for column in ("gap", "relative_gap", "predicted_gap"):
        frame[column] = np.array([], dtype=np.float64)
    return frame


def stall_tolerance(settings: FitSettings, dtype: np.dtype) -> float:
    """Relative loss improvement below which a window of iterations counts as no progress:
    ``settings.stall_tolerance``, or by default 100·eps of the compute dtype (the loss is
    computed in that dtype, so smaller changes are rounding)."""
    value = settings.stall_tolerance
    return float(value) if value is not None else 100.0 * float(np.finfo(dtype).eps)


def stalled(losses: list[float], window: int, rtol: float) -> bool:
    """Whether the best loss of the last ``window`` iterations improved on the best before them by
    less than ``rtol`` of it (no progress: the dtype's precision, or a noise floor, is reached)."""
    if window <= 0 or len(losses) <= window:
        return False
    before = min(losses[:-window])
    return min(losses[-window:]) > before - rtol * abs(before)


def step_and_options(
    X: np.ndarray, y: np.ndarray, method: Method, settings: FitSettings, collective: Collective | None = None
) -> tuple[float, dict[str, Any]]:
    """The step size (of the loss as reduced) and the method's options as the run uses them:
    as configured, or ``lr: lipschitz`` (1/L), or ``lr: optimal`` (the method's theory-optimal
    step for the Hessian of ``X`` (n, k), ``y`` (n,), with the options it implies, e.g. momentum's β).
    With a ``collective`` the Hessian is the whole fit's (the shards' Grams summed)."""
    options = dict(settings.options)
    if settings.lr not in ("lipschitz", "optimal"):
        return float(settings.lr), options
    if collective is None and settings.lr == "lipschitz":
        return lipschitz_step(X, settings.loss_reduction, settings.fit_intercept), options
    gram = design_gram(X, y, intercept=settings.fit_intercept)
    n = len(X) if collective is None else collective.n_total
    cond = conditioning(gram if collective is None else collective.sum_array(gram), n)
    if settings.lr == "lipschitz":
        return 1.0 / cond.lambda_max / (n if settings.loss_reduction == "sum" else 1), options
    return optimal_step_and_options(method, cond, settings, options)


def optimal_step_and_options(
    method: Method, cond: Any, settings: FitSettings, options: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    """``lr: optimal``: the method's theory-optimal step on the loss as reduced (a summed loss's
    Hessian is n× larger) and ``options`` updated with what it implies."""
    if method.optimal_step is None:
        raise FitError(f"lr: optimal: method {method.name} has no theory-optimal step (give a number or lipschitz)")
    tuned = dict(method.optimal_step(cond))
    scale = cond.n if settings.loss_reduction == "sum" else 1
    return tuned.pop("lr") / scale, {**options, **tuned}


def make_engine(
    method: Method, w0: Any, b0: Any, lr: float, reduction: str, options: dict[str, Any], seed: int, intercept: bool
) -> Any:
    """``method``'s engine from ``(w0 (k,), b0)``. Without an ``intercept`` it is asked for
    ``fit_intercept=False`` (a keyword every built-in engine takes: its bias is 0 and never
    updated; ``nn.Linear(bias=False)``, ``SGDRegressor(fit_intercept=False)``). An engine whose
    constructor lacks the keyword (a plugin written before it) still runs every fit with an
    intercept, and is refused by name (:class:`FitError`) for one without."""
    assert method.engine is not None
    if intercept:
        return method.engine(w0, b0, lr, reduction, options, seed)
    try:
        return method.engine(w0, b0, lr, reduction, options, seed, fit_intercept=False)
    except TypeError as exc:
        if "fit_intercept" not in str(exc):
            raise
        raise FitError(
            f"fit_intercept: false: method {method.name}'s engine does not take fit_intercept "
            "(give its constructor a keyword argument fit_intercept: bool = True)"
        ) from exc


def gradient_norm(gw: Any, gb: Any) -> float:
    """``‖(gw (k,), gb)‖``, accumulated in the tensors' dtype as the lessons' loops do."""
    return math.sqrt(float(gw @ gw) + float(gb * gb))


Gradient = tuple[Any, Any, Any]


def data_parallel_problem(method: Method, settings: FitSettings) -> None:
    """Raise :class:`FitError` when this fit cannot run data-parallel: a method that runs its own
    pass over the rows."""
    if method.update == "epoch":
        raise FitError(f"method {method.name} runs its own pass over the rows: it cannot be data-parallel")


def updater(
    engine: Any, method: Method, reduce: Callable[[Gradient], Gradient] | None = None, intercept: bool = True
) -> Callable[[Any, Any], tuple[float, float]]:
    """``update(X, y) -> (loss, gradient norm)`` where the update started: one step of ``engine``
    on these rows, driven as ``method.update`` says (gradient, then update; a closure the
    optimizer evaluates; or the method's own pass). ``reduce`` maps the loss and gradient on these
    rows to the ones the update uses (a data-parallel fit sums them over processes). Without an
    ``intercept`` the bias's gradient is 0: the bias is not a parameter, so it is neither moved
    nor counted in the gradient norm the stopping test reads."""
    if method.update == "epoch":
        if reduce is not None:
            raise FitError(f"method {method.name} runs its own pass over the rows: it cannot be data-parallel")
        return engine.step

    def evaluate(X: Any, y: Any) -> Gradient:
        found = engine.gradient(X, y)
        if not intercept:
            found = (found[0], found[1], found[2] * 0)
        return reduce(found) if reduce is not None else found

    if method.update == "closure":

        def closure_step(X: Any, y: Any) -> tuple[float, float]:
            loss, gw, gb = engine.step(lambda: evaluate(X, y))
            return float(loss), gradient_norm(gw, gb)

        return closure_step

    def gradient_step(X: Any, y: Any) -> tuple[float, float]:
        loss, gw, gb = evaluate(X, y)
        norm = gradient_norm(gw, gb)
        engine.update(gw, gb)
        return float(loss), norm

    return gradient_step


def scheduled_lr(lr: float, settings: FitSettings, update: int, epoch: int) -> float:
    """The step for update number ``update`` (0-based, counting every mini-batch) in ``epoch``:
    ``constant``: lr; ``inverse_scaling``: lr/(1 + update/schedule_t0)^schedule_power;
    ``step``: lr·step_factor^⌊epoch/step_every⌋."""
    if settings.schedule == "inverse_scaling":
        return lr / (1.0 + update / settings.schedule_t0) ** settings.schedule_power
    if settings.schedule == "step":
        return lr * settings.step_factor ** (epoch // settings.step_every)
    return lr


def fit_iterative(
    X: np.ndarray,
    y: np.ndarray,
    method: str,
    settings: FitSettings,
    w0: list[float],
    b0: float,
    collective: Collective | None = None,
) -> FitOutcome:
    """Descent with ``method``'s engine from ``(w0 (k,), b0)`` on ``X`` (n, k), ``y`` (n,).

    Full batch unless ``settings.batch_size`` is set (then each iteration is an epoch over a
    seeded shuffle). Stops at the first non-finite loss or parameter, or once the loss exceeds
    ``divergence_factor`` × the initial loss (``diverged``, ``diverged_at`` the iteration), or,
    with ``stop_early``, once converged or stalled (no progress over ``stall_window``
    iterations, see :func:`stalled`). Never returns non-finite parameters: after a divergence the
    parameters of the last iteration before it are returned with ``diverged=True``.
    ``iterations`` is the number of updates applied; the history's last row holds the returned
    parameters at that iteration.

    With a ``collective`` this process holds one shard of the rows (``X``, ``y``: rows
    :func:`~descent.fitting.collective.contiguous_part` of the whole fit's) and every loss and
    gradient is the sum over shards divided by the whole fit's ``n``; a mini-batch is drawn from
    the same seeded permutation of the whole fit's rows by every process, each summing over the
    rows of it that it holds, divided by the batch's size: all processes take the same steps, and
    follow the single-process trajectory to rounding.
    """
    import torch

    spec = get_method(method)
    if spec.engine is None:
        raise ValueError(f"not an iterative method: {method}")
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, X.dtype)
    tdtype = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[dtype]
    n, k = X.shape
    intercept = settings.fit_intercept
    if not intercept and float(b0) != 0.0:
        raise FitError(f"fit_intercept: false fixes the bias at 0; the initial bias is {b0}")
    # A column-major X (large data, descent.io.load_dataset) stays so: the fused pass reads it in place.
    Xt = torch.as_tensor(writable(kept_layout(X, dtype)), device=device)
    yt = torch.as_tensor(writable(np.ascontiguousarray(y, dtype=dtype)), device=device)
    reduction = settings.loss_reduction
    lr, options = step_and_options(X, y, spec, settings, collective)
    if collective is not None:
        data_parallel_problem(spec, settings)
    n_total = n if collective is None else collective.n_total
    # This process's first row in the whole fit's numbering, and the rows the current update
    # averages over (the whole fit's, or the mini-batch's across every process).
    offset = 0 if collective is None else contiguous_part(n_total, collective.size, collective.rank)[0]
    divisor = [float(n_total)]

    def summed(found: Gradient) -> Gradient:  # shard sums → the whole fit's loss and gradient, as reduced
        assert collective is not None
        loss, gw, gb = collective.sum(*found)
        d = divisor[0]
        return (loss / d, gw / d, gb / d) if reduction == "mean" else (loss, gw, gb)

    engine = make_engine(
        spec,
        torch.tensor(w0, dtype=tdtype, device=device),
        torch.tensor(b0, dtype=tdtype, device=device),
        lr,
        # Each shard's sum; the mean is taken over the whole fit's rows.
        reduction if collective is None else "sum",
        options,
        settings.shuffle_seed,
        intercept,
    )
    step = updater(engine, spec, None if collective is None else summed, intercept)
    averaging = settings.averaging
    average: tuple[Any, Any] | None = None  # Polyak–Ruppert mean of the iterates after each update
    update_count = 0

    def apply_update(X_batch: Any, y_batch: Any, epoch: int) -> tuple[float, float]:
        nonlocal average, update_count
        engine.set_lr(scheduled_lr(lr, settings, update_count, epoch))
        result = step(X_batch, y_batch)
        update_count += 1
        if averaging:
            w_new, b_new = engine.parameters()
            if average is None:
                average = (w_new.clone(), b_new.clone())
            else:
                average[0].add_((w_new - average[0]) / update_count)
                average[1].add_((b_new - average[1]) / update_count)
        return result

    def current() -> tuple[Any, Any]:
        """The parameters the fit reports: the running average when averaging, else the iterate."""
        return average if average is not None else engine.parameters()

    batch_size = settings.batch_size
    full_batch = batch_size is None or batch_size >= n_total
    generator = torch.Generator().manual_seed(settings.shuffle_seed)
    tolerance, criterion = float(settings.tolerance), settings.stop_criterion
    mean_scale = 1.0 if reduction == "mean" else 1.0 / n_total  # report gradient norms of the mean loss
    divergence_factor = float(settings.divergence_factor)
    window = settings.stall_window
    # A loss that may rise for a while (momentum's, for ~√κ steps) makes a window without progress no stall.
    stall_watch = spec.monotone
    stall_rtol = stall_tolerance(settings, dtype)
    stop_early = settings.stop_early

    def full_state() -> tuple[float, float]:
        w, b = current()
        if collective is None:
            loss, gw, gb = hand_gradients(Xt, yt, w, b, "mean")
        else:
            loss, gw, gb = collective.sum(*hand_gradients(Xt, yt, w, b, "sum"))
            loss, gw, gb = loss / n_total, gw / n_total, gb / n_total
        return float(loss), gradient_norm(gw, gb if intercept else gb * 0)

    def finite(*values: Any) -> bool:
        return all(np.isfinite(v).all() for v in values)

    rows: list[HistoryRow] = []
    losses: list[float] = []
    last_finite = (np.asarray(w0, dtype=np.float64), float(b0))
    converged = diverged = False
    stalled_at: int | None = None
    diverged_at: int | None = None
    met_at: int | None = None  # the iteration whose parameters met the test, when it stopped the fit
    initial_grad = previous_loss = None
    updates = settings.iterations
    start = time.perf_counter()
    for iteration in range(settings.iterations):
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start  # spent reaching this iteration's parameters
        w, b = current()
        w_now, b_now = w.double().cpu().numpy().copy(), float(b)
        if full_batch and average is None:
            loss, grad_norm = apply_update(Xt, yt, iteration)
            grad_norm *= mean_scale
            loss_mean = loss * mean_scale
        elif full_batch:
            loss_mean, grad_norm = full_state()
            apply_update(Xt, yt, iteration)
        else:
            loss_mean, grad_norm = full_state()
            # Every process draws the same permutation of the whole fit's rows and takes, from each
            # mini-batch, the rows it holds: the summed gradients are the one-process batch's.
            order = torch.randperm(n_total, generator=generator).to(device)
            assert batch_size is not None  # not full batch
            for begin in range(0, n_total, batch_size):
                index = order[begin : begin + batch_size]
                if collective is not None:
                    divisor[0] = float(len(index))
                    index = index[(index >= offset) & (index < offset + n)] - offset
                apply_update(Xt[index], yt[index], iteration)
        ok = finite(loss_mean, grad_norm, w_now, b_now)
        exploded = ok and rows and loss_mean > divergence_factor * max(rows[0][1], np.finfo(np.float64).tiny)
        if not ok or exploded:
            diverged, diverged_at = True, iteration
            if exploded:
                rows.append((iteration, loss_mean, grad_norm, w_now, b_now, elapsed))
            break
        rows.append((iteration, loss_mean, grad_norm, w_now, b_now, elapsed))
        losses.append(loss_mean)
        last_finite = (w_now, b_now)
        if initial_grad is None:
            initial_grad = grad_norm
        if criterion == "grad_norm":
            converged = grad_norm <= tolerance * initial_grad
        else:
            converged = previous_loss is not None and abs(previous_loss - loss_mean) <= tolerance * previous_loss
        previous_loss = loss_mean
        if stall_watch and stalled_at is None and not converged and stalled(losses, window, stall_rtol):
            stalled_at = iteration
        if stop_early and (converged or stalled_at is not None):
            updates = iteration + 1  # this iteration's update was applied
            met_at = iteration if converged else None
            break
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start

    if not diverged:
        # The parameters after the last update: the history's last row, if still finite.
        final_loss, final_grad = full_state()
        w, b = current()
        w_final, b_final = w.double().cpu().numpy(), float(b)
        moved_away = (
            met_at is not None
            and criterion == "grad_norm"
            and initial_grad is not None
            and not final_grad <= tolerance * initial_grad
        )
        if moved_away:
            # The update after the test was met left the tolerance (Adam's steps need not descend):
            # report the parameters where it was met, the history's last row, not a cap never reached.
            last_finite = (rows[-1][3], rows[-1][4])
        elif finite(final_loss, final_grad, w_final, b_final):
            rows.append((updates, final_loss, final_grad, w_final, b_final, seconds))
            if criterion == "grad_norm" and initial_grad is not None:
                converged = final_grad <= tolerance * initial_grad
            last_finite = (w_final, b_final)
        else:
            diverged, diverged_at = True, updates
    if diverged:
        converged = False
    if not intercept and float(last_finite[1]) != 0.0:
        raise FitError(f"fit_intercept: false, but method {method}'s engine moved the bias to {last_finite[1]}")
    status = (
        "diverged"
        if diverged
        else "converged"
        if converged
        else "stalled"
        if stalled_at is not None
        else "max_iterations"
    )
    reached = rows[-1][2] / initial_grad if rows and initial_grad and not diverged else None
    return FitOutcome(
        weights=np.asarray(last_finite[0], dtype=np.float64),
        bias=float(last_finite[1]),
        iterations=int(rows[-1][0]) if rows else 0,
        converged=bool(converged),
        diverged=bool(diverged),
        status=status,
        diverged_at=diverged_at,
        seconds=seconds,
        device=device,
        history=history_frame(rows, k),
        extra={
            "lr": lr,
            "options": options,
            "updates": update_count,
            **(engine.counters() if hasattr(engine, "counters") else {}),
            "final_loss": rows[-1][1] if rows else None,
            "final_grad_norm": rows[-1][2] if rows else None,
            "stalled": stalled_at is not None,
            "stalled_at": stalled_at,
            "test_met_at": met_at,
            "precision_reached": reached,
            "stall_tolerance": stall_rtol,
        },
    )
