"""``torch.matmul`` on the CPU and on a CUDA GPU (float32 without TF32: the job sets
``torch.set_float32_matmul_precision('highest')`` and ``allow_tf32 = False``)."""

from __future__ import annotations

import numpy as np

from descent.matmul.backends.base import Backend, Runner


def torch_runner(A: np.ndarray, B: np.ndarray, device: str = "cpu") -> Runner:
    """``torch.matmul`` on ``device``; operands ``(n, n)`` copied there outside the timed region.

    On a CUDA device ``sync`` is ``torch.cuda.synchronize`` (kernels launch asynchronously) and
    the product is copied back to the host for the check; on the CPU there is nothing to wait for.
    """
    import torch

    tA = torch.from_numpy(np.ascontiguousarray(A)).to(device)
    tB = torch.from_numpy(np.ascontiguousarray(B)).to(device)
    dev = tA.device
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else None
    name = (
        f"{dev.type}:{dev.index if dev.index is not None else torch.cuda.current_device()}"
        if dev.type == "cuda"
        else str(dev)
    )
    return Runner(fn=lambda: torch.matmul(tA, tB), to_numpy=lambda C: C.detach().cpu().numpy(), sync=sync, device=name)


def torch_cpu_runner(A: np.ndarray, B: np.ndarray) -> Runner:
    """:func:`torch_runner` on the CPU."""
    return torch_runner(A, B, "cpu")


def torch_cuda_runner(A: np.ndarray, B: np.ndarray) -> Runner:
    """:func:`torch_runner` on the current CUDA device."""
    return torch_runner(A, B, "cuda")


TORCH_CPU = Backend(
    name="torch_cpu",
    description="torch.matmul on the CPU",
    device="cpu",
    needs_torch=True,
    naive=False,
    computes_in=None,
    factory=torch_cpu_runner,
    color="tab:orange",
    marker="^",
)

TORCH_CUDA = Backend(
    name="torch_cuda",
    description="torch.matmul on a CUDA GPU (no TF32)",
    device="cuda",
    needs_torch=True,
    naive=False,
    computes_in=None,
    factory=torch_cuda_runner,
    color="tab:green",
    marker="D",
)
