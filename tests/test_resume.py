"""Reliability, resuming: a run interrupted twice loses no finished result and resumes; a second
run from nothing reproduces the session run bit for bit; a config change reruns only what
depends on it. (Bad config and data: tests/test_reliability.py.)

In a file of its own so that pytest-xdist (``--dist loadfile``) can run it beside the rest of the
reliability tests: it is the longest test after the session run itself."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import time
from base64 import urlsafe_b64encode
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, copy_run, run_snakemake, snakemake_command, snakemake_env
from descent.config.fits import fit_jobs
from descent.validation import validate_config

# ---------------------------------------------------------------------------------------------
# Interruption and reproducibility: a second run, from nothing, of the session run's config cut
#    to the lesson's dataset (paris_rent: every method, raw and standardized, with the lesson's
#    overrides) is killed twice; it loses no finished result, a rerun finishes only what is
#    missing, and once finished its results are byte-identical to the session run's (timings
#    aside). A config change reruns only what depends on it. (Seeded mini-batches reproduce bit
#    for bit: tests/test_fitting.py; across processes and hosts: tests/test_slurm.py.)
# ---------------------------------------------------------------------------------------------

SECOND_RUN_DATASETS = ("paris_rent",)
#: What the second run builds: the dataset and its fits, a gradient check, a loss surface. (The
#: lessons reproduce in a forced rerun: tests/test_lessons.py.)
SECOND_RUN_TARGETS = (
    "results/fits/summary.parquet",
    "results/fits/gradient_check/paris_rent.json",
    "results/fits/paris_rent/raw/loss_surface.parquet",
)
#: Fields and columns that hold timings (they differ run to run), everything else must be identical.
# Timings, and how the fits were split into jobs (job_fits: this run's one per fit, the session run's grouped).
TIMING_KEYS = {
    "seconds",
    "threads",
    "job_fits",
    "seconds_median",
    "seconds_min",
    "seconds_max",
    "seconds_iqr",
    "unstable",
}


def _cut_to(config: dict, datasets: tuple[str, ...]) -> dict:
    """``config`` with only ``datasets``, and without the variants and overrides that name only
    others (the config check refuses a name it does not know); the kept datasets' fits are
    configured exactly as before (the overrides naming other datasets come last in .test)."""
    config["datasets"] = {name: config["datasets"][name] for name in datasets}
    fits = config["fits"]
    fits["variants"] = {
        name: variant
        for name, variant in fits.get("variants", {}).items()
        if variant.get("datasets") is None or set(variant["datasets"]) & set(datasets)
    }
    kept = [entry for entry in fits.get("overrides", []) if _names_a_kept_dataset(entry, datasets)]
    assert kept == fits.get("overrides", [])[: len(kept)], "an override's index (recorded in fits) would change"
    fits["overrides"] = kept
    fits["predict"] = {name: points for name, points in fits.get("predict", {}).items() if name in datasets}
    return config


def _names_a_kept_dataset(entry: dict, datasets: tuple[str, ...]) -> bool:
    named = entry.get("dataset")
    return named is None or bool(({named} if isinstance(named, str) else set(named)) & set(datasets))


def _start(workdir: Path, config: Path) -> subprocess.Popen:
    cmd = snakemake_command(workdir, *SECOND_RUN_TARGETS, configfile=config)
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=snakemake_env(),
        start_new_session=True,
        # Ctrl-C must reach Snakemake whatever this process inherited: a shell runs a background
        # job (`make test &`, nohup) with SIGINT ignored, and Python then never turns it into
        # KeyboardInterrupt (a CI run went on to the end through every Ctrl-C).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _finished_fits(workdir: Path) -> dict[Path, float]:
    """Fit results (``results/fits/{dataset}/{scaling}/{method}.json``) Snakemake has recorded
    as finished: present, with no incomplete marker on it or on its job's other output (an
    iterative fit's ``.history.parquet``).

    (A job killed with SIGKILL after writing its files but before Snakemake recorded it as done
    is rightly still marked incomplete and redone. Snakemake clears a job's markers one output
    at a time, so a kill can land between the two: seen once in 10 fits.)
    """
    if not (workdir / "results/fits").exists():
        return {}
    markers = workdir / ".snakemake" / "incomplete"

    def incomplete(path: Path) -> bool:
        return (markers / urlsafe_b64encode(path.relative_to(workdir).as_posix().encode()).decode()).exists()

    return {
        p: p.stat().st_mtime_ns
        for p in (workdir / "results/fits").glob("*/*/*.json")
        if not incomplete(p) and not incomplete(p.with_name(p.name.removesuffix(".json") + ".history.parquet"))
    }


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _results(workdir: Path) -> dict[str, object]:
    """Every result file, timings aside: JSON without its timing keys, parquet as bytes, and a table
    of every dataset's rows (a `dataset` column: the summary, the predictions) as its rows of the
    second run's datasets."""
    out: dict[str, object] = {}
    for path in sorted((workdir / "results").rglob("*")):
        rel = path.relative_to(workdir).as_posix()
        if not path.is_file() or rel.startswith(("results/logs", "results/benchmarks")):
            continue
        if path.suffix == ".json":
            out[rel] = _without_timings(json.loads(path.read_text()))
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            if "dataset" in frame.columns:
                frame = frame[frame["dataset"].isin(SECOND_RUN_DATASETS)].reset_index(drop=True)
            elif "seconds" not in frame.columns:
                out[rel] = path.read_bytes()
                continue
            out[rel] = frame.drop(columns=[c for c in frame.columns if c in TIMING_KEYS]).to_json()
    return out


