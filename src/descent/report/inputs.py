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


def override_templates(folder: str | None) -> list[str]:
    """The step templates (``*.j2``) of a teacher's folder (config ``report.templates``), sorted:
    inputs of the page job, so that editing one rebuilds the page. ``[]`` when there is none."""
    from pathlib import Path

    if not folder:
        return []
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"report.templates: {folder!r} is not a folder (relative to the working directory)")
    return sorted(str(p) for p in root.glob("*.j2"))


def builtin_templates_digest() -> str:
    """SHA-256 over the built-in step templates (``descent/report/templates/steps/*.j2``), a
    param of the page job like :func:`descent.report.claims.claims_digest`: changed words rebuild
    the page."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted((Path(__file__).resolve().parent / "templates" / "steps").glob("*.j2")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
