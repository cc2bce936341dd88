"""The rows of one fit spread over several processes: each holds a shard, and every sum over rows
(a loss, a gradient, a Gram) is a sum over shards, all-reduced with ``torch.distributed``.

Summing per-shard *sums* and dividing by the global ``n`` is exactly the full-batch mean (an
average of per-shard means would weigh uneven shards wrongly), so a data-parallel descent follows
the single-process trajectory to rounding, and the exact prediction of
:mod:`descent.fitting.theory` applies unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Collective:
    """This process's place in a data-parallel fit: its ``rank`` among ``size`` processes (a
    ``torch.distributed`` process group is initialised) and the rows of the whole fit, ``n_total``."""

    rank: int
    size: int
    n_total: int
    #: Seconds this process has spent in all-reduces (waiting for its peers included): the
    #: communication share of a data-parallel fit's time.
    waited: list[float] = field(default_factory=lambda: [0.0], compare=False)

    @property
    def communication_seconds(self) -> float:
        """Seconds spent in all-reduces so far."""
        return self.waited[0]

    def sum(self, loss: Any, gw: Any, gb: Any) -> tuple[Any, Any, Any]:
        """``(loss, gw (k,), gb ())`` summed over every process (one all-reduce, in float64),
        returned in the tensors' own dtype."""
        import torch
        import torch.distributed as dist

        k = gw.shape[0]
        flat = torch.cat([loss.reshape(1), gw.reshape(-1), gb.reshape(1)]).to(torch.float64).cpu()
        start = time.perf_counter()
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        self.waited[0] += time.perf_counter() - start
        flat = flat.to(dtype=gw.dtype, device=gw.device)
        return flat[0], flat[1 : k + 1], flat[k + 1]

    def sum_array(self, array: np.ndarray) -> np.ndarray:
        """A float64 array (e.g. a Gram matrix) summed over every process."""
        import torch
        import torch.distributed as dist

        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64)).clone()
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.numpy()
