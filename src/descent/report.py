"""The comparison report: provenance and number formatting (light: standard library only).

The report is split by concern so each job imports only what it needs:

* :mod:`descent.report` (this module) — provenance (git commit, package versions, machine,
  time, reproduce command) and number formatting; no heavy imports, usable at parse time;
* :mod:`descent.report_tables` — the summary tables, best/failed marks and generated findings
  (pandas/NumPy);
* :mod:`descent.report_figures` — the static fit figures (matplotlib, Agg; PNG + SVG);
* :mod:`descent.report_interactive` — the Plotly figures and the w/b slider explorer;
* :mod:`descent.report_html` — the self-contained page (figures as data URIs, plotly.js once).
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

#: Distributions whose versions the provenance section lists (missing ones are reported as None).
PACKAGES: tuple[str, ...] = (
    "snakemake", "numpy", "pandas", "pyarrow", "torch", "scikit-learn", "matplotlib", "plotly",
    "threadpoolctl", "PyYAML", "snakemake-executor-plugin-slurm",
)


def format_number(value: Any, digits: int = 6) -> str:
    """A float for reading: ``digits`` significant digits, scientific outside [1e-3, 1e6).

    ``None`` and NaN give ``'–'``; booleans ``'yes'``/``'no'``; integers are printed whole.

    >>> format_number(173.59982514381409)
    '173.6'
    >>> format_number(3.3e-08)
    '3.3e-8'
    >>> format_number(None)
    '–'
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and not 1e-3 <= abs(x) < 1e6:
        mantissa, exponent = f"{x:.{max(1, digits - 2)}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent)}"
    text = f"{x:.{digits}g}"
    return text


def format_vector(values: Sequence[Any], digits: int = 4) -> str:
    """``[a, b, …]`` with each entry through :func:`format_number`.

    >>> format_vector([32.56471, 1e-9])
    '[32.56, 1e-9]'
    """
    return "[" + ", ".join(format_number(v, digits) for v in values) + "]"


def reproduce_command(configfiles: Sequence[str], basedir: str, default_configfile: str = "config.yaml") -> str:
    """The command that reruns this workflow with the same configuration.

    ``configfiles`` are the ``--configfile`` files given on top of the default (paths inside
    ``basedir`` are shown relative to it). With none, ``make report`` is enough.

    >>> reproduce_command([], "/repo")
    'make report'
    >>> reproduce_command(["/repo/.test/config.yaml"], "/repo")
    'snakemake --workflow-profile profiles/default --configfile .test/config.yaml'
    """
    extra = []
    for path in configfiles:
        absolute = os.path.abspath(path)
        relative = os.path.relpath(absolute, basedir)
        if relative == default_configfile:
            continue
        extra.append(relative if not relative.startswith("..") else absolute)
    if not extra:
        return "make report"
    return "snakemake --workflow-profile profiles/default --configfile " + " ".join(shlex.quote(p) for p in extra)


def git_facts(directory: str) -> dict[str, Any]:
    """Commit, branch and dirtiness of the git work tree at ``directory``.

    Returns ``{"commit", "branch", "dirty", "changed_files", "error"}``; outside a repository (or
    without git) every field is ``None`` except ``error``, which says why.
    """
    facts: dict[str, Any] = {"commit": None, "branch": None, "dirty": None, "changed_files": None, "error": None}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", directory, *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout

    try:
        facts["commit"] = git("rev-parse", "HEAD").strip()
        facts["branch"] = git("rev-parse", "--abbrev-ref", "HEAD").strip()
        changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
        facts["dirty"] = bool(changed)
        facts["changed_files"] = len(changed)
    except FileNotFoundError:
        facts["error"] = "git is not installed"
    except subprocess.CalledProcessError as exc:
        facts["error"] = (exc.stderr or str(exc)).strip().splitlines()[0] if (exc.stderr or "").strip() else str(exc)
    except subprocess.TimeoutExpired:
        facts["error"] = "git timed out"
    return facts


def package_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when not installed), plus Python's."""
    import platform
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    from descent import __version__

    versions["descent"] = __version__
    return versions


def run_time() -> dict[str, str]:
    """The time of the run: UTC and local, ISO 8601 to the second."""
    now = datetime.now(timezone.utc)
    return {"utc": now.isoformat(timespec="seconds"), "local": now.astimezone().isoformat(timespec="seconds")}


def machine_facts(with_cuda: bool = True) -> dict[str, Any]:
    """The report job's machine: host, CPU summary and (when ``with_cuda``) torch's CUDA facts."""
    from descent import machine

    cpu = machine.cpu_facts()
    facts: dict[str, Any] = {
        "host": machine.host_facts(),
        "cpu": {k: cpu.get(k) for k in ("model", "vendor", "logical_cpus", "physical_cores_usable", "usable_cpus")},
    }
    if with_cuda:
        try:
            facts["cuda"] = machine.cuda_facts()
        except ImportError as exc:  # torch missing
            facts["cuda"] = {"cuda_available": False, "reason": str(exc)}
    return facts


def provenance(
    config: dict[str, Any],
    basedir: str,
    command: str,
    benchmark_machine: dict[str, Any] | None = None,
    fit_devices: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything the provenance section shows, as one JSON-able dict.

    Keys: ``time`` (:func:`run_time`), ``git`` (:func:`git_facts` of ``basedir``), ``versions``
    (:func:`package_versions`), ``machine`` (:func:`machine_facts`), ``benchmark_machine`` (the
    benchmark sidecar's ``machine`` summary, if any), ``fit_devices`` (devices the fits ran on),
    ``command`` and ``config`` (the resolved configuration).
    """
    return {
        "time": run_time(),
        "git": git_facts(basedir),
        "versions": package_versions(),
        "machine": machine_facts(),
        "benchmark_machine": benchmark_machine,
        "fit_devices": sorted(set(fit_devices)),
        "command": command,
        "config": config,
    }


# --------------------------------------------------------------------------------------------
# Which results the report reads (used by rules/report.smk at parse time)
# --------------------------------------------------------------------------------------------


def jobs_of(jobs: Sequence[Any], dataset: str) -> list[Any]:
    """The fit jobs (:class:`descent.fit_config.FitJob`) of one dataset, in order."""
    return [job for job in jobs if job.dataset == dataset]


def iterative_jobs(config: dict[str, Any], jobs: Sequence[Any]) -> list[Any]:
    """The jobs whose resolved method is iterative (they write a history)."""
    from descent.fit_config import ITERATIVE_METHODS, resolve_settings

    return [job for job in jobs if resolve_settings(config, job)["method"] in ITERATIVE_METHODS]


def fit_json_paths(jobs: Sequence[Any]) -> list[str]:
    """``results/fits/{dataset}/{scaling}/{method}.json`` of each job."""
    return [f"results/fits/{j.dataset}/{j.scaling}/{j.method}.json" for j in jobs]


def history_paths(jobs: Sequence[Any]) -> list[str]:
    """``results/fits/{dataset}/{scaling}/{method}.history.parquet`` of each job."""
    return [f"results/fits/{j.dataset}/{j.scaling}/{j.method}.history.parquet" for j in jobs]


def fit_keys(jobs: Sequence[Any]) -> list[list[str]]:
    """``[dataset, scaling, method]`` of each job (passed as params beside the matching paths)."""
    return [[j.dataset, j.scaling, j.method] for j in jobs]
