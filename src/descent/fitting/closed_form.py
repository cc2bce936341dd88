"""Certified closed-form least squares on ``A = [X, 1]`` (n, k+1): float64 summaries of the data
in one chunked pass, three solvers, and a certificate every closed-form result must pass.

* :func:`design_gram` — the float64 Gram matrix of ``[X, 1, y]`` ((k+2, k+2)), accumulated over
  row chunks (float32 data is widened chunk by chunk, standardization is applied chunk by chunk
  in float64: no n-sized float64 copy);
* :func:`design_qr` — the float64 ``R`` factor of ``[X, 1, y]`` by a chunked Householder QR
  (TSQR), for problems too ill-conditioned for the normal equations;
* :func:`singular_values` — of the column-equilibrated design ``A·D⁻¹`` (``D`` the column
  norms), from the Gram's eigenvalues when they resolve them, else from an SVD of ``R``;
* :func:`certify` — the certificate: a backward-error style residual of the normal equations,
  ``‖DAᵀr‖/(‖A_eq‖·(‖A_eq‖·‖Dθ‖ + ‖r‖))`` with ``r = y − Aθ``, computed from the float64 Gram
  (independent of how θ was solved), the equilibrated condition number, and a first-order bound
  on the forward error.

Without an intercept (``fit_intercept: false``) the design is ``X`` alone: the same chunked pass,
then the ones column dropped from the Gram (:func:`without_intercept`) or the QR factor
(:func:`qr_without_intercept`), and every solver and the certificate work on ``[X, y]`` unchanged.

The rank tolerance comes from the data's own precision (``(k+1)·eps`` of its stored dtype,
relative to the largest equilibrated singular value), never from ``n``: LAPACK's default
``eps·max(m, n)`` throws away every singular value below ~12 % of the largest for a float32
problem of 10⁶ rows and returns a wrong answer for a full-rank design.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from descent.fitting.common import FitOutcome
from descent.fitting.scaling import Standardization

EPS64 = float(np.finfo(np.float64).eps)
#: Rows per chunk of the float64 passes (a (65536, k+2) float64 block: a few MiB, cache friendly).
CHUNK_ROWS = 1 << 16
#: Rows per float64 working block inside a chunk: (8192, k+2) float64 is under 1 MiB for k ≤ 10,
#: so widening, standardizing and the products stay in L2 (measured 2-2.5x faster than whole
#: 2^18-row chunks at 4·10⁶ × 10 float32). Chunk sizes are multiples of it, so in-memory and
#: streamed passes cut the rows alike.
BLOCK_ROWS = 1 << 13
#: Equilibrated condition numbers up to this are solved by the normal equations (forward error
#: ≲ κ²·eps64 ≈ 2e-8); above it, by the QR factor (error ≲ κ·eps64 plus a κ²·eps64·tanθ term).
NORMAL_EQUATIONS_MAX_CONDITION = 1e4
#: The Gram's eigenvalues resolve singular values down to ~sqrt(eps64) of the largest; below
#: this ratio the singular values are taken from an SVD of the QR factor instead.
GRAM_RESOLVES = 1e-6


#: A dataset as row chunks: ``(X_chunk (m, k), y_chunk (m,))`` pairs in row order, from memory
#: (:func:`array_chunks`) or from disk (:func:`descent.fitting.stream.parquet_chunks`).
Chunks = Iterable[tuple[np.ndarray, np.ndarray]]


def array_chunks(X: np.ndarray, y: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``X`` (n, k) and ``y`` (n,) as consecutive ``chunk_rows``-row views."""
    for start in range(0, len(X), chunk_rows):
        yield X[start : start + chunk_rows], y[start : start + chunk_rows]


def float64_block(X: np.ndarray, y: np.ndarray, stats: Standardization | None) -> np.ndarray:
    """``[X, 1, y]`` of one chunk in float64 ((m, k+2), column-major), standardized when ``stats``.

    Column-major so that widening, centring and scaling run along whole columns (long inner
    loops) rather than across rows of k+2 values, the slow way NumPy broadcasts a short last axis.
    """
    k = X.shape[1]
    columns = np.empty((k + 2, len(X)))
    columns[:k] = X.T
    columns[k] = 1.0
    columns[k + 1] = y
    if stats is not None:
        columns[:k] -= stats.x_mean[:, None]
        columns[:k] /= stats.x_std[:, None]
        columns[k + 1] -= stats.y_mean
        columns[k + 1] /= stats.y_std
    return columns.T


