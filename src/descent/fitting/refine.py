"""Least squares to the limit of float64: iterative refinement with residuals accumulated in
extended precision, and a tight certificate from the same pass.

The exact least-squares solution θ* of ``A = [X, 1]`` (n, k+1) and ``y`` (n,) *as stored* (float32
or float64 values, exact) satisfies ``Aᵀ(y − Aθ*) = 0``. One pass over the data
(:func:`residual_pass`) computes ``g = Aᵀ(y − Aθ)`` with Dekker's FMA-free TwoProduct and Knuth's
TwoSum vectorized over the rows of a block: the residual in triple precision (≈ eps³ of
``|y| + |A||θ|``), ``g`` in double-double (row sums by a pairwise TwoSum tree), with a bound
``g_error`` on what is left, so ``g`` is known even when it is 10¹⁰ times smaller than its terms.
Then ``θ − θ* = −(AᵀA)⁻¹g``; the correction ``δ = P·g`` with ``P = L⁻¹L⁻ᵀ ≈ (AᵀA)⁻¹`` from the
float64 factor the closed form already has (the equilibrated Cholesky factor of the Gram, or the R
of the chunked Householder QR, of the fitted-space design; ``L = R·D_s·T⁻¹`` maps it to original
units through the standardization) leaves ``F·e``, ``F = I − P·AᵀA``, which contracts by
``‖L⁻ᵀAᵀAL⁻¹ − I‖ ≲ κ²·eps`` (Cholesky) or ``κ·eps`` (QR) in the energy norm ``‖L·e‖``. θ is kept
in double-double between passes (so its own rounding does not limit the result), one pass a step,
until what is unknown is far below an ulp of every component.

This is the x-only form of the seminormal-equation refinement with exact residuals (Björck,
"Stability analysis of the method of seminormal equations", 1987): its fixed point is
``Aᵀr = 0`` exactly, so unlike a refinement whose corrections solve ``min‖r − A·d‖`` through the
rounded Q it does not stall when the residual is not zero, and unlike the augmented system it
keeps no n-vector of residuals between passes, so streamed data stay in bounded memory.

Certificate (:class:`Refined`): with ``e = θ − θ*`` and ``γ`` the accumulation error of ``g``
(``|γ| ≤ g_error``), ``P·g = −(I − F)e + P·γ``, so ``‖Le‖ ≤ (‖L·P·g‖ + ‖L·P·γ‖)/(1 − f)`` for
``f ≥ ‖F‖`` in the energy norm; after the update the error is ``F·e + P·γ`` plus the (bounded)
rounding of the double-double sum, and the float64 result differs from the double-double θ by its
low part, exactly. Componentwise ``|e_i| ≤ ‖row_i(L⁻¹)‖·‖Le‖``. ``f`` is the larger of an a-priori
estimate from the condition number and ten times the contraction observed between passes; above
1/2 the refinement is not trusted and nothing is certified.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import solve_triangular

from descent.fitting.closed_form import (
    BLOCK_ROWS,
    NORMAL_EQUATIONS_MAX_CONDITION,
    Certificate,
    Chunks,
    blocks,
    certificate_tolerance,
    certify,
    column_norms,
    gram_of_chunks,
    gram_resolves,
    qr_of_chunks,
    rank_tolerance,
    singular_values,
    solve_normal_equations,
    solve_qr,
)
from descent.fitting.scaling import Standardization, to_original_units

EPS64 = float(np.finfo(np.float64).eps)
#: Dekker's splitting constant for float64 (2^27 + 1): ``a = hi + lo`` with 26-bit halves.
SPLITTER = 134217729.0
#: Refinement passes at most (κ = 10¹⁰ with the QR preconditioner needs about four).
MAX_STEPS = 8
#: Above this a-priori or observed contraction the refinement is not trusted (nor certified).
MAX_CONTRACTION = 0.5


# --- error-free transformations, elementwise on arrays -------------------------------------------


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``s + e = a + b`` exactly with ``s = fl(a + b)`` (Knuth's TwoSum, no ordering needed)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a = hi + lo`` exactly, each half with at most 26 significant bits (Dekker)."""
    c = SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def two_product(
    a: np.ndarray, b: np.ndarray, a_split: tuple[Any, Any], b_split: tuple[Any, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """``p + e = a·b`` exactly with ``p = fl(a·b)`` (Dekker's TwoProduct without FMA), the splits
    of ``a`` and ``b`` given (computed once per block)."""
    p = a * b
    (ah, al), (bh, bl) = a_split, b_split
    if al is None:  # ``a`` has at most 26 significant bits (float32 data): it is its own high half
        return p, (ah * bh - p) + ah * bl
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def row_sums(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Σ_i p[:, i]`` ((rows,) hi and lo) of ``p`` (rows, m) by a pairwise TwoSum tree: the
    rounding errors of every level are summed in float64, so the result is accurate to about
    ``eps²·log2(m)·Σ|p|`` (as double-double summation)."""
    lo = np.zeros(p.shape[0])
    while p.shape[1] > 1:
        half = p.shape[1] // 2
        s, e = two_sum(p[:, :half], p[:, half : 2 * half])
        lo += e.sum(axis=1)
        if p.shape[1] % 2:
            s = np.concatenate([s, p[:, 2 * half :]], axis=1)
        p = s
    return p[:, 0].copy(), lo


# --- one pass: the normal-equation residual in double-double --------------------------------------


@dataclass(frozen=True)
class Residual:
    """``g = Aᵀ(y − Aθ)`` ((k+1,), as ``hi + lo``) of one θ over all rows, with ``g_error``
    ((k+1,)) a bound on its accumulation error, ``rss`` (Σr², float64) and ``column_norms``
    ((k+1,)) of ``A`` (the intercept's is √n)."""

    hi: np.ndarray
    lo: np.ndarray
    g_error: np.ndarray
    rss: float
    column_norms: np.ndarray
    n: int

    @property
    def g(self) -> np.ndarray:
        """``g`` rounded to float64."""
        return self.hi + self.lo


def residual_pass(chunks: Chunks, theta: np.ndarray, theta_lo: np.ndarray | None = None) -> Residual:
    """:class:`Residual` of ``theta`` (+ ``theta_lo``: a double-double θ) ((k+1,), original
    units, weights then bias; (k,), the weights alone, for a design without the intercept) over
    ``chunks`` of ``(X (m, k), y (m,))`` in their stored dtype (widened to float64 exactly,
    never standardized: the data as stored define the exact solution), one block of
    :data:`~descent.fitting.closed_form.BLOCK_ROWS` rows at a time."""
    theta = np.asarray(theta, dtype=np.float64)
    k1 = len(theta)  # k + 1 with the intercept, k without it (θ is then the weights alone)
    low = np.zeros(k1) if theta_lo is None else np.asarray(theta_lo, dtype=np.float64)
    t_split, l_split = split(theta), split(low)
    g_hi, g_lo = np.zeros(k1), np.zeros(k1)
    bound, bound_r = np.zeros(k1), np.zeros(k1)
    sq, rss, n, depth = np.zeros(k1), 0.0, 0, 1
    abs_theta = np.abs(theta)
    for X, y in blocks(chunks, BLOCK_ROWS):
        m, k = X.shape
        if k1 not in (k, k + 1):
            raise ValueError(f"θ has {k1} components for {k} features (weights, and the bias with an intercept)")
        A = np.empty((k1, m))  # the columns of [X, 1] (or X) as rows: long contiguous inner loops
        A[:k] = X.T
        if k1 > k:
            A[-1] = 1.0
        yy = np.asarray(y, dtype=np.float64)
        # float32 (or narrower) values have ≤ 24 significant bits: no split needed (Dekker's
        # TwoProduct holds with the value as its own high half), a third of the pass saved.
        a_split: tuple[Any, Any] = (A, None) if np.dtype(X.dtype).itemsize <= 4 else split(A)
        # r = y − Aθ in triple precision: every product and every sum's rounding error kept
        # exactly (hi + lo), only the errors of the errors (lo2, ~eps² of the terms) rounded, so
        # r carries ~eps³ of |y| + |A||θ|: the cancellation y − Aθ loses nothing that matters
        # up to κ ≈ 10¹⁰ (double-double alone leaves eps²·κ² ≈ 10⁻¹¹ there).
        hi, lo, lo2 = yy.copy(), np.zeros(m), np.zeros(m)
        for j in range(k1):
            column = (a_split[0][j], None if a_split[1] is None else a_split[1][j])
            p, e = two_product(A[j], theta[j], column, (t_split[0][j], t_split[1][j]))
            hi, s = two_sum(hi, -p)
            lo, t1 = two_sum(lo, s)
            lo, t2 = two_sum(lo, -e)
            lo2 += t1 + t2
            if low[j] != 0.0:  # θ's own low part (double-double θ during refinement)
                p, e = two_product(A[j], low[j], column, (l_split[0][j], l_split[1][j]))
                lo, t1 = two_sum(lo, -p)
                lo2 += t1 - e
        r_hi, carry = two_sum(hi, lo)
        r_lo = carry + lo2
        # g = Aᵀr: products of A with r_hi exact, with r_lo rounded (an eps² term), summed exactly.
        p, e = two_product(A, r_hi[None, :], a_split, split(r_hi[None, :]))
        e += A * r_lo
        s_hi, s_lo = row_sums(p)
        s_lo += e.sum(axis=1)
        g_hi, carry = two_sum(g_hi, s_hi)
        g_lo += carry + s_lo
        absolute = np.abs(A)
        bound += absolute @ (np.abs(yy) + abs_theta @ absolute)
        bound_r += absolute @ np.abs(r_hi)
        sq += np.einsum("ij,ij->i", A, A)
        rss += float(r_hi @ r_hi)
        n += m
        depth = max(depth, m)
    g_hi, g_lo = two_sum(g_hi, g_lo)
    # r carries ≤ (k+4)·eps³ of |y| + |A||θ| and ~eps² of |r|; the products with r_lo and the
    # tree sums add ≤ log2(m)·eps² of |A|ᵀ|r|, the blocks' running sum a few more; ×2 for safety.
    levels = k1 + 4 + math.ceil(math.log2(max(depth, 2))) + math.ceil(math.log2(max(n // max(depth, 1), 2)))
    g_error = 2.0 * (k1 + 4) * EPS64**3 * bound + 2.0 * levels * EPS64**2 * bound_r + EPS64 * np.abs(g_lo)
    norms = np.sqrt(sq)
    norms[~(norms > 0)] = 1.0
    return Residual(g_hi, g_lo, g_error, rss, norms, n)


# --- the preconditioner: the fitted space's factor, in original units ------------------------------


@dataclass(frozen=True)
class Preconditioner:
    """``P = L⁻¹L⁻ᵀ ≈ (AᵀA)⁻¹`` in original units, ``L = R·D_s·T⁻¹``: ``R`` ((k+1, k+1), upper
    triangular) the factor of the equilibrated fitted-space design (``RᵀR ≈ D_s⁻¹A_sᵀA_sD_s⁻¹``),
    ``d`` ((k+1,)) its column norms ``D_s``, ``T`` the map of :meth:`transform` (identity when
    ``stats`` is None). ``contraction`` is the a-priori estimate of ``‖I − L⁻ᵀAᵀAL⁻¹‖``: the
    refinement contracts the error by it in the energy norm ``‖L·e‖ ≈ ‖A·e‖`` (in a plain norm
    the same step can look κ times worse)."""

    R: np.ndarray
    d: np.ndarray
    stats: Standardization | None
    contraction: float

    def transform(self) -> np.ndarray:
        """``T`` ((k+1, k+1)) with ``A·T = A_s`` (the standardized design without the target's
        scaling): fitted-space directions in original units (``w = w_s/σ_x``,
        ``b = b_s − μ_x·w_s/σ_x``), so that ``(AᵀA)⁻¹ = T·(A_sᵀA_s)⁻¹·Tᵀ``."""
        k1 = len(self.d)
        if self.stats is None:
            return np.eye(k1)
        k = len(self.stats.x_std)  # k1 = k without the intercept: T = diag(1/σ_x), no bias row
        T = np.eye(k1)
        T[np.arange(k), np.arange(k)] = 1.0 / self.stats.x_std
        if k1 > k:
            T[-1, :-1] = -self.stats.x_mean / self.stats.x_std
        return T

    def transform_inverse(self) -> np.ndarray:
        """``T⁻¹`` ((k+1, k+1)): ``w_s = σ_x·w``, ``b_s = b + μ_x·w``."""
        k1 = len(self.d)
        if self.stats is None:
            return np.eye(k1)
        k = len(self.stats.x_std)
        inverse = np.eye(k1)
        inverse[np.arange(k), np.arange(k)] = self.stats.x_std
        if k1 > k:
            inverse[-1, :-1] = self.stats.x_mean
        return inverse

    def half(self, g: np.ndarray) -> np.ndarray:
        """``L⁻ᵀ·g`` ((k+1,)): ``‖L⁻ᵀg‖ = ‖L·P·g‖``, the correction's size in the energy norm."""
        return solve_triangular(self.R, (self.transform().T @ g) / self.d, trans="T")

    def apply(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``P·g`` and ``L⁻ᵀ·g`` ((k+1,) each) by two triangular solves."""
        z = self.half(g)
        return self.transform() @ (solve_triangular(self.R, z) / self.d), z

    def inverse_factor(self) -> np.ndarray:
        """``L⁻¹ = T·D_s⁻¹·R⁻¹`` ((k+1, k+1)): ``|e_i| ≤ ‖row_i(L⁻¹)‖·‖L·e‖``."""
        k1 = len(self.d)
        return self.transform() @ (solve_triangular(self.R, np.eye(k1)) / self.d[:, None])

    def rounding_energy(self, theta: np.ndarray) -> float:
        """``‖|L|·|θ|‖``·eps ((k+1,) ``θ``): how large in the energy norm a rounding of every
        component of θ can be (on polynomial designs far above ``eps·‖L·θ‖``)."""
        inner = self.d * (np.abs(self.transform_inverse()) @ np.abs(theta))
        return EPS64 * float(np.linalg.norm(np.abs(self.R) @ inner))

    def energy(self, v: np.ndarray) -> float:
        """``‖L·v‖`` ((k+1,) ``v``) with a margin for its own rounding."""
        inner = self.d * (self.transform_inverse() @ v)
        exact = float(np.linalg.norm(self.R @ inner))
        margin = np.abs(self.R) @ (self.d * (np.abs(self.transform_inverse()) @ np.abs(v)))
        return exact + 2.0 * len(v) * EPS64 * float(np.linalg.norm(margin))


def contraction_estimate(condition: float, k1: int, cholesky: bool, stats: Standardization | None) -> float:
    """A-priori ``‖I − L⁻ᵀAᵀAL⁻¹‖``: ``10·(k+1)·eps·(κ² + κ·ω)`` for a Cholesky factor of the
    float64 Gram (its rounding is ~eps of the Gram), ``10·(k+1)·eps·κ·ω`` for a Householder R (the
    R of a design within ~eps of ``A`` column by column), with ``ω`` (≥ 1) how much larger the
    features' root mean squares are than their spreads (the rounding of standardized data
    relative to its own scale)."""
    omega = 1.0
    if stats is not None:
        omega = float(np.max(np.sqrt(stats.x_mean**2 + stats.x_std**2) / stats.x_std))
    return 10.0 * k1 * EPS64 * condition * ((condition if cholesky else 0.0) + omega)


def preconditioner(
    gram: np.ndarray, qr: np.ndarray | None, condition: float, stats: Standardization | None
) -> Preconditioner | None:
    """The :class:`Preconditioner` from the fitted-space Gram ((k+2, k+2)) or, when given, the
    QR factor ((k+2, k+2)); None when the factor is numerically singular."""
    d = column_norms(gram)
    k1 = len(d)
    if qr is not None:
        R = qr[:-1, :-1] / d
    else:
        try:
            R = np.linalg.cholesky(gram[:-1, :-1] / np.outer(d, d)).T
        except np.linalg.LinAlgError:
            return None
    diagonal = np.abs(np.diag(R))
    if not (np.isfinite(R).all() and diagonal.min() > 0 and diagonal.min() > EPS64 * diagonal.max()):
        return None
    return Preconditioner(R, d, stats, contraction_estimate(condition, k1, qr is None, stats))


# --- refinement and certificate -------------------------------------------------------------------


@dataclass(frozen=True)
class Refined:
    """A θ ((k+1,), original units) and what one residual pass proves about it.

    ``error_bound`` bounds ``‖D(θ − θ*)‖/‖Dθ‖`` (D the column norms of ``[X, 1]`` as stored),
    ``component_bounds`` ((k+1,)) bound ``|θ_i − θ*_i|``; ``certified_digits`` is
    ``min_i −log10(component_bounds_i/|θ_i|)`` (the LRE the bound guarantees, NIST's measure,
    at most 17); ``normal_residual`` η is the backward-error style residual of the normal
    equations from the double-double ``g``; ``steps`` the refinement passes that changed θ,
    ``passes`` all passes; ``contraction`` the ``f`` used; ``converged`` whether the bound is
    trusted (``f`` < 1/2); ``history`` the relative size of each correction."""

    theta: np.ndarray
    error_bound: float
    component_bounds: np.ndarray
    certified_digits: float
    normal_residual: float
    contraction: float
    steps: int
    passes: int
    converged: bool
    history: tuple[float, ...] = ()


def _digits(bounds: np.ndarray, theta: np.ndarray) -> float:
    """``min_i −log10(bounds_i/(|θ_i| − bounds_i))``: NIST's LRE is relative to the exact value,
    at least ``|θ_i| − bounds_i`` (a zero θ_i counts by its absolute bound; no digit when the
    bound reaches |θ_i|)."""
    scale = np.where(theta != 0, np.abs(theta) - bounds, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.where(scale > 0, -np.log10(bounds / np.where(scale > 0, scale, 1.0)), 0.0)
    return float(np.clip(digits, 0.0, 17.0).min()) if len(digits) else 0.0


def _normal_residual(res: Residual, theta: np.ndarray, Linv: np.ndarray) -> float:
    """η = ‖D⁻¹g‖/(‖A_eq‖·(‖A_eq‖·‖Dθ‖ + ‖r‖)), ``‖A_eq‖`` from the preconditioner."""
    d = res.column_norms
    smallest = float(np.linalg.svd(d[:, None] * Linv, compute_uv=False)[-1])
    norm_a = 1.0 / smallest if smallest > 0 else math.sqrt(len(d))
    denominator = norm_a * (norm_a * float(np.linalg.norm(d * theta)) + math.sqrt(res.rss))
    g_norm = float(np.linalg.norm(res.g / d))
    return g_norm / denominator if denominator > 0 else (0.0 if g_norm == 0 else math.inf)


def accumulation_term(pre: Preconditioner, res: Residual) -> float:
    """A bound on ``‖L·P·γ‖ = ‖L⁻ᵀγ‖`` for any ``|γ| ≤ g_error``: the smaller of
    ``‖|L⁻ᵀ|·g_error‖`` and ``‖L⁻ᵀD‖·‖D⁻¹g_error‖``."""
    d = res.column_norms
    Lt = np.column_stack([pre.half(col) for col in np.eye(len(d))])  # L⁻ᵀ
    direct = float(np.linalg.norm(np.abs(Lt) @ res.g_error))
    scaled = float(np.linalg.norm(Lt * d[None, :], 2)) * float(np.linalg.norm(res.g_error / d))
    return (1.0 + 1e-6) * min(direct, scaled)


def _failed(theta: np.ndarray, eta: float, f: float, steps: int, history: list[float]) -> Refined:
    inf = np.full(len(theta), math.inf)
    return Refined(theta, math.inf, inf, 0.0, eta, f, steps, steps + 1, False, tuple(history))


def certify_theta(chunks: Callable[[], Chunks], theta: np.ndarray, pre: Preconditioner) -> Refined:
    """The certificate of a given ``theta`` ((k+1,), original units), unchanged (for the
    independent solvers: scikit-learn, torch): one residual pass. With ``e = θ − θ*``:
    ``e = −δ + F·e + P·γ``, so ``‖Le‖ ≤ (‖Lδ‖ + ‖LPγ‖)/(1 − f)``."""
    theta = np.asarray(theta, dtype=np.float64)
    res = residual_pass(chunks(), theta)
    d = res.column_norms
    Linv = pre.inverse_factor()
    eta = _normal_residual(res, theta, Linv)
    delta, z = pre.apply(res.g)
    f = pre.contraction
    if not (f < MAX_CONTRACTION and np.isfinite(delta).all()):
        return _failed(theta, eta, f, 0, [])
    noise = accumulation_term(pre, res)
    energy = (float(np.linalg.norm(z)) * (1.0 + 1e-6) + noise) / (1.0 - f)
    unknown = f * energy + noise
    rows = np.linalg.norm(Linv, axis=1)
    bounds = np.abs(delta) * (1.0 + 1e-6) + rows * unknown
    scale = float(np.linalg.norm(d * theta))
    whole = float(np.linalg.norm(d * delta)) + float(np.linalg.norm(d[:, None] * Linv, 2)) * unknown
    relative = whole / scale if scale > 0 else math.inf
    return Refined(theta, relative, bounds, _digits(bounds, theta), eta, f, 0, 1, True)


def refine(chunks: Callable[[], Chunks], theta: np.ndarray, pre: Preconditioner, max_steps: int = MAX_STEPS) -> Refined:
    """Refine ``theta`` ((k+1,), original units) with ``pre`` until the error left is below its
    own rounding (or ``max_steps`` passes), and certify the result (see the module docstring).
    Each step is one :func:`residual_pass` over ``chunks()``; after the update
    ``θ' = θ + δ + ρ`` the error is ``F·e + P·γ + ρ``, so ``‖L(e' − ρ)‖ ≤ f·‖Le‖ + ‖LPγ‖``."""
    theta = np.asarray(theta, dtype=np.float64).copy()
    start = theta.copy()
    low = np.zeros(len(theta))  # θ is kept as theta + low (double-double) while refining
    Linv = pre.inverse_factor()
    rows = np.linalg.norm(Linv, axis=1)
    absolute_L = np.abs(pre.R) @ (pre.d[:, None] * np.abs(pre.transform_inverse()))  # ≥ |L|
    f = pre.contraction
    previous: float | None = None
    history: list[float] = []
    eta = math.inf
    for step in range(1, max_steps + 1):
        res = residual_pass(chunks(), theta, low)
        d = res.column_norms
        eta = _normal_residual(res, theta, Linv)
        delta, z = pre.apply(res.g)
        noise = accumulation_term(pre, res)
        size = float(np.linalg.norm(z)) * (1.0 + 1e-6)  # ‖L·δ‖
        # What no step can remove: the accumulation error of g (θ is double-double).
        floor = noise + EPS64**2 * float(np.linalg.norm(absolute_L @ np.abs(theta)))
        history.append(float(np.linalg.norm(d * delta)) / max(float(np.linalg.norm(d * theta)), 1e-300))
        stagnant = False
        if previous is not None:
            ratio = size / previous if previous > 0 else math.inf
            if ratio > 0.5 and size > 4.0 * floor:
                f = max(f, ratio)  # no contraction above the floor: the refinement diverges
            elif previous > 100.0 * floor:
                f = max(f, 10.0 * ratio)  # the contraction observed, with a margin
            stagnant = ratio > 0.5
        if not (f < MAX_CONTRACTION and np.isfinite(delta).all()):
            return _failed(start, eta, f, step - 1, history)
        energy = (size + noise) / (1.0 - f)  # ≥ ‖L·e‖ of θ now
        # θ + δ in double-double; the one rounded sum (the low parts) errs by ≤ eps of it.
        s_hi, s_err = two_sum(theta, delta)
        s_lo = low + s_err
        drift = EPS64 * np.abs(s_lo)
        theta, low = two_sum(s_hi, s_lo)
        unknown = f * energy + noise + float(np.linalg.norm(absolute_L @ drift))  # ≥ ‖L·e'‖
        previous = size
        # Done when what is unknown is far below an ulp in every component.
        settled = bool(np.all(rows * unknown <= 1e-3 * EPS64 * np.abs(theta)))
        if settled or stagnant or step == max_steps:
            # The float64 result is ``theta``; the double-double one differs by ``low`` exactly.
            bounds = np.abs(low) + rows * unknown
            scale = float(np.linalg.norm(d * theta))
            whole = float(np.linalg.norm(d * low)) + float(np.linalg.norm(d[:, None] * Linv, 2)) * unknown
            relative = whole / scale if scale > 0 else math.inf
            return Refined(theta, relative, bounds, _digits(bounds, theta), eta, f, step, step, True, tuple(history))
    raise AssertionError("unreachable")  # pragma: no cover


def to_fitted(theta: np.ndarray, stats: Standardization | None) -> np.ndarray:
    """Original-unit θ ((k+1,)) as fitted-space parameters: ``w_s = w·σ_x/σ_y``,
    ``b_s = (b − μ_y + μ_x·w)/σ_y`` (the sum exactly rounded); the weights alone ((k,)) for a
    design without the intercept (scaled, never centred)."""
    if stats is None:
        return np.asarray(theta, dtype=np.float64).copy()
    if len(theta) == len(stats.x_std):
        return np.asarray(theta, dtype=np.float64) * stats.x_std / stats.y_std
    w, b = theta[:-1], float(theta[-1])
    p, e = two_product(stats.x_mean, w, split(stats.x_mean), split(w))
    centred = math.fsum([b, -stats.y_mean, *p.tolist(), *e.tolist()])
    return np.append(w * stats.x_std / stats.y_std, centred / stats.y_std)


def to_original(theta: np.ndarray, stats: Standardization | None) -> np.ndarray:
    """Fitted-space θ ((k+1,), or the weights alone (k,) without the intercept) in original
    units (:func:`~descent.fitting.scaling.to_original_units`)."""
    if stats is None:
        return np.asarray(theta, dtype=np.float64).copy()
    if len(theta) == len(stats.x_std):
        return np.asarray(theta, dtype=np.float64) * stats.y_std / stats.x_std
    w, b = to_original_units(theta[:-1], float(theta[-1]), stats)
    return np.append(w, b)


def certified_solution(
    chunks: Callable[[], Chunks],
    theta: np.ndarray,
    gram: np.ndarray,
    qr: np.ndarray | None,
    sigma: np.ndarray,
    rank: int,
    stats: Standardization | None,
    tolerance: float,
    max_error: float,
    improve: bool,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """A closed-form ``theta`` ((k+1,), fitted space) refined (``improve``) or only certified
    against the data as stored, read by ``chunks()``; ``gram``/``qr``/``sigma`` as in
    :mod:`descent.fitting.closed_form`. Returns θ in the fitted space, θ in original units (full
    precision: mapping back through the standardization would cancel digits of the bias) and
    the :class:`~descent.fitting.closed_form.Certificate`. A rank-deficient or non-finite θ gets
    the float64 Gram's certificate (and fails it)."""
    theta = np.asarray(theta, dtype=np.float64)
    k1 = len(theta)
    condition = float(sigma[0] / sigma[-1]) if sigma[-1] > 0 else math.inf
    finite = bool(np.isfinite(theta).all())
    pre = preconditioner(gram, qr, condition, stats) if finite and rank == k1 else None
    if pre is None:
        return theta, to_original(theta, stats), certify(theta, gram, sigma, tolerance, max_error, rank)
    start = to_original(theta, stats)
    result = refine(chunks, start, pre) if improve else certify_theta(chunks, start, pre)
    if not result.converged:
        reason = (
            f"refinement does not contract (estimated contraction {result.contraction:.3g}): condition number "
            f"{condition:.3g} is beyond what float64 can certify"
        )
    elif not result.normal_residual <= tolerance:
        reason = (
            f"normal-equation residual {result.normal_residual:.3g} above tolerance {tolerance:.3g}: the solve is wrong"
        )
    elif not result.error_bound <= max_error:
        reason = (
            f"forward-error bound {result.error_bound:.3g} above {max_error:.3g}: condition number {condition:.3g} "
            "is beyond what this solve reaches"
        )
    else:
        reason = ""
    certificate = Certificate(
        result.normal_residual,
        condition,
        tolerance,
        float(result.error_bound),
        max_error,
        not reason,
        reason,
        certified_digits=float(result.certified_digits),
        refinement_steps=result.steps,
    )
    fitted = to_fitted(result.theta, stats) if result.steps > 0 else theta  # unchanged: bit for bit
    return fitted, result.theta, certificate


def reference_solution(
    chunks: Callable[[], Chunks], k: int, data_dtype: np.dtype, max_error: float = 1e-4, intercept: bool = True
) -> tuple[np.ndarray, Any]:
    """The certified least-squares θ* ((k+1,), weights then bias; (k,) without ``intercept``) of
    the data ``chunks()`` reads, as they are (no standardization), by the default path of
    ``lstsq``: the float64 Gram, a QR when the equilibrated condition number is above 1e4, then
    refined and certified here. Returns θ* and its
    :class:`~descent.fitting.closed_form.Certificate` (check ``ok`` before trusting θ*)."""
    gram = gram_of_chunks(chunks(), k, None, intercept)
    sigma = singular_values(gram)
    qr = None
    if not gram_resolves(sigma) or sigma[-1] * NORMAL_EQUATIONS_MAX_CONDITION < sigma[0]:
        qr = qr_of_chunks(chunks(), k, None, intercept)
        sigma = singular_values(gram, qr)
    rcond = rank_tolerance(k, data_dtype)
    rank = int((sigma > rcond * sigma[0]).sum()) if sigma[0] > 0 else 0
    theta = solve_qr(qr, gram, rcond)[0] if qr is not None else solve_normal_equations(gram)
    tolerance = certificate_tolerance(k, np.dtype(np.float64), 100.0)
    fitted, _, certificate = certified_solution(chunks, theta, gram, qr, sigma, rank, None, tolerance, max_error, True)
    return fitted, certificate