@pytest.mark.workflow
def test_an_interrupted_second_run_keeps_finished_results_resumes_and_reproduces(
    request, workflow_config, tmp_path, write_config
):
    # The session run's config file, cut; the session run itself is awaited only to compare with
    # it at the end, so this second run never waits for it to start (tests/conftest.py: FIRST_FILES).
    config = _cut_to(yaml.safe_load(workflow_config.read_text()), SECOND_RUN_DATASETS)
    # One job per fit: an interrupted job loses only its own fit (a job of several fits, the
    # default, reruns them all, as any interrupted job does).
    config.setdefault("fits", {})["jobs"] = "per_fit"
    filled = copy.deepcopy(config)
    validate_config(filled, ROOT / "schemas")
    n_fits = len(fit_jobs(filled))  # each fit's own job (paris_rent has no repeated, seeded fit)
    config = write_config(config)
    finished: dict[Path, float] = {}
    # Interrupted by Ctrl-C (SIGINT to the whole process group: Snakemake cancels its jobs and
    # cleans up) once 4 fits have finished, then by SIGKILL of the whole group (like a crashed
    # node) once 2 more have. Not SIGTERM: Snakemake 9.27's SIGTERM handler takes the
    # scheduler's non-reentrant lock in the main thread (job_scheduler.py, exit_gracefully), so a
    # SIGTERM arriving while that thread records a finished job under the same lock hangs the
    # run for good (seen here under load); README, Reliability.
    for sig, more in ((signal.SIGINT, 4), (signal.SIGKILL, 2)):
        proc = _start(tmp_path, config)
        deadline = time.monotonic() + 300
        while (
            len(_finished_fits(tmp_path)) < len(finished) + more and time.monotonic() < deadline and proc.poll() is None
        ):
            time.sleep(0.05)
        if proc.poll() is not None:
            logs = sorted((tmp_path / ".snakemake" / "log").glob("*.log"))
            tail = logs[-1].read_text()[-3000:] if logs else "(no log)"
            raise AssertionError(
                f"the run finished before it could be interrupted ({sig.name}: {len(_finished_fits(tmp_path))} "
                f"of {n_fits} fits finished, {len(finished)} before this run; rc {proc.returncode}); log:\n{tail}"
            )
        os.killpg(proc.pid, sig)
        if sig == signal.SIGINT:
            # Snakemake's log handler swallows a KeyboardInterrupt raised while it writes a record
            # (snakemake/logging.py, emit: `except (KeyboardInterrupt, SystemExit): pass`), and the
            # run goes on: press Ctrl-C again, as a user would, until it stops.
            for _ in range(60):
                try:
                    proc.wait(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
        time.sleep(1)
        now = _finished_fits(tmp_path)
        assert len(now) > len(finished), "nothing had finished"
        assert all(now[p] == mtime for p, mtime in finished.items()), "a finished result was redone"
        for path in now:  # every file under its final name is complete
            json.loads(path.read_text())
        if sig == signal.SIGINT:
            assert not list(tmp_path.glob("results/**/.*.tmp")), "a temporary file was left behind"
        else:
            run_snakemake(tmp_path, "--unlock", *SECOND_RUN_TARGETS, configfile=config)
        # A rerun plans exactly the fits not recorded as finished.
        dry = run_snakemake(tmp_path, "-n", *SECOND_RUN_TARGETS, configfile=config)
        planned = len(re.findall(r"^(?:local)?rule fit_(?:iterative|closed_form):", dry.stdout, re.M))
        assert planned == n_fits - len(now), dry.stdout
        finished = now
    run_snakemake(tmp_path, *SECOND_RUN_TARGETS, configfile=config)
    after = _finished_fits(tmp_path)
    assert len(after) == n_fits
    assert all(after[p] == mtime for p, mtime in finished.items()), "a finished result was redone"

    workflow_run = request.getfixturevalue("workflow_run")
    summary = pd.read_parquet(workflow_run / "results/fits/summary.parquet")
    assert summary["dataset"].isin(SECOND_RUN_DATASETS).sum() == n_fits  # the same fits, one row each

    # Byte-identical to the session run (the dataset and its sidecar, 10 fits and 6 histories, the
    # summary's tables' rows (5 files), gradient check, loss surface: 25 files), timings aside.
    second, first = _results(tmp_path), _results(workflow_run)
    assert len(second) == 25 and second.keys() <= first.keys()
    different = [k for k in second if second[k] != first[k]]
    assert not different


@pytest.mark.workflow
def test_changing_one_dataset_reruns_only_its_jobs(workflow_run, tmp_path, write_config):
    work = copy_run(workflow_run, tmp_path / "w")
    config_path = Path((work / "config-path").read_text())
    assert "Nothing to be done" in run_snakemake(work, "-n", configfile=config_path).stdout
    config = yaml.safe_load(config_path.read_text())
    config["datasets"]["paris_rent"]["seed"] = 43
    dry = run_snakemake(work, "-n", "results/fits/summary.parquet", configfile=write_config(config)).stdout
    datasets = {
        line.split("dataset=")[1].split(",")[0]
        for line in dry.splitlines()
        if "wildcards:" in line and "dataset=" in line
    }
    assert datasets == {"paris_rent"}, dry
    assert "rule fit_summary" in dry or "localrule fit_summary" in dry
