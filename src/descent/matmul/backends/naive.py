"""Naive triple loops, timed against BLAS: Lesson 0's own loop and a list-of-lists variant.

* ``naive_numpy_indexing`` — Lesson 0's code: ``D[i, j] += A[i, k] * B[k, j]`` indexing NumPy
  arrays element by element. Every ``A[i, k]`` is a NumPy scalar of the operands' dtype, so the
  products and sums are rounded to that dtype: float32 operands are multiplied in float32 (the
  result ``D`` is allocated in the operands' dtype; for the lesson's float64 operands that is the
  lesson's ``np.zeros((s, s))``).
* ``naive_python`` — the same loop over Python lists (``A.tolist()``, outside the timed region):
  Python floats, so it always computes in float64, whatever the operands' dtype. Several times
  faster than the lesson's loop (no NumPy scalar boxing per element).
"""

from __future__ import annotations

import numpy as np

from descent.matmul.backends.base import Backend, Runner


def lesson_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Lesson 0's loop: ``D[i, j] += A[i, k] * B[k, j]`` over NumPy arrays, element by element.

    ``A`` is ``(n, p)`` and ``B`` is ``(p, m)``, same dtype; returns ``D``, ``(n, m)`` in that
    dtype, accumulated over ``k`` in ascending order with NumPy-scalar arithmetic of that dtype.

    >>> lesson_matmul(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0], [7.0, 8.0]])).tolist()
    [[19.0, 22.0], [43.0, 50.0]]
    """
    n, p = A.shape
    m = B.shape[1]
    D = np.zeros((n, m), dtype=A.dtype)
    for i in range(n):
        for j in range(m):
            for k in range(p):
                D[i, j] += A[i, k] * B[k, j]
    return D


def naive_matmul(A: list[list[float]], B: list[list[float]]) -> list[list[float]]:
    """The triple loop over Python lists: ``C[i][j] += A[i][k] * B[k][j]`` in Python floats.

    ``A`` is ``n x p`` and ``B`` is ``p x m`` (lists of rows); returns ``C``, ``n x m``.

    >>> naive_matmul([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]])
    [[19.0, 22.0], [43.0, 50.0]]
    """
    n, p, m = len(A), len(B), len(B[0]) if B else 0
    C = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            for k in range(p):
                C[i][j] += A[i][k] * B[k][j]
    return C


def lesson_runner(A: np.ndarray, B: np.ndarray) -> Runner:
    """Lesson 0's loop on the operands as they are (NumPy arrays); 1 thread."""
    return Runner(fn=lambda: lesson_matmul(A, B), to_numpy=np.asarray, threads=1)


def naive_runner(A: np.ndarray, B: np.ndarray) -> Runner:
    """The list-of-lists loop (operands converted to Python lists outside the timed region); 1 thread."""
    a, b = A.tolist(), B.tolist()
    return Runner(fn=lambda: naive_matmul(a, b), to_numpy=lambda C: np.array(C, dtype=np.float64), threads=1)


NAIVE_NUMPY_INDEXING = Backend(
    name="naive_numpy_indexing",
    description="Lesson 0's own triple loop, D[i, j] += A[i, k] * B[k, j] indexing NumPy arrays element by "
    "element (NumPy scalars: computes in the operands' dtype)",
    device="cpu",
    needs_torch=False,
    naive=True,
    computes_in=None,
    factory=lesson_runner,
    color="tab:purple",
    marker="v",
    lesson=True,
)

NAIVE_PYTHON = Backend(
    name="naive_python",
    description="the same triple loop over Python lists of Python floats (computes in float64 whatever the "
    "operands' dtype)",
    device="cpu",
    needs_torch=False,
    naive=True,
    computes_in="float64",
    factory=naive_runner,
    color="tab:red",
    marker="o",
)
