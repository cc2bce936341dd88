"""Which fit results the report reads; used by ``rules/report.smk`` at parse time (light imports).

A job is a :class:`descent.config.fits.FitJob` (``dataset``, ``scaling``, ``method``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def jobs_of(jobs: Sequence[Any], dataset: str) -> list[Any]:
    """The fit jobs (:class:`descent.config.fits.FitJob`) of one dataset, in order."""
    return [job for job in jobs if job.dataset == dataset]


def iterative_jobs(config: dict[str, Any], jobs: Sequence[Any]) -> list[Any]:
    """The jobs whose resolved method is iterative (they write a history)."""
    # The fits' settings and the method registry (numpy) only here: the other helpers are paths.
    from descent.config.fits import resolve_settings
    from descent.fitting.registry import get_method

    return [job for job in jobs if get_method(resolve_settings(config, job)["method"]).kind == "iterative"]


def fit_json_paths(jobs: Sequence[Any]) -> list[str]:
    """``results/fits/{dataset}/{scaling}/{method}.json`` of each job."""
    return [f"results/fits/{j.dataset}/{j.scaling}/{j.method}.json" for j in jobs]


def history_paths(jobs: Sequence[Any]) -> list[str]:
    """``results/fits/{dataset}/{scaling}/{method}.history.parquet`` of each job."""
    return [f"results/fits/{j.dataset}/{j.scaling}/{j.method}.history.parquet" for j in jobs]


def fit_keys(jobs: Sequence[Any]) -> list[list[str]]:
    """``[dataset, scaling, method]`` of each job (passed as params beside the matching paths)."""
    return [[j.dataset, j.scaling, j.method] for j in jobs]
