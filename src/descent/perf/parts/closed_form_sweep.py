"""Accuracy sweep of every closed-form path (the five ``lstsq`` solvers and ``sklearn``, fitted
raw) on seeded random problems (n 2..2·10⁶, k 1..50, scales over up to 7 decades, offsets, noise,
float32 and float64): per path and dtype how many were certified or flagged and the worst error of
each against the float64 reference (``closed_form_sweep.json``)."""

from __future__ import annotations

import math
import time
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.fitting.objective import least_squares_reference
from descent.fitting.problems import equilibrated_error, random_regression
from descent.fitting.records import fit
from descent.perf.part import Flag, Part, Result, closed_form_settings, log
from descent.perf.sweep import CLOSED_FORM_PATHS, sweep_problems, sweep_summary
from descent.perf.tables import format_table, target

#: Problems of the sweep (n up to 2e5) and tall ones (n 5e5..2e6); see descent.perf.sweep.sweep_problems.
SWEEP_PROBLEMS, SWEEP_LARGE = 600, 6

HEADERS = [
    "path",
    "dtype",
    "count",
    "certified",
    "flagged",
    "raised",
    "worst certified err",
    "worst err/bound",
    "bound 0",
    "beyond bound",
    "certified > max",
    "worst flagged err",
    "flagged > max",
]


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    """Every closed-form path fitted raw on ``--sweep-problems`` random problems plus
    ``--sweep-large`` tall ones, each against the float64 reference."""
    import torch
    from threadpoolctl import threadpool_limits

    seed, count, large, threads = args.sweep_seed, args.sweep_problems, args.sweep_large, args.sweep_threads
    problems = sweep_problems(seed, count, large)
    settings = {path: closed_form_settings(path) for path in CLOSED_FORM_PATHS}
    log(f"closed-form accuracy sweep: {len(problems)} problems x {len(CLOSED_FORM_PATHS)} paths (seed {seed})")
    fits: list[dict[str, Any]] = []
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        with threadpool_limits(threads):
            for index, problem in enumerate(problems):
                if problem["large"]:
                    log(f"  problem {index}: n={problem['n']} k={problem['k']} {problem['dtype']}")
                X, y = random_regression(
                    problem["seed"],
                    problem["n"],
                    problem["k"],
                    tuple(problem["log_scales"]),
                    problem["offset"],
                    problem["noise"],
                    problem["dtype"],
                )
                w_ref, b_ref, _ = least_squares_reference(X, y)
                reference = np.append(w_ref, b_ref)
                for path, path_settings in settings.items():
                    row: dict[str, Any] = {"problem": index, "path": path, "dtype": problem["dtype"]}
                    start = time.perf_counter()
                    try:
                        outcome, w, b = fit(X, y, "raw", path_settings)
                    except Exception as exc:  # a path that raises is a result too, not a crash of the sweep
                        fits.append({**row, "status": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]})
                        continue
                    certificate = outcome.extra["certificate"]
                    fits.append(
                        {
                            **row,
                            "k": problem["k"],
                            "status": outcome.status,
                            "rank_deficient": bool(outcome.extra.get("rank_deficient")),
                            "solver": outcome.extra.get("solver"),
                            "error": equilibrated_error(np.append(w, b), reference, X),
                            "error_bound": certificate["error_bound"],
                            "max_error": certificate["max_error"],
                            "condition_number": certificate["condition_number"],
                            "seconds": time.perf_counter() - start,
                        }
                    )
                del X, y
    finally:
        torch.set_num_threads(before)
    seconds = time.perf_counter() - started
    log(f"  sweep done in {seconds:.1f} s")
    return {
        "seed": seed,
        "count": count,
        "large": large,
        "threads": threads,
        "seconds": seconds,
        "paths": CLOSED_FORM_PATHS,
        "settings": {path: path_settings.as_dict() for path, path_settings in settings.items()},
        "max_error": settings["lstsq auto"].certificate_max_error,
        "generator": "descent.fitting.problems.random_regression, parameters from descent.perf.sweep_problems",
        "reference": "descent.fitting.objective.least_squares_reference (float64 SVD, columns equilibrated)",
        "error": "descent.fitting.problems.equilibrated_error: ||D(theta - theta*)|| / ||D theta*||, "
        "D the column norms of [X, 1]",
        "summary": sweep_summary(fits),
        "problems": problems,
        "results": fits,
    }


def rows(sweep: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    return [
        [
            "closed-form sweep",
            f"{row['path']} {row['dtype']}",
            f"worst {row['worst_certified_error']:.1e}",
            f"{row['certified']}/{row['count']} certified (worst error/bound "
            f"{row['worst_error_to_bound']:.2g}); {row['flagged']} flagged (worst "
            f"{row['worst_flagged_error']:.1e}, {row['flagged_above_max_error']} above max_error)"
            + (f"; {row['errors']} raised" if row["errors"] else ""),
        ]
        for row in sweep["summary"]
    ]


def targets(sweep: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    worst = max((row["worst_certified_error"] for row in sweep["summary"] if row["certified"]), default=math.nan)
    return [target("closed-form sweep: worst error of a certified result", worst, sweep["max_error"], "max")]


def report(sweep: Result) -> str:
    """The sweep's per path and dtype summary as a table of its own."""
    table = [
        [
            s["path"],
            s["dtype"],
            s["count"],
            s["certified"],
            s["flagged"],
            s["errors"],
            f"{s['worst_certified_error']:.2e}",
            f"{s['worst_error_to_bound']:.2g}",
            s["zero_bound"],
            s["beyond_bound"],
            s["certified_above_max_error"],
            f"{s['worst_flagged_error']:.2e}",
            s["flagged_above_max_error"],
        ]
        for s in sweep["summary"]
    ]
    return (
        f"closed-form accuracy sweep: {len(sweep['problems'])} problems (seed {sweep['seed']}), "
        f"{sweep['seconds']:.0f} s; errors equilibrated, against the float64 reference; "
        f"max_error {sweep['max_error']:g}\n" + format_table(table, HEADERS)
    )


PART = Part(
    name="closed_form_sweep",
    position=60,
    description=__doc__ or "",
    run=run,
    rows=rows,
    targets=targets,
    report=report,
    flags=(
        Flag(
            "--sweep-problems",
            {
                "type": int,
                "default": SWEEP_PROBLEMS,
                "help": f"random problems of the closed-form sweep, n up to 2e5 (default {SWEEP_PROBLEMS})",
            },
        ),
        Flag(
            "--sweep-large",
            {
                "type": int,
                "default": SWEEP_LARGE,
                "help": f"tall problems of the sweep, n 5e5..2e6 (default {SWEEP_LARGE})",
            },
        ),
        Flag("--sweep-seed", {"type": int, "default": 0, "help": "seed of the sweep's problems (default 0)"}),
        Flag(
            "--sweep-threads",
            {
                "type": int,
                "default": 1,
                "help": "threads of the sweep (default 1: its problems are small, and other load then costs it little)",
            },
        ),
    ),
)
