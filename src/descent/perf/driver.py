"""``make bench``: run the benchmark's parts (:mod:`descent.perf.parts`), write
``results/perf/<part>.json``, print one table of every part's rows, the parts' own tables and the
targets. Everything is measured in one run, so the ratios hold on a noisy machine.

``--quick`` skips the full-workflow part; ``--only PART …`` runs the parts named (and the parts
they need) and writes only their files, not ``summary.json`` or ``machine.json``. Every timing
goes through the project's one harness, :func:`descent.timing.time_callable`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from descent.io import write_json
from descent.matmul.machine import cpu_facts
from descent.perf.part import ROOT, Part, Result
from descent.perf.parts import discover
from descent.perf.tables import format_table


def load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def parser(parts: Sequence[Part]) -> argparse.ArgumentParser:
    """The command line: the options every part shares, then each part's own."""
    names = [part.name for part in parts]
    command = argparse.ArgumentParser(description="The project's own speed-and-scale benchmark (make bench).")
    command.add_argument("--quick", action="store_true", help="skip the full-workflow part (development)")
    command.add_argument(
        "--only",
        nargs="+",
        choices=names,
        metavar="PART",
        help=f"run only these parts (of: {', '.join(names)}) and write only their files, "
        "not summary.json or machine.json",
    )
    command.add_argument("--out", default=str(ROOT / "results" / "perf"), help="output folder (default results/perf)")
    command.add_argument("--rows", type=int, default=10_000_000, help="rows of the large data sets (default 1e7)")
    command.add_argument("--features", type=int, default=10, help="features of the large data sets (default 10)")
    command.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="threads (default: usable CPUs)"
    )
    command.add_argument("--repeats", type=int, default=5, help="timed gradient iterations per method (default 5)")
    for part in parts:
        group = command.add_argument_group(part.name, part.description.split("\n\n")[0].replace("\n", " "))
        for flag in part.flags:
            group.add_argument(flag.flag, **flag.spec)
    return command


def selected(parts: Sequence[Part], only: Sequence[str] | None, quick: bool) -> list[Part]:
    """The parts to run, in order: those named (all by default; not the workflow with ``quick``)
    and those they need."""
    chosen = set(only or [part.name for part in parts])
    if quick:
        chosen.discard("workflow")
    for part in parts:
        if part.name in chosen:
            chosen.update(part.needs)
    return [part for part in parts if part.name in chosen]


def targets_table(targets: list[dict[str, Any]]) -> str:
    rows = [
        [
            t["target"],
            t["value"],
            f"{'>=' if t['kind'] == 'min' else '<='} {t['limit']:g}",
            t["ratio"],
            "met" if t["met"] else f"MISSED by {t['missed_by']:.0%}",
        ]
        for t in targets
    ]
    return format_table(rows, ["target", "value", "limit", "value/limit", "status"])


def main(argv: list[str] | None = None) -> int:
    parts = discover()
    args = parser(parts).parse_args(argv)
    out = Path(args.out)
    machine = {
        "cpu": cpu_facts(),
        "threads": args.threads,
        "python": sys.version.split()[0],
        "load_average_start": load_average(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    chosen = selected(parts, args.only, args.quick)
    results: dict[str, Result] = {}
    for part in chosen:
        results[part.name] = part.run(args, results)
    machine["load_average_end"] = load_average()
    rows: list[list[Any]] = []
    targets: list[dict[str, Any]] = []
    for part in chosen:
        rows += part.rows(results[part.name], results)
        targets += part.targets(results[part.name], results)
    for name, data in results.items():
        write_json(out / f"{name}.json", data)
    if not args.only:
        write_json(out / "machine.json", machine)
        arguments = sys.argv[1:] if argv is None else argv
        write_json(
            out / "summary.json", {"machine": machine, "targets": targets, "quick": args.quick, "argv": arguments}
        )
    print(format_table(rows, ["part", "what", "value", "detail"]))
    for part in chosen:
        if part.report is not None:
            print("\n" + part.report(results[part.name]))
    print("\n" + targets_table(targets))
    print(f"\nload average start {machine['load_average_start']} end {machine['load_average_end']}; results in {out}/")
    return 0
