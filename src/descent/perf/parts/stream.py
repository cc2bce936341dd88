"""STREAM-like copy and triad bandwidth (torch, the fits' thread count; ``stream.json``)."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from descent.perf.bandwidth import stream_bandwidth
from descent.perf.part import Flag, Part, Result, log


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    log(f"STREAM-like copy/triad, {args.stream_elements} float64 elements, {args.threads} threads")
    return stream_bandwidth(args.stream_elements, args.threads, "float64", warmup=1, repeats=5)


def rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    bandwidth = f"{result['copy']['gbps']:.1f} / {result['triad']['gbps']:.1f}"
    return [["stream", "copy / triad GB/s (float64)", bandwidth, f"threads={result['threads']}"]]


PART = Part(
    name="stream",
    position=30,
    description=__doc__ or "",
    run=run,
    rows=rows,
    flags=(Flag("--stream-elements", {"type": int, "default": 1 << 25, "help": "STREAM array length (default 2^25)"}),),
)
