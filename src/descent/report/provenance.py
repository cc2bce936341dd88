"""Provenance of a report: git commit, package versions, machine, time, reproduce command.

Standard library only at import time (``reproduce_command`` runs at workflow parse time); the
machine facts import :mod:`descent.matmul.machine` when called.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from descent import __version__
from descent.matmul import machine

#: Distributions whose versions the provenance section lists (missing ones are reported as None).
PACKAGES: tuple[str, ...] = (
    "snakemake",
    "numpy",
    "pandas",
    "pyarrow",
    "torch",
    "scikit-learn",
    "matplotlib",
    "plotly",
    "threadpoolctl",
    "PyYAML",
    "Jinja2",
    "snakemake-executor-plugin-slurm",
)


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

    versions["descent"] = __version__
    return versions


def run_time() -> dict[str, str]:
    """The time of the run: UTC and local, ISO 8601 to the second."""
    now = datetime.now(UTC)
    return {"utc": now.isoformat(timespec="seconds"), "local": now.astimezone().isoformat(timespec="seconds")}


def machine_facts(with_cuda: bool = True) -> dict[str, Any]:
    """The report job's machine: host, CPU summary and (when ``with_cuda``) torch's CUDA facts."""

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
