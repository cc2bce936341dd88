"""``make gpu-check``: every CUDA path (the matmul backend, the CUDA fit variants) checked against
the CPU, in one short run; prints a table and writes results/perf/gpu_check.json. Without CUDA it
says so and exits 0. ``--device cpu`` runs the same code on the CPU (small sizes, for tests)."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

from descent.io import write_json
from descent.perf import gpu_check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--matmul-sizes", type=int, nargs="+", default=list(gpu_check.MATMUL_SIZES))
    parser.add_argument("--fit-sizes", type=int, nargs="+", default=list(gpu_check.FIT_SIZES))
    parser.add_argument("--out", default="results/perf/gpu_check.json")
    args = parser.parse_args(argv)
    if args.device == "cuda":
        available, what = gpu_check.cuda_status()
        print(what)
        if not available:
            return 0
    else:
        what = f"CPU ({platform.processor() or platform.machine()}): the GPU check's code, run on the CPU"
    start = time.perf_counter()
    rows = gpu_check.matmul_rows(args.device, args.matmul_sizes) + gpu_check.fit_rows(args.device, args.fit_sizes)
    print("\n".join(gpu_check.summary_lines(rows)))
    seconds = time.perf_counter() - start
    print(f"{len(rows)} checks in {seconds:.0f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, {"device": what, "seconds": seconds, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
