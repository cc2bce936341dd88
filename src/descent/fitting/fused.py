"""One pass at memory speed: the squared error's loss and gradient sums in one sweep over ``X``.

:func:`partial_sums` reads a column-major ``X`` (n, k) once: for each cache-sized block of rows
it forms the residual ``s = X·w + b − y`` (in the dtype of ``w``) column after column, then,
while the block is still in cache, ``Σ x_j·s`` for every column, ``Σ s`` and ``Σ s²``. The loops
run along whole columns of the block (contiguous in memory), so the compiler vectorizes them; a
row-major ``X`` would put only k values (one row) in each inner loop, too few to vectorize, which
is why the in-memory fits of large data hold ``X`` column-major (``descent.io.load_dataset``).

The kernels are compiled by numba (``cache=True``: the first call of each dtype pays the compile,
about a second, later processes load it from the cache next to this file or numba's cache
directory). Only fits of large data import this module (``objective.hand_gradients`` from
``objective.BLOCK_MIN_ROWS`` rows, and the streamed passes of ``stream.gradient_pass``): small
jobs never pay numba's import.

Results: the block partial sums go in a ``(blocks, k + 2)`` float64 array summed in block order,
so they do not depend on the number of threads. Within a block the sums are reassociated by the
compiler (``fastmath`` reassociation and fused multiply-add, never assumptions about NaN or inf,
so a diverging fit still shows its inf or NaN): they differ from a NumPy or torch pass in
summation order only, which is rounding.

No bias: pass ``b = 0`` (the residual is then ``X·w − y``; ``Σ s`` is still returned).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

#: Bytes of ``X`` per block of rows: the block and its residual stay in a core's L2 cache between
#: the residual and the products (measured on 10⁷ × 10: 128-512 KiB best).
BLOCK_BYTES = 256 << 10
#: Blocks a thread claims at a time (16 × 256 KiB = 4 MiB of X).
CLAIM_BLOCKS = 16
#: Reassociation (vectorized sums) and contraction (fused multiply-add) only: not ``nnan``/``ninf``.
FASTMATH = {"reassoc", "contract", "nsz"}


@numba.njit(nogil=True, cache=True, fastmath=FASTMATH)
def _raw_blocks(
    columns: Any, ld: int, n: int, y: Any, w: Any, b: Any, first: int, last: int, rows: int, out: Any
) -> None:  # pragma: no cover (compiled; tested through partial_sums)
    """Blocks ``first``..``last`` of ``rows`` rows: ``out[block] = (Σ x_j·s (k), Σ s, Σ s²)``.

    ``columns``: X's values, column ``j`` at ``columns[j·ld : j·ld + n]``; ``y`` (n,); ``w`` (k,)
    and ``b`` in the compute dtype; ``out`` (blocks, k + 2) float64. Columns are taken four at a
    time (then two, then one), so each sweep of the block loads and stores the residual once
    for four columns (measured 1.1-1.5x faster than one column at a time)."""
    k = w.shape[0]
    r = np.empty(rows, dtype=w.dtype)
    for block in range(first, last):
        lo = block * rows
        m = min(rows, n - lo)
        target = y[lo : lo + m]
        for i in range(m):
            r[i] = b - target[i]
        j = 0
        while j < k:  # s = X·w + b − y
            x0, w0 = columns[j * ld + lo : j * ld + lo + m], w[j]
            if k - j >= 4:
                x1, w1 = columns[(j + 1) * ld + lo : (j + 1) * ld + lo + m], w[j + 1]
                x2, w2 = columns[(j + 2) * ld + lo : (j + 2) * ld + lo + m], w[j + 2]
                x3, w3 = columns[(j + 3) * ld + lo : (j + 3) * ld + lo + m], w[j + 3]
                for i in range(m):
                    r[i] += (x0[i] * w0 + x1[i] * w1) + (x2[i] * w2 + x3[i] * w3)
                j += 4
            elif k - j >= 2:
                x1, w1 = columns[(j + 1) * ld + lo : (j + 1) * ld + lo + m], w[j + 1]
                for i in range(m):
                    r[i] += x0[i] * w0 + x1[i] * w1
                j += 2
            else:
                for i in range(m):
                    r[i] += x0[i] * w0
                j += 1
        j = 0
        while j < k:  # Σ x_j·s, the block still in cache
            x0 = columns[j * ld + lo : j * ld + lo + m]
            if k - j >= 4:
                x1 = columns[(j + 1) * ld + lo : (j + 1) * ld + lo + m]
                x2 = columns[(j + 2) * ld + lo : (j + 2) * ld + lo + m]
                x3 = columns[(j + 3) * ld + lo : (j + 3) * ld + lo + m]
                t0, t1, t2, t3 = x0[0] * r[0], x1[0] * r[0], x2[0] * r[0], x3[0] * r[0]
                for i in range(1, m):
                    s = r[i]
                    t0 += x0[i] * s
                    t1 += x1[i] * s
                    t2 += x2[i] * s
                    t3 += x3[i] * s
                out[block, j], out[block, j + 1], out[block, j + 2], out[block, j + 3] = t0, t1, t2, t3
                j += 4
            else:
                t0 = x0[0] * r[0]
                for i in range(1, m):
                    t0 += x0[i] * r[i]
                out[block, j] = t0
                j += 1
        plain = r[0]
        squares = r[0] * r[0]
        for i in range(1, m):
            plain += r[i]
            squares += r[i] * r[i]
        out[block, k] = plain
        out[block, k + 1] = squares


@numba.njit(nogil=True, cache=True, fastmath=FASTMATH)
def _standardized_blocks(
    columns: Any,
    ld: int,
    n: int,
    y: Any,
    w: Any,
    b: float,
    x_mean: Any,
    x_std: Any,
    y_mean: float,
    y_std: float,
    first: int,
    last: int,
    rows: int,
    out: Any,
) -> None:  # pragma: no cover (compiled; tested through partial_sums)
    """:func:`_raw_blocks` in float64 on the standardized data ``(x_j − μ_j)/σ_j``,
    ``(y − μ_y)/σ_y``, standardized as ``closed_form.float64_block`` does (subtract, then
    divide), into a (k, rows) float64 block kept in cache."""
    k = w.shape[0]
    r = np.empty(rows)
    scaled = np.empty((k, rows))
    for block in range(first, last):
        lo = block * rows
        m = min(rows, n - lo)
        target = y[lo : lo + m]
        for i in range(m):
            r[i] = b - (np.float64(target[i]) - y_mean) / y_std
        for j in range(k):
            x = columns[j * ld + lo : j * ld + lo + m]
            column = scaled[j, :m]
            mu, sigma, wj = x_mean[j], x_std[j], w[j]
            for i in range(m):
                column[i] = (np.float64(x[i]) - mu) / sigma
                r[i] += column[i] * wj
        for j in range(k):
            column = scaled[j, :m]
            total = column[0] * r[0]
            for i in range(1, m):
                total += column[i] * r[i]
            out[block, j] = total
        plain = r[0]
        squares = r[0] * r[0]
        for i in range(1, m):
            plain += r[i]
            squares += r[i] * r[i]
        out[block, k] = plain
        out[block, k + 1] = squares


def column_view(X: np.ndarray) -> tuple[np.ndarray, int]:
    """``X`` (n, k) whose rows are contiguous in each column (column-major, or a row slice of a
    column-major array) as ``(columns, ld)``: a 1-D view of its buffer with column ``j`` at
    ``columns[j·ld : j·ld + n]``, no copy. Other layouts are copied column-major first."""
    n, k = X.shape
    itemsize = X.itemsize
    if n == 1:  # one row: any layout is its k values in a row
        return np.ascontiguousarray(X).reshape(-1), 1
    if k > 1 and (X.strides[0] != itemsize or X.strides[1] % itemsize or X.strides[1] < n * itemsize):
        X = np.asfortranarray(X)
    elif k == 1 and X.strides[0] != itemsize:
        X = np.ascontiguousarray(X)
    ld = X.strides[1] // itemsize if k > 1 else n
    length = (k - 1) * ld + n
    return np.lib.stride_tricks.as_strided(X, shape=(length,), strides=(itemsize,), writeable=False), int(ld)


def is_column_major(X: np.ndarray) -> bool:
    """Whether :func:`partial_sums` reads ``X`` (n, k) in place (its columns each contiguous)."""
    if X.ndim != 2 or X.shape[0] <= 1 or X.shape[1] == 1:
        return X.ndim == 2 and (X.shape[0] <= 1 or X.strides[0] == X.itemsize)
    return X.strides[0] == X.itemsize and X.strides[1] % X.itemsize == 0 and X.strides[1] >= X.shape[0] * X.itemsize


def block_rows(k: int, itemsize: int) -> int:
    """Rows per block: :data:`BLOCK_BYTES` of ``X`` at ``k`` features, a multiple of 64."""
    return max(64, BLOCK_BYTES // max(1, k * itemsize) // 64 * 64)


def partial_sums(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float,
    stats: Any | None = None,
    workers: int = 1,
    rows: int | None = None,
) -> np.ndarray:
    """``(Σ_i x_ij·s_i for each j (k), Σ s_i, Σ s_i²)`` as float64 (k + 2,), ``s = X·w + b − y``.

    ``X`` (n, k), ``y`` (n,); ``w`` (k,) sets the compute dtype of the residual (float32 for a
    float32 fit, as torch computes it; float64 for the streamed passes). With ``stats`` (a
    :class:`descent.fitting.scaling.Standardization`) ``X`` and ``y`` are standardized on the fly
    (float64, ``w`` must be float64). ``workers`` threads share the blocks of ``rows`` rows
    (default :func:`block_rows`), claiming :data:`CLAIM_BLOCKS` at a time; each block's sums have
    their own row, so the result does not depend on the threads or on who computed which block.
    """
    n, k = X.shape
    if n == 0:
        return np.zeros(k + 2)
    columns, ld = column_view(X)
    target = y if y.dtype in (np.float32, np.float64) else y.astype(np.float64)
    rows = int(rows or block_rows(k, X.itemsize))
    blocks = -(-n // rows)
    out = np.empty((blocks, k + 2))
    if stats is None:
        dtype = w.dtype.type

        def run(first: int, last: int) -> None:
            _raw_blocks(columns, ld, n, target, w, dtype(b), first, last, rows, out)
    else:
        w64 = np.asarray(w, dtype=np.float64)
        x_mean, x_std = np.asarray(stats.x_mean, dtype=np.float64), np.asarray(stats.x_std, dtype=np.float64)

        def run(first: int, last: int) -> None:
            _standardized_blocks(
                columns, ld, n, target, w64, float(b), x_mean, x_std, stats.y_mean, stats.y_std, first, last, rows, out
            )

    workers = max(1, min(int(workers), blocks))
    if workers == 1:
        run(0, blocks)
    else:
        # Each thread claims the next CLAIM_BLOCKS blocks when it is done with its last: a thread
        # slowed by other processes holds up only its own claim, not a fixed share of the pass.
        claims = iter(range(0, blocks, CLAIM_BLOCKS))
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    first = next(claims, None)
                if first is None:
                    return
                run(first, min(blocks, first + CLAIM_BLOCKS))

        with ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(work) for _ in range(workers)]:
                future.result()
    result: np.ndarray = out.sum(axis=0)
    return result