def blocks(chunks: Chunks, rows: int = BLOCK_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``chunks`` cut into consecutive blocks of at most ``rows`` rows (views), so that each
    block's float64 working copy stays in cache."""
    for X, y in chunks:
        for start in range(0, len(X), rows):
            yield X[start : start + rows], y[start : start + rows]


def gram_of_chunks(chunks: Chunks, k: int, stats: Standardization | None = None, intercept: bool = True) -> np.ndarray:
    """Float64 Gram matrix ``[X, 1, y]ᵀ[X, 1, y]`` ((k+2, k+2)) accumulated over row chunks of
    ``k`` features; with ``stats``, of the standardized data (standardized in float64); without
    ``intercept``, of ``[X, y]`` ((k+1, k+1), :func:`without_intercept`)."""
    gram = np.zeros((k + 2, k + 2))
    for X, y in blocks(chunks):
        block = float64_block(X, y, stats)
        gram += block.T @ block
    return gram if intercept else without_intercept(gram)


def kept_columns(k: int) -> list[int]:
    """The columns of ``[X, 1, y]`` that make ``[X, y]`` (the design without the intercept)."""
    return [*range(k), k + 1]


def without_intercept(gram: np.ndarray) -> np.ndarray:
    """The Gram of ``[X, y]`` ((k+1, k+1)) from the Gram of ``[X, 1, y]`` ((k+2, k+2)): the ones
    column's row and column dropped (every other entry is the same sum)."""
    keep = kept_columns(gram.shape[0] - 2)
    return np.ascontiguousarray(gram[np.ix_(keep, keep)])


def qr_without_intercept(R: np.ndarray) -> np.ndarray:
    """The ``R`` factor of ``[X, y]`` ((k+1, k+1)) from the ``R`` of ``[X, 1, y]`` ((k+2, k+2)):
    ``[X, y] = Q·R[:, kept]``, so the R of the small matrix ``R[:, kept]`` (a Householder QR of
    (k+2) × (k+1) numbers, backward stable) is the R of ``[X, y]``, up to the signs of its rows."""
    small = np.asarray(np.linalg.qr(R[:, kept_columns(R.shape[1] - 2)], mode="r"))
    full = np.zeros((R.shape[1] - 1, R.shape[1] - 1))
    full[: small.shape[0]] = small
    return full


def design_theta(weights: np.ndarray | list[float], bias: float, intercept: bool = True) -> np.ndarray:
    """θ of the design (float64): weights (k,) then the bias ((k+1,)), or the weights alone ((k,))
    without an intercept."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    return np.append(w, float(bias)) if intercept else w.copy()


def qr_of_chunks(chunks: Chunks, k: int, stats: Standardization | None = None, intercept: bool = True) -> np.ndarray:
    """Upper-triangular float64 ``R`` ((k+2, k+2)) with ``[X, 1, y] = Q·R``, by a chunked
    Householder QR over row chunks (each factored under the running ``R``); with ``stats``, of
    the standardized data. Householder QR is backward stable column by column, so no prior
    column scaling is needed. Rows of ``R`` beyond ``n`` are zero. Without ``intercept``, the R
    of ``[X, y]`` ((k+1, k+1), :func:`qr_without_intercept`)."""
    from threadpoolctl import threadpool_limits

    R: np.ndarray = np.zeros((0, k + 2))
    # Narrow QRs gain nothing from BLAS threads and lose a lot to their overhead (measured: 18 s
    # with 2 threads against 0.9 s with one at 10⁷ × 10 on a loaded machine).
    with threadpool_limits(1):
        for X, y in chunks:
            R = np.asarray(np.linalg.qr(np.vstack([R, float64_block(X, y, stats)]), mode="r"))
    full = np.zeros((k + 2, k + 2))
    full[: R.shape[0]] = R
    return full if intercept else qr_without_intercept(full)


def design_gram(
    X: np.ndarray,
    y: np.ndarray,
    stats: Standardization | None = None,
    chunk_rows: int = CHUNK_ROWS,
    intercept: bool = True,
) -> np.ndarray:
    """:func:`gram_of_chunks` of ``X`` (n, k), ``y`` (n,) in memory."""
    return gram_of_chunks(array_chunks(X, y, chunk_rows), X.shape[1], stats, intercept)


def design_qr(
    X: np.ndarray,
    y: np.ndarray,
    stats: Standardization | None = None,
    chunk_rows: int = CHUNK_ROWS,
    intercept: bool = True,
) -> np.ndarray:
    """:func:`qr_of_chunks` of ``X`` (n, k), ``y`` (n,) in memory."""
    return qr_of_chunks(array_chunks(X, y, chunk_rows), X.shape[1], stats, intercept)


def column_norms(gram: np.ndarray) -> np.ndarray:
    """Norms of the columns of ``A = [X, 1]`` ((k+1,)) from the Gram of ``[X, 1, y]``; a zero
    column gets 1 (it stays zero after equilibration and shows as a zero singular value)."""
    d = np.sqrt(np.diag(gram)[:-1]).copy()
    d[~(d > 0)] = 1.0
    return d


def singular_values(gram: np.ndarray, qr: np.ndarray | None = None) -> np.ndarray:
    """Singular values ((k+1,), descending) of the equilibrated design ``A·D⁻¹``.

    From ``sqrt(eigvalsh(D⁻¹AᵀAD⁻¹))`` when the smallest is at least :data:`GRAM_RESOLVES` of
    the largest (the eigenvalues then carry at least ~4 correct digits); otherwise from an SVD
    of the equilibrated QR factor, which must then be given (``qr`` from :func:`design_qr`).
    Returns the QR-derived values whenever ``qr`` is given.
    """
    d = column_norms(gram)
    if qr is not None:
        return np.linalg.svd(qr[:-1, :-1] / d, compute_uv=False)
    eig = np.linalg.eigvalsh(gram[:-1, :-1] / np.outer(d, d))[::-1]
    return np.sqrt(np.clip(eig, 0.0, None))


def gram_resolves(sigma: np.ndarray) -> bool:
    """Whether singular values taken from the Gram's eigenvalues are trustworthy."""
    return bool(sigma[-1] >= GRAM_RESOLVES * sigma[0])


def rank_tolerance(k: int, data_dtype: np.dtype) -> float:
    """Relative singular-value cutoff ``(k+1)·eps`` of the data's stored dtype: smaller
    equilibrated singular values are below the data's own rounding and count as zero."""
    return (k + 1) * float(np.finfo(np.dtype(data_dtype)).eps)


def solve_normal_equations(gram: np.ndarray) -> np.ndarray:
    """θ ((k+1,), weights then bias) from the equilibrated float64 normal equations (Cholesky).

    NaNs when the equilibrated Gram is numerically not positive definite."""
    d = column_norms(gram)
    scaled = gram[:-1, :-1] / np.outer(d, d)
    try:
        chol = np.linalg.cholesky(scaled)
    except np.linalg.LinAlgError:
        return np.full(len(d), np.nan)
    rhs = gram[:-1, -1] / d
    return np.linalg.solve(chol.T, np.linalg.solve(chol, rhs)) / d


def solve_qr(qr: np.ndarray, gram: np.ndarray, rcond: float) -> tuple[np.ndarray, int]:
    """θ ((k+1,)) and the numerical rank from the QR factor: the minimum-norm solution of the
    equilibrated triangular system ``R_eq·(Dθ) = Qᵀy`` by SVD, singular values below ``rcond``
    × the largest treated as zero."""
    d = column_norms(gram)
    U, s, Vt = np.linalg.svd(qr[:-1, :-1] / d)
    rank = int((s > rcond * s[0]).sum()) if s[0] > 0 else 0
    z = U.T @ qr[:-1, -1]
    theta_eq = Vt[:rank].T @ (z[:rank] / s[:rank])
    return theta_eq / d, rank


@dataclass(frozen=True)
class Certificate:
    """How far a closed-form θ is from satisfying the data's normal equations.

    ``normal_residual`` η = ‖D⁻¹Aᵀr‖/(‖A_eq‖·(‖A_eq‖·‖Dθ‖ + ‖r‖)) (dimensionless,
    backward-error style: O(eps) of the solve's dtype for a backward-stable solve, large for a
    wrong one), ``condition_number`` κ (float64, of the equilibrated design ``A_eq = A·D⁻¹``),
    ``tolerance`` (the largest η accepted), ``error_bound`` = κ²·(η·(1 + ‖r‖/(‖A_eq‖·‖Dθ‖)) +
    10·(k+1)·eps64), a first-order bound on the relative forward error ‖D(θ − θ*)‖/‖Dθ‖ (from
    ``θ − θ* = −G⁻¹Aᵀr``, plus the rounding of the float64 Gram it is computed from), ``max_error`` (the largest bound accepted), ``ok``, and ``reason``
    (why not ok; empty when ok). A full-rank result is certified by
    :func:`descent.fitting.refine.certified_solution` instead: η from the double-double residual,
    ``error_bound`` against the exact least-squares solution of the data as stored (original
    units), ``certified_digits`` the smallest number of correct significant digits (LRE) of the
    original-unit weights and bias the bound guarantees (0 when none), ``refinement_steps``
    the refinement passes that changed θ.
    """

    normal_residual: float
    condition_number: float
    tolerance: float
    error_bound: float
    max_error: float
    ok: bool
    reason: str = ""
    certified_digits: float = 0.0
    refinement_steps: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The ``certificate`` field of a fit JSON."""
        return {
            "certified_digits": self.certified_digits,
            "refinement_steps": self.refinement_steps,
            "normal_residual": self.normal_residual,
            "condition_number": self.condition_number,
            "tolerance": self.tolerance,
            "error_bound": self.error_bound,
            "max_error": self.max_error,
            "ok": self.ok,
            "reason": self.reason,
        }


def certificate_tolerance(k: int, solve_dtype: np.dtype, factor: float) -> float:
    """``factor·(k+1)·eps`` of the dtype the solve computed in."""
    return factor * (k + 1) * float(np.finfo(np.dtype(solve_dtype)).eps)


def certify(
    theta: np.ndarray, gram: np.ndarray, sigma: np.ndarray, tolerance: float, max_error: float, rank: int
) -> Certificate:
    """Certificate of ``theta`` ((k+1,)) against the float64 Gram of ``[X, 1, y]``, the
    equilibrated singular values ``sigma`` ((k+1,), from :func:`singular_values`) and the
    numerical ``rank``: ok when θ is finite, the design has full rank, η ≤ ``tolerance`` and
    the forward-error bound ≤ ``max_error``."""
    theta = np.asarray(theta, dtype=np.float64)
    k1 = len(theta)
    condition = float(sigma[0] / sigma[-1]) if sigma[-1] > 0 else math.inf
    if not np.isfinite(theta).all():
        return Certificate(math.inf, condition, tolerance, math.inf, max_error, False, "non-finite solution")
    d = column_norms(gram)
    G, c, yy = gram[:-1, :-1], gram[:-1, -1], float(gram[-1, -1])
    g = c - G @ theta  # Aᵀr
    residual = math.sqrt(max(yy - float(theta @ c) - float(theta @ g), 0.0))
    norm_a, theta_norm = float(sigma[0]), float(np.linalg.norm(theta * d))
    denominator = norm_a * (norm_a * theta_norm + residual)
    g_norm = float(np.linalg.norm(g / d))
    eta = g_norm / denominator if denominator > 0 else (0.0 if g_norm == 0 else math.inf)
    ratio = residual / (norm_a * theta_norm) if theta_norm > 0 else 0.0
    # κ²·η·(1 + ratio) bounds the error of θ against the exact solution of the float64 Gram;
    # the Gram itself carries rounding, which moves that solution by up to ~(k+1)·κ²·eps64.
    bound = condition**2 * (eta * (1.0 + ratio) + 10.0 * k1 * EPS64)
    if rank < k1:
        reason = f"rank-deficient design (numerical rank {rank} of {k1}): the solution is not unique"
    elif not eta <= tolerance:
        reason = f"normal-equation residual {eta:.3g} above tolerance {tolerance:.3g}: the solve is wrong"
    elif not bound <= max_error:
        reason = (
            f"forward-error bound {bound:.3g} above {max_error:.3g}: condition number {condition:.3g} is "
            "beyond what a float64 residual can certify"
        )
    else:
        reason = ""
    return Certificate(eta, condition, tolerance, float(bound), max_error, not reason, reason)


def closed_form_outcome(
    theta: np.ndarray,
    certificate: Certificate,
    rank: int,
    seconds: float,
    extra: dict[str, Any],
    original: np.ndarray | None = None,
    intercept: bool = True,
) -> FitOutcome:
    """The outcome of a closed-form fit: ``closed_form`` when its certificate holds, else
    ``inaccurate`` with the reason (non-finite values are never returned: zeros instead);
    ``original``: θ ((k+1,)) in original units when computed there at full precision. Without
    ``intercept`` θ and ``original`` are the weights alone ((k,)) and the bias is exactly 0."""
    k1 = len(theta)
    finite = bool(np.isfinite(theta).all())
    theta = theta if finite else np.zeros(k1)
    if not intercept:
        theta = np.append(theta, 0.0)
        original = None if original is None else np.append(original, 0.0)
    status = "closed_form" if certificate.ok else "inaccurate"
    return FitOutcome(
        weights=np.asarray(theta[:-1], dtype=np.float64),
        bias=float(theta[-1]),
        iterations=0,
        converged=certificate.ok,
        diverged=False,
        status=status,
        seconds=seconds,
        device=str(extra.pop("device", "cpu")),
        original=np.asarray(original, dtype=np.float64) if finite and original is not None else None,
        extra={
            "rank": rank,
            "rank_deficient": rank < k1,
            "certificate": certificate.as_dict(),
            **({"status_reason": certificate.reason} if certificate.reason else {}),
            **extra,
        },
    )
