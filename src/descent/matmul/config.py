"""The ``benchmark:`` section: cross-field checks, resource estimates, and the lesson's claim.

The section arrives typed (:class:`descent.config.sections.BenchmarkConfig`); every function
here also takes its schema-filled dict. Imported by ``rules/benchmark.smk`` at parse time:
nothing heavy (no torch, no pandas).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from descent.config import ConfigError
from descent.config.sections import BenchmarkConfig
from descent.matmul import backends

DTYPES: tuple[str, ...] = ("float32", "float64")
#: The size and time Lesson 0 quotes for its loop ("no more than 2 minutes" at s = 500).
LESSON_CLAIM: dict[str, float] = {"n": 500, "seconds": 120.0}
#: The dtype of the lesson's operands (``np.random.randn``): the one ``lesson_n`` is measured in.
LESSON_DTYPE = "float64"


def benchmark_problems(section: BenchmarkConfig | Mapping[str, Any]) -> list[str]:
    """Cross-field problems of a schema-valid ``benchmark`` section, as ``'benchmark.<field>: …'``."""
    section = BenchmarkConfig.coerce(section)
    problems: list[str] = []
    sizes = [int(n) for n in section.sizes]
    naive_max_n = int(section.naive_max_n)
    naive = [b for b in section.backends if b in backends.NAIVE_BACKENDS]
    if naive and sizes and min(sizes) > naive_max_n:
        problems.append(
            f"benchmark.naive_max_n: {naive_max_n} is below every size in benchmark.sizes {sorted(sizes)}; "
            f"the naive loop ({', '.join(naive)}) would measure nothing to extrapolate from"
        )
    return problems


def check_benchmark_config(config: Mapping[str, Any]) -> None:
    """Raise :class:`~descent.config.ConfigError` listing the problems of ``config['benchmark']``
    (schema-filled)."""
    problems = benchmark_problems(config["benchmark"])
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def lesson_dtype(dtypes: Sequence[str]) -> str:
    """The dtype the lesson's loop is measured in at ``lesson_n``: float64 (the lesson's) if
    configured, else the first configured dtype."""
    return LESSON_DTYPE if LESSON_DTYPE in dtypes else str(dtypes[0])


def job_mem_mb(section: BenchmarkConfig | Mapping[str, Any], attempt: int = 1) -> int:
    """Memory (MB) for one benchmark job: interpreter and torch (~700 MB) plus about ten n x n
    float64 matrices at the largest size (operands, product, reference, copies), doubled per retry."""
    n = max(int(v) for v in BenchmarkConfig.coerce(section).sizes)
    return int((700 + 10 * n * n * 8 / 2**20) * attempt)


def job_runtime_min(section: BenchmarkConfig | Mapping[str, Any], backend: str) -> int:
    """Minutes to request for one benchmark job: generous (BLAS assumed ≥ 5 GFLOP/s; a naive loop
    bounded by twice its per-dtype budget, plus twice ``lesson_time_budget_s`` for the lesson's
    loop), at least 10."""
    section = BenchmarkConfig.coerce(section)
    spec = backends.get(backend)
    dtypes = len(section.dtypes)
    calls = int(section.warmup) + int(section.repeats) + 2  # + calibration + reference
    if spec.naive:
        seconds = dtypes * 2 * float(section.naive_time_budget_s)
        if spec.lesson and section.lesson_n is not None:
            seconds += 2 * float(section.lesson_time_budget_s)
    else:
        seconds = dtypes * calls * sum(2 * int(v) ** 3 for v in section.sizes) / 5e9
    return max(10, math.ceil(2 * seconds / 60) + 5)
