"""The squared-error objective: its value, its gradients (by hand, blocked, autograd), the
Hessian's largest eigenvalue and an independent float64 least-squares reference.

Shapes: ``X`` (n, k), ``y`` (n,), ``w`` (k,), ``b`` scalar. The gradient functions take and
return torch tensors; the others take NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from descent.fitting.common import compute_threads

#: Rows from which :func:`hand_gradients` works in row blocks (fewer rows: the plain path, so the
#: lessons' and every small dataset's numbers are unchanged bit for bit).
BLOCK_MIN_ROWS = 1 << 20
#: Bytes of ``X`` per row block: small enough to stay in a core's cache (L2 here) between the two
#: products, large enough that the per-block call overhead stays small (measured: 1-4 MiB best).
BLOCK_BYTES = 2 << 20


@contextmanager
def gradient_blocking(min_rows: int) -> Iterator[None]:
    """Within the block, :func:`hand_gradients` uses row blocks from ``min_rows`` rows on
    (the benchmark and tests use it to time or check both paths on the same data)."""
    global BLOCK_MIN_ROWS
    saved, BLOCK_MIN_ROWS = BLOCK_MIN_ROWS, int(min_rows)
    try:
        yield
    finally:
        BLOCK_MIN_ROWS = saved


def mse(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, chunk_rows: int = 1 << 20) -> float:
    """Mean squared error of ``X·w + b`` against ``y``, in float64, over row chunks (no float64
    copy of all of X); from :data:`BLOCK_MIN_ROWS` rows of a column-major ``X``, by the fused
    pass (:func:`descent.fitting.fused.partial_sums`: widened block by block in cache, no chunk
    copies; equal to the chunked sum within rounding)."""
    w64 = np.asarray(w, dtype=np.float64)
    if X.ndim == 2 and len(X) >= BLOCK_MIN_ROWS and X.shape[1] > 1 and X.flags.f_contiguous:
        # numba (imported by descent.fitting.fused) costs a job start-up only where data are this large
        from descent.fitting import fused

        return float(fused.partial_sums(X, y, w64, float(b), workers=compute_threads())[-1]) / len(X)
    total = 0.0
    for start in range(0, len(X), chunk_rows):
        r = np.asarray(y[start : start + chunk_rows], dtype=np.float64) - (
            np.asarray(X[start : start + chunk_rows], dtype=np.float64) @ w64 + b
        )
        total += float(r @ r)
    return total / len(X)


def least_squares_reference(X: np.ndarray, y: np.ndarray, intercept: bool = True) -> tuple[np.ndarray, float, int]:
    """Least-squares ``(w (k,), b, rank)`` in float64 with NumPy's SVD solver (an independent
    reference). Columns of ``[X, 1]`` are scaled to unit norm first, so the reference's own error
    follows the equilibrated condition number, not the raw one (features on scales 1e3 against
    the intercept's column of ones would otherwise cost three digits). Without ``intercept``, of
    ``X`` alone (through the origin: ``b`` is 0)."""
    ones = [np.ones(len(X))] if intercept else []
    A = np.column_stack([np.asarray(X, dtype=np.float64), *ones])
    norms = np.linalg.norm(A, axis=0)
    norms[norms == 0] = 1.0
    A /= norms
    theta, _, rank, _ = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64), rcond=None)
    theta = theta / norms
    if not intercept:
        return theta, 0.0, int(rank)
    return theta[:-1], float(theta[-1]), int(rank)


def lipschitz_step(X: np.ndarray, reduction: str = "mean", intercept: bool = True) -> float:
    """``1/L`` with ``L`` the largest eigenvalue of the Hessian of the squared-error loss in (w, b).

    The Hessian is ``2/n·AᵀA`` for the mean loss and ``2·AᵀA`` for the summed loss, with
    ``A = [X, 1]`` (n, k+1), or ``A = X`` without an ``intercept``; gradient descent with any step
    below ``2/L`` cannot diverge.
    """
    ones = [np.ones(len(X))] if intercept else []
    A = np.column_stack([np.asarray(X, dtype=np.float64), *ones])
    gram = A.T @ A
    L = 2.0 * float(np.linalg.eigvalsh(gram)[-1])
    if reduction == "mean":
        L /= len(X)
    return 1.0 / L


def blocked_gradients(
    X: Any, y: Any, w: Any, b: Any, reduction: str, block_rows: int | None = None, workers: int | None = None
) -> tuple[Any, Any, Any]:
    """:func:`hand_gradients` reading ``X`` (n, k) once: both products per cache-sized row block.

    For each block ``X_b`` (``block_rows`` × k, default :data:`BLOCK_BYTES` of X) the residual
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
    rows = int(block_rows or max(1024, BLOCK_BYTES // max(1, k * X.element_size())))
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


def fused_gradients(X: Any, y: Any, w: Any, b: Any, reduction: str, workers: int | None = None) -> tuple[Any, Any, Any]:
    """:func:`hand_gradients` for a column-major CPU ``X`` (n, k) (``X.T`` contiguous): one sweep
    of :func:`descent.fitting.fused.partial_sums` (residual and every sum per cache-sized block, in
    ``X``'s dtype, block sums in float64) on ``workers`` threads (default
    ``torch.get_num_threads()``). Same returns as :func:`hand_gradients`, in ``X``'s dtype, equal
    to it within float rounding (summation order)."""
    import torch

    # numba (imported by descent.fitting.fused) costs a job start-up only where data are this large
    from descent.fitting import fused

    n, k = X.shape
    sums = fused.partial_sums(
        X.numpy(), y.numpy(), w.detach().numpy(), float(b), workers=int(workers or torch.get_num_threads())
    )
    scale = 2.0 / n if reduction == "mean" else 2.0
    loss = sums[k + 1] / n if reduction == "mean" else sums[k + 1]
    return (
        torch.tensor(loss, dtype=X.dtype),
        torch.from_numpy(scale * sums[:k]).to(X.dtype),
        torch.tensor(scale * sums[k], dtype=X.dtype),
    )


def hand_gradients(X: Any, y: Any, w: Any, b: Any, reduction: str = "mean") -> tuple[Any, Any, Any]:
    """Loss and hand-derived gradients of the squared error (torch tensors in, tensors out).

    ``∂w = -2/n·Xᵀr`` and ``∂b = -2/n·Σr`` with ``r = y - (X·w + b)`` (without ``1/n`` for
    ``reduction='sum'``). Returns ``(loss, grad_w (k,), grad_b ())``.

    From :data:`BLOCK_MIN_ROWS` rows on (contiguous CPU tensors without autograd) the work is
    done in one read of ``X`` per call instead of two: by :func:`fused_gradients` for a
    column-major ``X`` (the layout ``descent.io.load_dataset`` gives large data), else by
    :func:`blocked_gradients`; the results agree within float rounding (summation order).
    Smaller inputs take the plain two-product path, so small fits' numbers stay bit for bit.
    """
    blocked = X.dim() == 2 and X.shape[0] >= BLOCK_MIN_ROWS and X.device.type == "cpu"
    if blocked and y.is_contiguous() and not any(t.requires_grad for t in (X, y, w, b)):
        if X.T.is_contiguous():  # column-major (as large data are loaded): the fused pass
            return fused_gradients(X, y, w, b, reduction)
        if X.is_contiguous():
            return blocked_gradients(X, y, w, b, reduction)
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
