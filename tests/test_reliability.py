"""Reliability: bad config and data fail clearly, interruptions lose nothing, runs reproduce."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import time
from base64 import urlsafe_b64encode
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.exceptions import WorkflowError

from conftest import ROOT, SNAKEMAKE, copy_run, run_snakemake, snakemake_env
from descent.config import ConfigError, check_config, validate_config
from descent.config.fits import fits_problems
from descent.fitting.registry import METHODS
from descent.resources import InsufficientMemoryError, check_memory

# ---------------------------------------------------------------------------------------------
# 1. Bad config: every field of the validated default config, given a value of the wrong type,
#    is rejected with its name in the message.
# ---------------------------------------------------------------------------------------------


def _validated_default() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate_config(config, ROOT / "schemas")
    return config


def _field_paths(value, path=()):
    """Every (path, value) below the config root, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key), child
            yield from _field_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            if isinstance(child, (dict, list)):
                yield from _field_paths(child, (*path, index))


DEFAULT = _validated_default()
FIELD_PATHS = [path for path, _ in _field_paths(DEFAULT)]


def _set(config: dict, path: tuple, value) -> None:
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _validate(config: dict) -> None:
    validate_config(config, ROOT / "schemas")
    check_config(config)


@pytest.mark.parametrize("path", FIELD_PATHS, ids=lambda p: ".".join(map(str, p)))
def test_every_field_rejects_a_wrong_type_naming_the_field(path):
    config = copy.deepcopy(DEFAULT)
    original = _field_value(config, path)
    wrong = "not-an-object" if isinstance(original, dict) else {"wrong": "type"}
    _set(config, path, wrong)
    with pytest.raises((WorkflowError, ConfigError)) as info:
        _validate(config)
    message = str(info.value)
    if isinstance(path[-1], str) and not isinstance(original, dict) or len(path) == 1:
        named = (f"'{path[-1]}'", f".{path[-1]}:", f"\n  {path[-1]}:")
        assert any(form in message for form in named), message
    else:  # a map entry replaced by a string: the message names the map and the bad value
        assert "not-an-object" in message, message


def _field_value(config, path):
    for key in path:
        config = config[key]
    return config


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["fits"]["settings"].update(lr=0), "lr"),
        (lambda c: c["fits"]["settings"].update(lr=-0.1), "lr"),
        (lambda c: c["fits"]["settings"].update(iterations=0), "0 is less than the minimum of 1"),
        (lambda c: c["fits"].update(methods=["manual_gd", "newton"]), f"'newton' is not one of {list(METHODS)}"),
        (lambda c: c["fits"].update(scalings=["log"]), "'log' is not one of ['raw', 'standardized']"),
        (lambda c: c.update(datasets={}), "should be non-empty"),
        (lambda c: c["fits"]["settings"].update(learning_rate=0.1), "'learning_rate' was unexpected"),
        (
            lambda c: c["datasets"]["paris_rent"].update(kind="wavelet"),
            "'wavelet' is not one of ['torch_uniform', 'numpy_legacy_uniform', 'multiscale_gaussian', 'file']",
        ),
    ],
    ids=[
        "lr-zero",
        "lr-negative",
        "iterations-zero",
        "unknown-method",
        "unknown-scaling",
        "no-datasets",
        "unknown-key",
        "unknown-kind",
    ],
)
def test_specific_bad_values_name_the_field_and_allowed_values(mutate, expected):
    config = copy.deepcopy(yaml.safe_load((ROOT / "config.yaml").read_text()))
    mutate(config)
    with pytest.raises((WorkflowError, ConfigError)) as info:
        _validate(config)
    assert expected in str(info.value)


def test_batch_size_larger_than_n_is_refused():
    config = copy.deepcopy(DEFAULT)
    config["fits"]["variants"]["minibatch_gd"]["settings"]["batch_size"] = 101
    problems = fits_problems(config)
    assert any("lesson_linear" in p and "batch_size: 101 is larger than the dataset's n=100" in p for p in problems)


# Snakemake refusing a bad config before any job runs: tests/test_workflow.py.


# ---------------------------------------------------------------------------------------------
# 2. Bad data: the fitting job fails naming the file and the problem; a dataset too large for
#    its memory is refused before anything is generated.
# ---------------------------------------------------------------------------------------------


def _rewrite(path: Path, change) -> None:
    frame = pd.read_parquet(path)
    change(frame)
    frame.to_parquet(path, index=False)


#: Datasets (copies of paris_rent) -> how their parquet is corrupted, and what the fit must say.
BAD_DATA = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:100]), "truncated.parquet: not a readable parquet file"),
    "not_parquet": (lambda p: p.write_text("surface,rent\n1,2\n"), "not_parquet.parquet: not a readable parquet file"),
    "missing_column": (
        lambda p: _rewrite(p, lambda f: f.pop("surface")),
        "missing_column.parquet: missing column(s) surface",
    ),
    "nan": (
        lambda p: _rewrite(p, lambda f: f.__setitem__("rent", f["rent"].where(f.index != 7, np.nan))),
        "nan.parquet: column 'rent' has 1 non-finite value(s) (first at row 7",
    ),
    "constant_feature": (
        lambda p: _rewrite(p, lambda f: f.__setitem__("surface", np.float32(50.0))),
        "constant_feature.parquet: constant feature(s) surface",
    ),
}


