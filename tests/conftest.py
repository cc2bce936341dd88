"""Shared fixtures: paths, the test config, running Snakemake in a temporary directory, and the
one workflow run (the whole `.test` workflow, built once per session) that the fits, report,
browser and reproducibility tests read."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
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


def snakemake_command(workdir: Path, *args: str, configfile: Path | None = TEST_CONFIG) -> list[str]:
    """The command line that runs the workflow with ``workdir`` as working directory on 2 cores."""
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
    return cmd + list(args)


def run_snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | None = TEST_CONFIG,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run the workflow with ``workdir`` as working directory (results land in ``workdir/results``)."""
    cmd = snakemake_command(workdir, *args, configfile=configfile)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=snakemake_env(), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


#: The order in which test files are handed to the workers (``make test``: pytest-xdist,
#: ``--dist loadfile``, ``--no-loadscope-reorder``). The session run builds in the background from
#: the start (:func:`session_run_in_background`), so first the files that do not read it, or only
#: at their end; then the files not named; and last the files that read the session run.
#: pytest-xdist hands a worker its next file when it has two tests left, so the worker running
#: the SLURM tests takes the third file about when the SLURM run ends, and then waits with it
#: until the session run is done (the last SLURM test compares with it): the interruption test,
#: which needs the session run only at its end, is the file that loses least by that wait (its
#: second run then fills the idle moments of the session run's last jobs and the report tests).
#: Measured: 174–190 s that way (seven runs), 196–206 s with the file-reading tests third (five).
FIRST_FILES = ("test_slurm.py", "test_datasets.py", "test_resume.py", "test_stream.py")
LAST_FILES = (
    "test_report.py",
    "test_report_browser.py",
    "test_lessons.py",
    "test_benchmark.py",
    "test_reliability.py",
    "test_workflow.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the tests by file as :data:`FIRST_FILES` and :data:`LAST_FILES` say (stable within
    a file and among the files not named)."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        if name in FIRST_FILES:
            return FIRST_FILES.index(name)
        if name in LAST_FILES:
            return len(FIRST_FILES) + 1 + LAST_FILES.index(name)
        return len(FIRST_FILES)

    items.sort(key=rank)


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


def _start_session_run(tmp_path_factory: pytest.TempPathFactory, config: Path) -> None:
    """Start the session run in the background, once for the whole test run (whichever worker
    comes first; the others find it started). Snakemake's output goes to ``workflow-run.log``;
    a thread of this worker writes its exit status to ``workflow-run.status`` when it ends
    (both beside the run's directory), which every worker's :func:`workflow_run` waits for."""
    from filelock import FileLock

    workdir = shared_dir(tmp_path_factory, "workflow-run")
    with FileLock(str(workdir) + ".lock"):
        started = Path(str(workdir) + ".started")
        if started.exists():
            return
        (workdir / "config-path").write_text(str(config))
        with open(str(workdir) + ".log", "w") as log:
            proc = subprocess.Popen(
                snakemake_command(workdir, configfile=config),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=snakemake_env(),
                # Ctrl-C must stop it even when the tests were started as a background job (SIGINT
                # ignored, and inherited): see tests/test_resume.py.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        status = Path(str(workdir) + ".status")

        def record_status() -> None:
            code = proc.wait()
            status.with_suffix(".tmp").write_text(str(code))  # renamed: a reader sees it whole or not at all
            status.with_suffix(".tmp").replace(status)

        thread = threading.Thread(target=record_status, name="session-run", daemon=True)
        thread.start()
        _SESSION_RUN.append((proc, thread))
        started.write_text("started")


#: The session run's process and the thread recording its status, in the worker that started it.
_SESSION_RUN: list[tuple[subprocess.Popen, threading.Thread]] = []


@pytest.fixture(scope="session", autouse=True)
def session_run_in_background(request, tmp_path_factory):
    """When any selected test reads the session run, start it at once, in the background, so that
    it builds while the tests that do not need it run (they come first: see
    :func:`pytest_collection_modifyitems`)."""
    if any("workflow_run" in item.fixturenames for item in request.session.items):
        _start_session_run(tmp_path_factory, request.getfixturevalue("workflow_config"))
        # The tests that read it wait for it: let it have the CPU first (this worker and what it
        # starts yield to it; it keeps the priority it was started with).
        os.nice(5)
    yield
    for proc, thread in _SESSION_RUN:
        if request.session.shouldfail or request.session.shouldstop:
            proc.send_signal(signal.SIGINT)  # stopping early (-x, --maxfail): so does the run
        thread.join()  # else another worker may still be waiting for it


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory, workflow_config) -> Path:
    """The working directory of the whole workflow (``rule all``) run once on ``workflow_config``
    for the whole test run (shared by the xdist workers), started in the background by
    :func:`session_run_in_background`; this waits for it to finish.

    Shared by many tests: read its results, never change them; work on a :func:`copy_run`.
    ``config-path`` in it names the config it ran with.
    """
    _start_session_run(tmp_path_factory, workflow_config)  # started already, unless deselected
    workdir = shared_dir(tmp_path_factory, "workflow-run")
    status = Path(str(workdir) + ".status")
    deadline = time.monotonic() + 1800
    while not status.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"the session run did not finish in 30 minutes: {workdir}.log")
        time.sleep(0.2)
    if status.read_text().strip() != "0":
        log = Path(str(workdir) + ".log").read_text()
        raise AssertionError(f"the session run failed ({status.read_text().strip()}):\n{log[-20000:]}")
    return workdir


@pytest.fixture(scope="session")
def built_report(workflow_run) -> Path:
    """The session run, under the name the report and browser tests use."""
    return workflow_run


def copy_run(run: Path, dest: Path) -> Path:
    """A copy of a finished run (results and Snakemake's records, modification times kept), for a
    test that reruns or changes things."""
    shutil.copytree(run, dest, symlinks=True)
    return dest
