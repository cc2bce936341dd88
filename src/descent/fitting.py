"""Fitting ``y = X·w + b`` five ways: hand-derived gradient descent, autograd, ``nn.Linear`` +
``SGD``, ``torch.linalg.lstsq`` and scikit-learn's ``LinearRegression``.

Shapes: ``X`` is ``(n, k)``, ``y`` is ``(n,)``, ``w`` is ``(k,)`` and ``b`` a scalar. Iterative
fits run in the space of the chosen scaling (raw or standardized) and report parameters in
original units. Torch and scikit-learn are imported inside the functions that need them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from descent.fit_config import CLOSED_FORM_METHODS, ITERATIVE_METHODS


class FitError(ValueError):
    """The data cannot be fitted as asked (e.g. a constant feature under standardization)."""


# --------------------------------------------------------------------------------------------
# Scaling
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standardization:
    """Per-feature means/standard deviations (sample std, ddof=1, as ``torch.std``) and the target's."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float


def standardization_stats(X: np.ndarray, y: np.ndarray, features: list[str] | None = None) -> Standardization:
    """Statistics for standardizing ``X`` (n, k) and ``y`` (n,), computed in float64.

    Raises :class:`FitError` naming a constant feature (or target) instead of dividing by zero.
    """
    X64, y64 = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x_std = X64.std(axis=0, ddof=1)
    names = features or [f"x{j}" for j in range(X64.shape[1])]
    constant = [names[j] for j in range(X64.shape[1]) if not x_std[j] > 0]
    if constant:
        raise FitError(f"constant feature(s) {', '.join(constant)}: cannot standardize (standard deviation 0)")
    y_std = float(y64.std(ddof=1))
    if not y_std > 0:
        raise FitError("constant target: cannot standardize (standard deviation 0)")
    return Standardization(X64.mean(axis=0), x_std, float(y64.mean()), y_std)


def standardize(X: np.ndarray, y: np.ndarray, stats: Standardization) -> tuple[np.ndarray, np.ndarray]:
    """``(X - μ_x)/σ_x`` and ``(y - μ_y)/σ_y``, kept in the input dtype."""
    dtype = X.dtype
    Xs = ((X - stats.x_mean.astype(dtype)) / stats.x_std.astype(dtype)).astype(dtype, copy=False)
    ys = ((y - dtype.type(stats.y_mean)) / dtype.type(stats.y_std)).astype(dtype, copy=False)
    return Xs, ys


def to_original_units(w_s: np.ndarray, b_s: float, stats: Standardization) -> tuple[np.ndarray, float]:
    """Map standardized parameters back: ``w = w_s·σ_y/σ_x``, ``b = b_s·σ_y + μ_y − w·μ_x``."""
    w = np.asarray(w_s, dtype=np.float64) * stats.y_std / stats.x_std
    b = float(b_s) * stats.y_std + stats.y_mean - float(w @ stats.x_mean)
    return w, b


def mse(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, chunk_rows: int = 1 << 20) -> float:
    """Mean squared error of ``X·w + b`` against ``y``, in float64, over row chunks (no float64
    copy of all of X)."""
    w64 = np.asarray(w, dtype=np.float64)
    total = 0.0
    for start in range(0, len(X), chunk_rows):
        r = np.asarray(y[start : start + chunk_rows], dtype=np.float64) - (
            np.asarray(X[start : start + chunk_rows], dtype=np.float64) @ w64 + b
        )
        total += float(r @ r)
    return total / len(X)


