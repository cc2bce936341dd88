"""Shared fixtures: paths, the test config, running Snakemake in a temporary directory, and the
one workflow run (the whole `.test` workflow, built once per session) that the fits, report,
browser and reproducibility tests read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

# Property tests draw the same examples on every run (a CI gate must not flake on a rare draw);
# `HYPOTHESIS_PROFILE=explore pytest tests/test_closed_form.py` draws new ones each time.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
TEST_CONFIG = ROOT / ".test" / "config.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake_env() -> dict[str, str]:
    """The environment for a Snakemake subprocess: this interpreter's bin first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | None = TEST_CONFIG,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run the workflow with ``workdir`` as working directory (results land in ``workdir/results``)."""
    cmd = [
        str(SNAKEMAKE if SNAKEMAKE.exists() else shutil.which("snakemake")),
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--show-failed-logs",
    ]
    if configfile is not None:
        cmd.append(f"--configfile={configfile}")  # "=" keeps later targets from being read as config files
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=snakemake_env(), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def test_config() -> dict:
    """The .test configuration as a dict (a fresh copy each time)."""
    return yaml.safe_load(TEST_CONFIG.read_text())


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config dict to ``tmp_path/config.yaml`` and return its path."""

    def _write(config: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    return _write


def shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A session directory shared by every pytest-xdist worker (``make test`` runs two): under
    the workers' common base temp, or the session's own base temp without xdist."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # each worker's base temp is a child of the run's
    path = base / name
    path.mkdir(exist_ok=True)
    return path


def once(tmp_path_factory: pytest.TempPathFactory, name: str, build) -> Path:
    """``build(directory)`` run once for the whole test run, whichever worker asks first (the
    others wait on a file lock), returning the shared directory it filled."""
    from filelock import FileLock

    directory = shared_dir(tmp_path_factory, name)
    with FileLock(str(directory) + ".lock"):
        done = Path(str(directory) + ".built")  # beside it: the run directory holds only the run
        if not done.exists():
            build(directory)
            done.write_text("ok")
    return directory


@pytest.fixture(scope="session")
def workflow_config(tmp_path_factory) -> Path:
    """The session run's config file: the .test config with the report's sliders at 51 steps (a
    smaller page, quicker in the browser). It lies outside the run's working directory, so a copy
    of the run (:func:`copy_run`) reruns with the very same command line (the report records it)."""

    def write(directory: Path) -> None:
        config = yaml.safe_load(TEST_CONFIG.read_text())
        config.setdefault("report", {})["slider_steps"] = 51
        (directory / "workflow-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    return once(tmp_path_factory, "workflow-config", write) / "workflow-config.yaml"


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory, workflow_config) -> Path:
    """The working directory of the whole workflow (``rule all``) run once on ``workflow_config``
    for the whole test run (shared by the xdist workers).

    Shared by many tests: read its results, never change them; work on a :func:`copy_run`.
    ``config-path`` in it names the config it ran with.
    """

    def run(workdir: Path) -> None:
        run_snakemake(workdir, configfile=workflow_config)
        (workdir / "config-path").write_text(str(workflow_config))

    return once(tmp_path_factory, "workflow-run", run)


@pytest.fixture(scope="session")
def built_report(workflow_run) -> Path:
    """The session run, under the name the report and browser tests use."""
    return workflow_run


def copy_run(run: Path, dest: Path) -> Path:
    """A copy of a finished run (results and Snakemake's records, modification times kept), for a
    test that reruns or changes things."""
    shutil.copytree(run, dest, symlinks=True)
    return dest
