"""Measurement helpers of the project's own benchmark (``bench/run.py``, ``make bench``).

Speed and scale, measured in one run so that ratios hold on a noisy machine:

* :func:`stream_bandwidth` — a STREAM-like copy and triad with torch at a given thread count, the
  machine's attainable memory bandwidth that the fits are compared with;
* timings come from the project's one harness, :func:`descent.timing.time_callable`
  (``.summary()``: each call's seconds, min, median, max);
* :func:`iteration_passes` / :func:`iteration_bandwidth` — the bytes of ``X`` one full-batch
  gradient iteration must read (one pass, ``n·k·itemsize``) against what an implementation reads;
* :func:`synthetic_regression` — large seeded data sets generated without big temporaries;
* :func:`gradient_iteration` — seconds per full-batch iteration of one engine of
  :mod:`descent.fitting`;
* :func:`closed_form_errors` — parameter errors of a closed-form solution against a reference;
* :func:`sweep_problems` / :func:`sweep_summary` — the closed-form accuracy sweep: seeded random
  problems for :func:`descent.fitting.problems.random_regression`, and the worst error per path
  and dtype of the fits the benchmark ran on them (:data:`CLOSED_FORM_PATHS`);
* :func:`import_seconds` — the start-up cost of a job (interpreter + imports), by subprocess;
* :func:`benchmark_seconds`, :func:`fit_seconds`, :func:`workflow_overhead` — parsing a finished
  workflow's ``benchmark:`` TSVs and fit JSONs, and the start-up share of its wall time;
* :func:`target` — one target of the issue: the measured ratio, met or missed and by how much.

Timings depend on the machine and its load; every function returns them in fields named
``seconds*``/``*_gbps``/``*_gflops`` (or under ``timings``), apart from the reproducible values.
Heavy libraries (torch) are imported inside the functions that need them.

The helpers: :mod:`~descent.perf.bandwidth`, :mod:`~descent.perf.sweep`, :mod:`~descent.perf.workflow`,
:mod:`~descent.perf.tables`; every name above is importable from ``descent.perf``. The benchmark
itself: :mod:`~descent.perf.driver` runs the parts of :mod:`descent.perf.parts` (one module each,
:class:`descent.perf.part.Part`); :mod:`~descent.perf.child` holds what runs in a fresh interpreter.
"""

from descent.perf.bandwidth import (
    PASSES,
    gbps,
    gradient_iteration,
    iteration_bandwidth,
    iteration_passes,
    stream_bandwidth,
    synthetic_regression,
)
from descent.perf.sweep import (
    CLOSED_FORM_PATHS,
    SWEEP_OFFSETS,
    closed_form_errors,
    error_to_bound,
    rounding_allowance,
    sweep_problems,
    sweep_summary,
)
from descent.perf.tables import format_table, peak_rss_child, target, vm_hwm_bytes
from descent.perf.workflow import (
    IMPORT_PROFILES,
    benchmark_seconds,
    fit_seconds,
    import_seconds,
    read_benchmark_tsv,
    workflow_overhead,
)

__all__ = [
    "CLOSED_FORM_PATHS",
    "IMPORT_PROFILES",
    "PASSES",
    "SWEEP_OFFSETS",
    "benchmark_seconds",
    "closed_form_errors",
    "error_to_bound",
    "fit_seconds",
    "format_table",
    "gbps",
    "gradient_iteration",
    "import_seconds",
    "iteration_bandwidth",
    "iteration_passes",
    "peak_rss_child",
    "read_benchmark_tsv",
    "rounding_allowance",
    "stream_bandwidth",
    "sweep_problems",
    "sweep_summary",
    "synthetic_regression",
    "target",
    "vm_hwm_bytes",
    "workflow_overhead",
]