def least_squares_reference(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Least-squares ``(w, b, rank)`` in float64 with NumPy (an independent reference)."""
    A = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(len(X))])
    theta, _, rank, _ = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64), rcond=None)
    return theta[:-1], float(theta[-1]), int(rank)


def lipschitz_step(X: np.ndarray, reduction: str = "mean") -> float:
    """``1/L`` with ``L`` the largest eigenvalue of the Hessian of the squared-error loss in (w, b).

    The Hessian is ``2/n·AᵀA`` for the mean loss and ``2·AᵀA`` for the summed loss, with
    ``A = [X, 1]`` (n, k+1); gradient descent with any step below ``2/L`` cannot diverge.
    """
    A = np.column_stack([np.asarray(X, dtype=np.float64), np.ones(len(X))])
    gram = A.T @ A
    L = 2.0 * float(np.linalg.eigvalsh(gram)[-1])
    if reduction == "mean":
        L /= len(X)
    return 1.0 / L


# --------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------


#: Rows from which :func:`hand_gradients` works in row blocks (fewer rows: the plain path, so the
#: lessons' and every small dataset's numbers are unchanged bit for bit).
_BLOCK_MIN_ROWS = 1 << 20
#: Bytes of ``X`` per row block: small enough to stay in a core's cache (L2 here) between the two
#: products, large enough that the per-block call overhead stays small (measured: 1-4 MiB best).
_BLOCK_BYTES = 2 << 20


def _blocked_gradients(
    X: Any, y: Any, w: Any, b: Any, reduction: str, block_rows: int | None = None, workers: int | None = None
) -> tuple[Any, Any, Any]:
    """:func:`hand_gradients` reading ``X`` (n, k) once: both products per cache-sized row block.

    For each block ``X_b`` (``block_rows`` × k, default :data:`_BLOCK_BYTES` of X) the residual
    ``s_b = X_b·w + b - y_b`` (= ``-r_b``) is computed into a buffer and, while ``X_b`` is still in
    cache, ``X_bᵀ·s_b``, ``Σs_b`` and ``s_b·s_b``; so one iteration reads X once instead of twice
    and allocates no n-sized temporaries. The per-block partial sums go in a
    ``(blocks, k + 2)`` tensor summed in block order, so the result does not depend on ``workers``
    (default: ``torch.get_num_threads()``), which share the blocks in contiguous ranges, each on
    one thread (torch's own threading is set to 1 for the call and restored after).
    Same returns as :func:`hand_gradients`, equal to it within float rounding (summation order).
    """
    import torch

    n, k = X.shape
    rows = int(block_rows or max(1024, _BLOCK_BYTES // max(1, k * X.element_size())))
    starts = list(range(0, n, rows))
    partials = torch.empty(len(starts), k + 2, dtype=X.dtype)
    threads = torch.get_num_threads()
    workers = max(1, min(int(workers or threads), len(starts)))

    w_column = w.reshape(k, 1)  # (k, 1): GEMM kernels beat GEMV ones for X_b·w on tall blocks

    def run(first: int, last: int) -> None:
        buffer = torch.empty(rows, 1, dtype=X.dtype)
        for i in range(first, last):
            lo = starts[i]
            Xb, column = X[lo : lo + rows], buffer[: min(rows, n - lo)]
            torch.addmm(y[lo : lo + rows].reshape(-1, 1), Xb, w_column, beta=-1, out=column).add_(b)
            s = column.reshape(-1)
            torch.mv(Xb.T, s, out=partials[i, :k])
            torch.sum(s, 0, out=partials[i, k])
            torch.dot(s, s, out=partials[i, k + 1])

    bounds = [round(j * len(starts) / workers) for j in range(workers + 1)]
    torch.set_num_threads(1)
    try:
        if workers == 1:
            run(0, len(starts))
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(run, bounds[j], bounds[j + 1]) for j in range(workers)]:
                    future.result()
    finally:
        torch.set_num_threads(threads)
    total = partials.sum(dim=0)
    scale = 2.0 / n if reduction == "mean" else 2.0
    loss = total[k + 1] / n if reduction == "mean" else total[k + 1]
    return loss, scale * total[:k], scale * total[k]


def hand_gradients(X: Any, y: Any, w: Any, b: Any, reduction: str = "mean") -> tuple[Any, Any, Any]:
    """Loss and hand-derived gradients of the squared error (torch tensors in, tensors out).

    ``∂w = -2/n·Xᵀr`` and ``∂b = -2/n·Σr`` with ``r = y - (X·w + b)`` (without ``1/n`` for
    ``reduction='sum'``). Returns ``(loss, grad_w (k,), grad_b ())``.

    From :data:`_BLOCK_MIN_ROWS` rows on (contiguous CPU tensors without autograd) the work is
    done by :func:`_blocked_gradients`, which reads ``X`` once per call instead of twice; the
    results agree within float rounding. Smaller inputs take the plain two-product path.
    """
    blocked = X.dim() == 2 and X.shape[0] >= _BLOCK_MIN_ROWS and X.device.type == "cpu"
    if blocked and X.is_contiguous() and y.is_contiguous() and not any(t.requires_grad for t in (X, y, w, b)):
        return _blocked_gradients(X, y, w, b, reduction)
    r = y - (X @ w + b)
    scale = 2.0 / X.shape[0] if reduction == "mean" else 2.0
    loss = (r * r).mean() if reduction == "mean" else (r * r).sum()
    return loss, -scale * (X.T @ r), -scale * r.sum()


def autograd_gradients(X: Any, y: Any, w: Any, b: Any, reduction: str = "mean") -> tuple[Any, Any, Any]:
    """The same loss and gradients as :func:`hand_gradients`, computed by ``loss.backward()``."""
    w = w.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    r = y - (X @ w + b)
    loss = (r**2).mean() if reduction == "mean" else (r**2).sum()
    loss.backward()
    return loss.detach(), w.grad, b.grad


# --------------------------------------------------------------------------------------------
# Iterative engines: each computes the batch loss and takes one step, returning the loss
# and the gradient norm (of the loss as reduced) *before* the step.
# --------------------------------------------------------------------------------------------


class _ManualEngine:
    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str) -> None:
        self.w, self.b, self.lr, self.reduction = w0.clone(), b0.clone(), lr, reduction

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        loss, gw, gb = hand_gradients(X, y, self.w, self.b, self.reduction)
        grad_norm = math.sqrt(float(gw @ gw) + float(gb * gb))
        self.w -= self.lr * gw
        self.b -= self.lr * gb
        return float(loss), grad_norm

    def parameters(self) -> tuple[Any, Any]:
        return self.w, self.b


class _AutogradEngine:
    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str) -> None:
        import torch

        self.torch = torch
        self.w = w0.clone().requires_grad_(True)
        self.b = b0.clone().requires_grad_(True)
        self.lr, self.reduction = lr, reduction

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        r = y - (X @ self.w + self.b)
        loss = (r**2).mean() if self.reduction == "mean" else (r**2).sum()
        loss.backward()
        with self.torch.no_grad():
            gw, gb = self.w.grad, self.b.grad
            grad_norm = math.sqrt(float(gw @ gw) + float(gb * gb))
            self.w -= self.lr * gw
            self.b -= self.lr * gb
        # Gradients accumulate in torch: zero them for the next step.
        self.w.grad.zero_()
        self.b.grad.zero_()
        return float(loss.detach()), grad_norm

    def parameters(self) -> tuple[Any, Any]:
        return self.w.detach(), self.b.detach()


class _NNLinearEngine:
    def __init__(self, w0: Any, b0: Any, lr: float, reduction: str) -> None:
        import torch

        self.torch = torch
        k = w0.shape[0]
        self.model = torch.nn.Linear(k, 1, dtype=w0.dtype, device=w0.device)
        with torch.no_grad():
            self.model.weight.copy_(w0.reshape(1, k))
            self.model.bias.copy_(b0.reshape(1))
        self.loss_fn = torch.nn.MSELoss(reduction=reduction)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def step(self, X: Any, y: Any) -> tuple[float, float]:
        self.optimizer.zero_grad()
        # (m, 1) against (m, 1): a (m,) target would broadcast to (m, m) silently.
        loss = self.loss_fn(self.model(X), y.reshape(-1, 1))
        loss.backward()
        gw, gb = self.model.weight.grad, self.model.bias.grad
        grad_norm = math.sqrt(float((gw * gw).sum()) + float((gb * gb).sum()))
        self.optimizer.step()
        return float(loss.detach()), grad_norm

    def parameters(self) -> tuple[Any, Any]:
        return self.model.weight.detach().reshape(-1), self.model.bias.detach().reshape(())


_ENGINES = {"manual_gd": _ManualEngine, "autograd": _AutogradEngine, "nn_linear": _NNLinearEngine}


# --------------------------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------------------------


@dataclass
class FitOutcome:
    """What a fit found, in the space it was fitted in (``weights``/``bias``), before mapping back.

    ``history`` has one row per iteration (loss and parameters *before* that iteration's
    update, and ``grad_norm`` of the mean loss) plus a final row with the parameters returned.
    """

    weights: np.ndarray
    bias: float
    iterations: int
    converged: bool
    diverged: bool
    diverged_at: int | None = None
    seconds: float = 0.0
    device: str = "cpu"
    history: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _writable(array: np.ndarray) -> np.ndarray:
    return array if array.flags.writeable else array.copy()


def resolve_device(requested: str) -> str:
    """``'cpu'``, or ``'cuda'`` when requested/available; ``'cuda'`` without CUDA raises FitError."""
    import torch

    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise FitError("device 'cuda' requested but CUDA is not available (set fits.settings.device to cpu or auto)")
    return "cpu"


def resolve_dtype(requested: str, data_dtype: np.dtype) -> np.dtype:
    """The compute dtype: the data's own for ``'data'``, else the one named."""
    return np.dtype(data_dtype) if requested == "data" else np.dtype(requested)


def _history_frame(rows: list[tuple[int, float, float, np.ndarray, float]], k: int) -> pd.DataFrame:
    iterations = np.array([r[0] for r in rows], dtype=np.int64)
    frame = pd.DataFrame({"iteration": iterations, "loss": [r[1] for r in rows], "grad_norm": [r[2] for r in rows]})
    weights = np.array([r[3] for r in rows], dtype=np.float64).reshape(len(rows), k)
    for j in range(k):
        frame[f"w{j}"] = weights[:, j]
    frame["b"] = [r[4] for r in rows]
    return frame


def fit_iterative(
    X: np.ndarray, y: np.ndarray, method: str, settings: dict[str, Any], w0: list[float], b0: float
) -> FitOutcome:
    """Gradient descent with ``method``'s engine from ``(w0, b0)`` on ``X`` (n, k), ``y`` (n,).

    Full batch unless ``settings['batch_size']`` is set (then each iteration is an epoch over a
    seeded shuffle). Stops at the first non-finite loss or parameter, or once the loss exceeds
    ``divergence_factor`` × the initial loss (``diverged``, ``diverged_at`` the iteration), or,
    with ``stop_early``, once converged. Never returns non-finite parameters: after a
    divergence the parameters of the last iteration before it are returned with
    ``diverged=True`` (they are not a fit; the report marks them failed).
    """
    import torch

    if method not in ITERATIVE_METHODS:
        raise ValueError(f"not an iterative method: {method}")
    device = resolve_device(settings.get("device", "cpu"))
    dtype = resolve_dtype(settings.get("dtype", "data"), X.dtype)
    tdtype = {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[dtype]
    n, k = X.shape
    # Copy only read-only arrays (torch warns on sharing them); fits never write to X or y.
    Xt = torch.as_tensor(_writable(np.ascontiguousarray(X, dtype=dtype)), device=device)
    yt = torch.as_tensor(_writable(np.ascontiguousarray(y, dtype=dtype)), device=device)
    reduction = settings["loss_reduction"]
    lr = lipschitz_step(X, reduction) if settings["lr"] == "lipschitz" else float(settings["lr"])
    w_init = torch.tensor(w0, dtype=tdtype, device=device)
    b_init = torch.tensor(b0, dtype=tdtype, device=device)
    engine = _ENGINES[method](w_init, b_init, lr, reduction)
    batch_size = settings.get("batch_size")
    full_batch = batch_size is None or batch_size >= n
    generator = torch.Generator().manual_seed(int(settings.get("shuffle_seed", 0)))
    tolerance, criterion = float(settings["tolerance"]), settings["stop_criterion"]
    mean_scale = 1.0 if reduction == "mean" else 1.0 / n  # report gradient norms of the mean loss
    divergence_factor = float(settings.get("divergence_factor", 1e10))

    def full_state() -> tuple[float, float]:
        w, b = engine.parameters()
        loss, gw, gb = hand_gradients(Xt, yt, w, b, "mean")
        return float(loss), math.sqrt(float(gw @ gw) + float(gb * gb))

    rows: list[tuple[int, float, float, np.ndarray, float]] = []
    last_finite = (np.asarray(w0, dtype=np.float64), float(b0))
    converged = diverged = False
    diverged_at: int | None = None
    initial_grad = previous_loss = None
    iteration = 0
    start = time.perf_counter()
    for iteration in range(int(settings["iterations"])):
        w, b = engine.parameters()
        w_now = w.double().cpu().numpy().copy()
        b_now = float(b)
        if full_batch:
            loss, grad_norm = engine.step(Xt, yt)
            grad_norm *= mean_scale
            loss_mean = loss * mean_scale
        else:
            loss_mean, grad_norm = full_state()
            order = torch.randperm(n, generator=generator).to(device)
            for begin in range(0, n, batch_size):
                index = order[begin : begin + batch_size]
                engine.step(Xt[index], yt[index])
        finite = math.isfinite(loss_mean) and math.isfinite(grad_norm) and np.isfinite(w_now).all() and math.isfinite(b_now)
        exploded = finite and rows and loss_mean > divergence_factor * max(rows[0][1], np.finfo(np.float64).tiny)
        if not finite or exploded:
            diverged, diverged_at = True, iteration
            if exploded:
                rows.append((iteration, loss_mean, grad_norm, w_now, b_now))
            break
        rows.append((iteration, loss_mean, grad_norm, w_now, b_now))
        last_finite = (w_now, b_now)
        if initial_grad is None:
            initial_grad = grad_norm
        if criterion == "grad_norm":
            converged = grad_norm <= tolerance * initial_grad
        else:
            converged = previous_loss is not None and abs(previous_loss - loss_mean) <= tolerance * previous_loss
        previous_loss = loss_mean
        if converged and settings.get("stop_early"):
            break
    else:
        iteration = int(settings["iterations"])
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start

    if not diverged:
        # The parameters after the last update, and whether they are still finite.
        final_loss, final_grad = full_state()
        w, b = engine.parameters()
        w_final, b_final = w.double().cpu().numpy(), float(b)
        if math.isfinite(final_loss) and math.isfinite(final_grad) and np.isfinite(w_final).all() and math.isfinite(b_final):
            if not (converged and settings.get("stop_early")):
                rows.append((iteration, final_loss, final_grad, w_final, b_final))
                if criterion == "grad_norm" and initial_grad is not None:
                    converged = final_grad <= tolerance * initial_grad
            last_finite = (w_final, b_final)
        else:
            diverged, diverged_at = True, iteration
    if diverged:
        converged = False
    completed = rows[-1][0] if rows else 0
    return FitOutcome(
        weights=np.asarray(last_finite[0], dtype=np.float64),
        bias=float(last_finite[1]),
        iterations=int(completed),
        converged=bool(converged),
        diverged=bool(diverged),
        diverged_at=diverged_at,
        seconds=seconds,
        device=device,
        history=_history_frame(rows, k),
        extra={"lr": lr, "final_loss": rows[-1][1] if rows else None, "final_grad_norm": rows[-1][2] if rows else None},
    )


def equilibrated_normal_equations(X: np.ndarray, y: np.ndarray, max_condition: float = 1e4) -> dict[str, Any]:
    """Least squares on ``[X, 1]`` through equilibrated normal equations in float64.

    The Gram matrix ``G = AᵀA`` and ``Aᵀy`` are accumulated in float64 (one pass over X), columns
    are scaled to unit norm (``D⁻¹GD⁻¹``) and solved by Cholesky. Its error grows like
    ``cond(A)²·eps``: when the equilibrated condition number ``cond(A) = sqrt(cond(G))`` exceeds
    ``max_condition`` (default 1e4: error bound ≈ 1e8·eps ≈ 2e-8 in float64) the result is flagged
    ``well_conditioned: False`` (a caller should fall back to an SVD/QR solver). Returns ``theta`` (k+1,), ``condition`` and ``well_conditioned``.
    """
    n, k = X.shape
    X64 = np.asarray(X, dtype=np.float64) if X.dtype == np.float64 else None
    gram = np.zeros((k + 1, k + 1))
    rhs = np.zeros(k + 1)
    for start in range(0, n, 1 << 20):  # float64 chunks: no n×k float64 copy of float32 data
        Xb = X64[start : start + (1 << 20)] if X64 is not None else np.asarray(X[start : start + (1 << 20)], np.float64)
        yb = np.asarray(y[start : start + (1 << 20)], dtype=np.float64)
        gram[:k, :k] += Xb.T @ Xb
        colsum = Xb.sum(axis=0)
        gram[:k, k] += colsum
        gram[k, :k] += colsum
        rhs[:k] += Xb.T @ yb
        rhs[k] += yb.sum()
    gram[k, k] = n
    d = np.sqrt(np.diag(gram))
    d[d == 0] = 1.0
    scaled = gram / np.outer(d, d)
    eig = np.linalg.eigvalsh(scaled)
    condition = math.sqrt(eig[-1] / eig[0]) if eig[0] > 0 else math.inf
    try:
        chol = np.linalg.cholesky(scaled) if math.isfinite(condition) else None
    except np.linalg.LinAlgError:  # numerically not positive definite: hopelessly conditioned
        chol, condition = None, math.inf
    theta = (
        np.linalg.solve(chol.T, np.linalg.solve(chol, rhs / d)) / d if chol is not None else np.full(k + 1, np.nan)
    )
    return {"theta": theta, "condition": condition, "well_conditioned": bool(condition <= max_condition)}


#: From this many rows on, lstsq_solver "auto" uses the normal equations (when well conditioned).
NORMAL_EQUATIONS_MIN_ROWS = 1 << 20


def fit_lstsq(X: np.ndarray, y: np.ndarray, settings: dict[str, Any]) -> FitOutcome:
    """Closed form with ``torch.linalg.lstsq`` on ``[X, 1]`` (n, k+1).

    With ``lstsq_solver`` 'auto' and at least ``NORMAL_EQUATIONS_MIN_ROWS`` rows on the CPU (or
    'normal_equations'), the equilibrated float64 normal equations are solved instead — one pass
    over X, several times faster than an SVD at 10⁷ rows — unless the equilibrated condition
    number exceeds 1e4 (error bound cond²·eps ≈ 2e-8), which falls back to torch.linalg.lstsq.

    Columns are scaled to unit norm before solving (and the solution scaled back), so the
    driver's rank test is not fooled by features on very different scales. Records the
    numerical rank; a rank below k+1 means no unique solution and is reported in
    ``extra['rank_deficient']`` (the minimum-norm solution is returned where the driver gives one).
    """
    import torch

    device = resolve_device(settings.get("device", "cpu"))
    dtype = resolve_dtype(settings.get("dtype", "data"), X.dtype)
    n, k = X.shape
    solver = settings.get("lstsq_solver", "auto")
    fallback = None
    if device == "cpu" and (solver == "normal_equations" or (solver == "auto" and n >= NORMAL_EQUATIONS_MIN_ROWS)):
        start = time.perf_counter()
        normal = equilibrated_normal_equations(X, y)
        seconds = time.perf_counter() - start
        if normal["well_conditioned"]:
            theta = normal["theta"]
            return FitOutcome(
                weights=theta[:k], bias=float(theta[k]), iterations=0, converged=True, diverged=False,
                seconds=seconds, device=device,
                extra={"rank": k + 1, "rank_deficient": False, "solver": "normal_equations",
                       "condition": normal["condition"], "dtype": "float64"},
            )
        fallback = f"normal equations refused: equilibrated condition number {normal['condition']:.3g} > 1e4"
    A = np.column_stack([np.asarray(X, dtype=dtype), np.ones(n, dtype=dtype)])
    # Equilibrate the columns: LAPACK's rank test (rcond ≈ eps·max(n, k+1)) is relative to the
    # largest singular value, so features on scales 1e-2…1e3 look rank-deficient in float32
    # (rank 1, a wrong answer) unless every column has unit norm first.
    column_norms = np.linalg.norm(A.astype(np.float64), axis=0)
    column_norms[column_norms == 0] = 1.0
    A /= column_norms.astype(dtype)
    At = torch.as_tensor(A, device=device)
    yt = torch.as_tensor(_writable(np.asarray(y, dtype=dtype)), device=device).reshape(-1, 1)
    # CUDA supports only 'gels' (full-rank QR).
    driver = settings.get("lstsq_driver", "gelsd") if device == "cpu" else "gels"
    start = time.perf_counter()
    solution = torch.linalg.lstsq(At, yt, driver=driver)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    theta = solution.solution.reshape(-1).double().cpu().numpy() / column_norms
    rank = int(solution.rank) if solution.rank is not None and solution.rank.numel() else None
    if rank is None:
        rank = int(np.linalg.matrix_rank(A.astype(np.float64)))
    finite = bool(np.isfinite(theta).all())
    return FitOutcome(
        weights=theta[:k] if finite else np.zeros(k),
        bias=float(theta[k]) if finite else 0.0,
        iterations=0,
        converged=finite and rank == k + 1,
        diverged=not finite,
        seconds=seconds,
        device=device,
        extra={"rank": rank, "rank_deficient": rank < k + 1, "driver": driver, "dtype": str(dtype),
               "solver": "torch.linalg.lstsq", **({"fallback": fallback} if fallback else {})},
    )


def fit_sklearn(X: np.ndarray, y: np.ndarray, settings: dict[str, Any]) -> FitOutcome:
    """Closed form with scikit-learn's ``LinearRegression`` (an independent reference)."""
    from sklearn.linear_model import LinearRegression

    dtype = resolve_dtype(settings.get("dtype", "data"), X.dtype)
    start = time.perf_counter()
    model = LinearRegression().fit(np.asarray(X, dtype=dtype), np.asarray(y, dtype=dtype))
    seconds = time.perf_counter() - start
    rank = int(model.rank_)
    k = X.shape[1]
    return FitOutcome(
        weights=np.asarray(model.coef_, dtype=np.float64).reshape(-1),
        bias=float(model.intercept_),
        iterations=0,
        converged=rank == k,
        diverged=False,
        seconds=seconds,
        extra={"rank": rank, "rank_deficient": rank < k, "dtype": str(dtype)},
    )


def fit(
    X: np.ndarray,
    y: np.ndarray,
    scaling: str,
    settings: dict[str, Any],
    init: tuple[list[float], float] | None = None,
    features: list[str] | None = None,
) -> tuple[FitOutcome, np.ndarray, float]:
    """Fit ``X`` (n, k), ``y`` (n,) in ``scaling`` with ``settings['method']``.

    Returns the outcome (in the fitted space) and the weights (k,) and bias in original units.
    """
    method = settings["method"]
    stats = standardization_stats(X, y, features) if scaling == "standardized" else None
    Xf, yf = standardize(X, y, stats) if stats is not None else (X, y)
    if method in ITERATIVE_METHODS:
        if init is None:
            raise ValueError("iterative fits need an initial point")
        outcome = fit_iterative(Xf, yf, method, settings, init[0], init[1])
    elif method == "lstsq":
        outcome = fit_lstsq(Xf, yf, settings)
    elif method == "sklearn":
        outcome = fit_sklearn(Xf, yf, settings)
    else:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(ITERATIVE_METHODS + CLOSED_FORM_METHODS)}")
    if stats is None:
        return outcome, outcome.weights, outcome.bias
    w, b = to_original_units(outcome.weights, outcome.bias, stats)
    return outcome, w, b


def loss_surface(
    X: np.ndarray,
    y: np.ndarray,
    w_range: tuple[float, float],
    b_range: tuple[float, float],
    grid_size: int,
) -> pd.DataFrame:
    """The MSE on a ``grid_size``² grid over (w, b) for a single feature ``X`` (n, 1), vectorised.

    Uses the exact expansion around the least-squares point ``(w*, b*)`` with residuals ``r*``:
    ``MSE(w, b) = MSE* + dw²·mean(x²) + db² + 2·dw·db·mean(x) − 2·dw·mean(r*x) − 2·db·mean(r*)``,
    which costs O(n + grid) instead of a Python double loop over n-length residuals.
    Returns columns ``w``, ``b``, ``mse`` (one row per grid point, w varying fastest).
    """
    x = np.asarray(X, dtype=np.float64).reshape(-1)
    y64 = np.asarray(y, dtype=np.float64)
    w_star, b_star, _ = least_squares_reference(x.reshape(-1, 1), y64)
    r = y64 - (x * w_star[0] + b_star)
    mse_star = float(r @ r / len(r))
    mx, mxx, mrx, mr = x.mean(), (x * x).mean(), (r * x).mean(), r.mean()
    ws = np.linspace(w_range[0], w_range[1], grid_size)
    bs = np.linspace(b_range[0], b_range[1], grid_size)
    W, B = np.meshgrid(ws, bs)
    dw, db = W - w_star[0], B - b_star
    surface = mse_star + dw * dw * mxx + db * db + 2 * dw * db * mx - 2 * dw * mrx - 2 * db * mr
    return pd.DataFrame({"w": W.reshape(-1), "b": B.reshape(-1), "mse": surface.reshape(-1)})


def gradient_check(
    X: np.ndarray, y: np.ndarray, w: list[float], b: float, reduction: str = "mean"
) -> dict[str, Any]:
    """Hand-derived against autograd gradients at ``(w, b)``, in float64 and in the data's dtype."""
    import torch

    result: dict[str, Any] = {"point": {"weights": list(w), "bias": b}, "reduction": reduction}
    for dtype in sorted({np.dtype("float64"), np.dtype(X.dtype)}, key=str):
        Xt = torch.as_tensor(_writable(np.asarray(X, dtype=dtype)))
        yt = torch.as_tensor(_writable(np.asarray(y, dtype=dtype)))
        wt = torch.tensor(w, dtype=Xt.dtype)
        bt = torch.tensor(b, dtype=Xt.dtype)
        loss_h, gw_h, gb_h = hand_gradients(Xt, yt, wt, bt, reduction)
        loss_a, gw_a, gb_a = autograd_gradients(Xt, yt, wt, bt, reduction)
        hand = np.append(gw_h.double().numpy(), float(gb_h))
        auto = np.append(gw_a.double().numpy(), float(gb_a))
        diff = np.abs(hand - auto)
        result[str(dtype)] = {
            "loss": float(loss_h),
            "hand": {"weights": hand[:-1].tolist(), "bias": float(hand[-1])},
            "autograd": {"weights": auto[:-1].tolist(), "bias": float(auto[-1])},
            "max_abs_diff": float(diff.max()),
            "max_rel_diff": float((diff / np.maximum(np.abs(auto), np.finfo(np.float64).tiny)).max()),
            "eps": float(np.finfo(dtype).eps),
        }
    return result


def fit_record(
    X: np.ndarray,
    y: np.ndarray,
    meta: dict[str, Any],
    job: dict[str, str],
    settings: dict[str, Any],
    init: tuple[list[float], float] | None,
    predict: list[list[float]],
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Run one fit and build its result record (the ``results/fits/…/{method}.json`` contract).

    ``job`` holds ``dataset``, ``scaling`` and ``method``. Returns the record and, for iterative
    methods, the history frame.
    """
    outcome, w, b = fit(X, y, job["scaling"], settings, init, list(meta["features"]))
    predictions = [
        {"inputs": [float(v) for v in row], "prediction": float(np.asarray(row, dtype=np.float64) @ w + b)}
        for row in predict
    ]
    record: dict[str, Any] = {
        **job,
        "base_method": settings["method"],
        "features": list(meta["features"]),
        "target": meta["target"],
        "weights": [float(v) for v in w],
        "bias": float(b),
        "fitted_space": {"weights": [float(v) for v in outcome.weights], "bias": float(outcome.bias)},
        "true_weights": [float(v) for v in meta["true_weights"]],
        "true_bias": float(meta["true_bias"]),
        "mse": mse(X, y, w, b),
        "iterations": outcome.iterations,
        "converged": outcome.converged,
        "diverged": outcome.diverged,
        "diverged_at": outcome.diverged_at,
        "seconds": outcome.seconds,
        "device": outcome.device,
        "init": {"weights": list(init[0]), "bias": init[1]} if init is not None else None,
        "settings": settings,
        "predictions": predictions,
        **outcome.extra,
    }
    return record, outcome.history


def loss_surface_around(
    X: np.ndarray,
    y: np.ndarray,
    scaling: str,
    starts: list[tuple[list[float], float]],
    grid_size: int,
    margin: float,
    features: list[str] | None = None,
) -> pd.DataFrame:
    """The loss surface in the fitted space of ``scaling`` for a single-feature ``X`` (n, 1).

    The grid spans the least-squares point and every start in ``starts`` (so descent paths
    from the history files lie on it), widened by ``margin`` of the span on each side.
    Columns ``w``, ``b``, ``mse`` (in the fitted space's units) and ``scaling``.
    """
    if X.shape[1] != 1:
        raise FitError(f"a loss surface over (w, b) needs exactly one feature, got {X.shape[1]}")
    if scaling == "standardized":
        X, y = standardize(X, y, standardization_stats(X, y, features))
    w_star, b_star, _ = least_squares_reference(X, y)
    ws = [float(w_star[0])] + [float(s[0][0]) for s in starts]
    bs = [b_star] + [float(s[1]) for s in starts]

    def widen(values: list[float]) -> tuple[float, float]:
        lo, hi = min(values), max(values)
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        return lo - margin * span, hi + margin * span

    frame = loss_surface(X, y, widen(ws), widen(bs), grid_size)
    frame["scaling"] = scaling
    return frame


def summarize_fits(records: list[dict[str, Any]], datasets: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per fit (``results/fits/summary.parquet``) and one per prediction.

    Each fit is compared in original units, as the vector ``θ = (w, b)``, with an independent
    float64 NumPy least-squares solution of its dataset (``dist_to_lstsq``, relative
    ``rel_dist_to_lstsq = ‖θ − θ*‖/‖θ*‖``, ``mse_excess`` over the least-squares MSE) and with the
    true parameters (``dist_to_true``). ``datasets`` maps names to loaded datasets (``.X``, ``.y``).
    """
    references: dict[str, tuple[np.ndarray, float, float]] = {}
    for name, data in datasets.items():
        w_ref, b_ref, rank = least_squares_reference(data.X, data.y)
        references[name] = (np.append(w_ref, b_ref), mse(data.X, data.y, w_ref, b_ref), rank)
    rows, prediction_rows = [], []
    for record in sorted(records, key=lambda r: (r["dataset"], r["scaling"], r["method"])):
        theta = np.append(np.asarray(record["weights"], dtype=np.float64), record["bias"])
        theta_true = np.append(np.asarray(record["true_weights"], dtype=np.float64), record["true_bias"])
        theta_ref, mse_ref, rank = references[record["dataset"]]
        rows.append(
            {
                "dataset": record["dataset"],
                "scaling": record["scaling"],
                "method": record["method"],
                "base_method": record["base_method"],
                "features": record["features"],
                "weights": record["weights"],
                "bias": record["bias"],
                "true_weights": record["true_weights"],
                "true_bias": record["true_bias"],
                "lstsq_weights": theta_ref[:-1].tolist(),
                "lstsq_bias": float(theta_ref[-1]),
                "mse": record["mse"],
                "lstsq_mse": mse_ref,
                "mse_excess": record["mse"] - mse_ref,
                "dist_to_lstsq": float(np.linalg.norm(theta - theta_ref)),
                "rel_dist_to_lstsq": float(np.linalg.norm(theta - theta_ref) / np.linalg.norm(theta_ref)),
                "dist_to_true": float(np.linalg.norm(theta - theta_true)),
                "iterations": int(record["iterations"]),
                "converged": bool(record["converged"]),
                "diverged": bool(record["diverged"]),
                "diverged_at": record.get("diverged_at"),
                "lr": record.get("lr"),
                "final_grad_norm": record.get("final_grad_norm"),
                "seconds": float(record["seconds"]),
                "device": record["device"],
                "rank": record.get("rank", rank),
            }
        )
        for prediction in record.get("predictions", []):
            prediction_rows.append(
                {
                    "dataset": record["dataset"],
                    "scaling": record["scaling"],
                    "method": record["method"],
                    "inputs": prediction["inputs"],
                    "prediction": prediction["prediction"],
                    "true_value": float(np.asarray(prediction["inputs"]) @ theta_true[:-1] + theta_true[-1]),
                }
            )
    summary = pd.DataFrame(rows)
    summary["diverged_at"] = summary["diverged_at"].astype("Int64")
    predictions = pd.DataFrame(
        prediction_rows, columns=["dataset", "scaling", "method", "inputs", "prediction", "true_value"]
    )
    return summary, predictions


def set_threads(threads: int, uses_torch: bool = True) -> None:
    """Limit torch (imported only when the method uses it: it costs seconds per job) and the
    BLAS libraries to ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if uses_torch:
        import torch

        torch.set_num_threads(threads)


def fit_files(
    parquet: str,
    meta_path: str,
    job: dict[str, str],
    settings: dict[str, Any],
    init: tuple[list[float], float] | None,
    predict: list[list[float]],
    mem_mb: float | None = None,
    threads: int | None = None,
) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """Load a dataset (checked against ``mem_mb``) and fit it with ``threads`` threads; errors
    name the file.

    Returns what :func:`fit_record` returns.
    """
    from descent.io import load_dataset

    if threads is not None:
        set_threads(threads, uses_torch=settings["method"] != "sklearn")
    data = load_dataset(parquet, meta_path, mem_mb)
    try:
        return fit_record(data.X, data.y, data.meta, job, settings, init, predict)
    except FitError as exc:
        raise FitError(f"{parquet}: {exc}") from exc
