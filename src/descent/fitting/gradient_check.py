"""Hand-derived gradients checked against autograd at one point, in float64 and the data's dtype."""

from __future__ import annotations

from typing import Any

import numpy as np

from descent.fitting.common import writable
from descent.fitting.objective import autograd_gradients, hand_gradients


def gradient_check(X: np.ndarray, y: np.ndarray, w: list[float], b: float, reduction: str = "mean") -> dict[str, Any]:
    """Hand-derived against autograd gradients at ``(w, b)``, in float64 and in the data's dtype."""
    import torch

    result: dict[str, Any] = {"point": {"weights": list(w), "bias": b}, "reduction": reduction}
    for dtype in sorted({np.dtype("float64"), np.dtype(X.dtype)}, key=str):
        Xt = torch.as_tensor(writable(np.asarray(X, dtype=dtype)))
        yt = torch.as_tensor(writable(np.asarray(y, dtype=dtype)))
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
