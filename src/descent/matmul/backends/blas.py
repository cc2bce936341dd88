"""NumPy's ``np.matmul``: the BLAS GEMM NumPy was built with, at the operands' dtype."""

from __future__ import annotations

import numpy as np

from descent.matmul.backends.base import Backend, Runner


def numpy_runner(A: np.ndarray, B: np.ndarray) -> Runner:
    """``np.matmul`` (NumPy's BLAS GEMM at the operands' dtype; threads set by threadpoolctl)."""
    return Runner(fn=lambda: np.matmul(A, B), to_numpy=np.asarray)


NUMPY = Backend(
    name="numpy",
    description="np.matmul, NumPy's BLAS GEMM",
    device="cpu",
    needs_torch=False,
    naive=False,
    computes_in=None,
    factory=numpy_runner,
    color="tab:blue",
    marker="s",
)