@pytest.mark.workflow
def test_bad_data_fails_the_fits_naming_file_and_problem(workflow_run, tmp_path, test_config, write_config):
    datasets = test_config["datasets"]
    datasets.update({name: dict(datasets["paris_rent"]) for name in BAD_DATA})
    # Each bad dataset: the session run's paris_rent files, the parquet corrupted its own way.
    (tmp_path / "results/datasets").mkdir(parents=True)
    for name, (corrupt, _) in BAD_DATA.items():
        for ext in ("parquet", "json"):
            shutil.copy(
                workflow_run / f"results/datasets/paris_rent.{ext}", tmp_path / f"results/datasets/{name}.{ext}"
            )
        corrupt(tmp_path / f"results/datasets/{name}.parquet")
    fits = [f"results/fits/{name}/standardized/lstsq.json" for name in BAD_DATA]
    proc = run_snakemake(tmp_path, *fits, "--keep-going", configfile=write_config(test_config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for name, (_, expected) in BAD_DATA.items():
        assert expected in out, (name, out)
    assert not [fit for fit in fits if (tmp_path / fit).exists()]


@pytest.mark.workflow
def test_a_fit_whose_data_exceed_its_memory_fails_early(tmp_path, test_config, write_config):
    # The dataset job streams its rows into row groups, so it runs within a small mem_mb; the
    # in-memory fit (the budget is high: no streaming) is refused from the sidecar before reading.
    test_config["datasets"]["multifeature"]["n"] = 20_000_000
    test_config["memory_budget_mb"] = 10**6
    start = time.monotonic()
    proc = run_snakemake(
        tmp_path,
        "results/fits/multifeature/raw/lstsq.json",
        "--set-resources",
        "dataset:mem_mb=1000",
        "fit_closed_form:mem_mb=1000",
        configfile=write_config(test_config),
        check=False,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert (tmp_path / "results/datasets/multifeature.parquet").exists()  # generated within 1000 MB
    assert "multifeature.parquet: 20000000 rows" in out and "mem_mb=1000" in out, out
    assert not (tmp_path / "results/fits/multifeature/raw/lstsq.json").exists()
    assert time.monotonic() - start < 120  # refused before reading the data


def test_memory_check_names_the_input_and_the_remedy():
    check_memory(1000, 3, 8, 1000, "small")
    with pytest.raises(
        InsufficientMemoryError, match=r"big.parquet: 100000000 rows x 11 columns .* mem_mb=2000.*float32"
    ):
        check_memory(10**8, 10, 8, 2000, "big.parquet")


# ---------------------------------------------------------------------------------------------
# 3. Interruption and reproducibility: a second run, from nothing, of the session run's config cut
#    to the two lesson datasets (every method and variant still runs) is killed twice; it loses
#    no finished result, a rerun finishes only what is missing, and once finished its results are
#    byte-identical to the session run's (timings aside). A config change reruns only what
#    depends on it.
# ---------------------------------------------------------------------------------------------

SECOND_RUN_DATASETS = ("paris_rent", "lesson_linear")
#: What the second run builds: the datasets and their fits, a gradient check, a loss surface, two lessons.
SECOND_RUN_TARGETS = (
    "results/fits/summary.parquet",
    "results/fits/gradient_check/paris_rent.json",
    "results/fits/paris_rent/raw/loss_surface.parquet",
    "results/lessons/descent_x2.json",
    "results/lessons/minima.parquet",
)
#: Fields and columns that hold timings (they differ run to run), everything else must be identical.
TIMING_KEYS = {"seconds", "threads", "seconds_median", "seconds_min", "seconds_max", "seconds_iqr", "unstable"}


def _start(workdir: Path, config: Path) -> subprocess.Popen:
    cmd = [
        str(SNAKEMAKE),
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        f"--configfile={config}",
        *SECOND_RUN_TARGETS,
    ]
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
    as finished: present, with no incomplete marker.

    (A job killed with SIGKILL after writing its file but before Snakemake recorded it as done
    is rightly still marked incomplete and redone.)
    """
    if not (workdir / "results/fits").exists():
        return {}
    markers = workdir / ".snakemake" / "incomplete"
    return {
        p: p.stat().st_mtime_ns
        for p in (workdir / "results/fits").glob("*/*/*.json")
        if not (markers / urlsafe_b64encode(p.relative_to(workdir).as_posix().encode()).decode()).exists()
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
def test_an_interrupted_second_run_keeps_finished_results_resumes_and_reproduces(workflow_run, tmp_path, write_config):
    config = yaml.safe_load(Path((workflow_run / "config-path").read_text()).read_text())
    config["datasets"] = {name: config["datasets"][name] for name in SECOND_RUN_DATASETS}
    config = write_config(config)
    summary = pd.read_parquet(workflow_run / "results/fits/summary.parquet")
    n_fits = summary["dataset"].isin(SECOND_RUN_DATASETS).sum()  # how many: test_workflow.py
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

    # Byte-identical to the session run (datasets, fits and their histories, the summary's and
    # predictions' rows, gradient check, loss surface, lessons), timings aside.
    second, first = _results(tmp_path), _results(workflow_run)
    assert len(second) > 40 and second.keys() <= first.keys()
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
