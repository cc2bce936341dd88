"""Reliability: bad config and data fail clearly, interruptions lose nothing, runs reproduce."""

from __future__ import annotations

import copy
from base64 import urlsafe_b64encode
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.exceptions import WorkflowError

from conftest import ROOT, SNAKEMAKE, TEST_CONFIG, run_snakemake, snakemake_env
from descent.config import ConfigError, check_config, validate_config
from descent.config.fits import fits_problems
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
        (lambda c: c["fits"].update(methods=["manual_gd", "newton"]), "'newton' is not one of ['manual_gd', 'autograd', 'nn_linear', 'lstsq', 'sklearn']"),
        (lambda c: c["fits"].update(scalings=["log"]), "'log' is not one of ['raw', 'standardized']"),
        (lambda c: c.update(datasets={}), "should be non-empty"),
        (lambda c: c["fits"]["settings"].update(learning_rate=0.1), "'learning_rate' was unexpected"),
        (lambda c: c["datasets"]["paris_rent"].update(kind="wavelet"), "'wavelet' is not one of ['torch_uniform', 'numpy_legacy_uniform', 'multiscale_gaussian']"),
    ],
    ids=["lr-zero", "lr-negative", "iterations-zero", "unknown-method", "unknown-scaling", "no-datasets",
         "unknown-key", "unknown-kind"],
)
def test_specific_bad_values_name_the_field_and_allowed_values(mutate, expected):
    config = copy.deepcopy(yaml.safe_load((ROOT / "config.yaml").read_text()))
    mutate(config)
    with pytest.raises((WorkflowError, ConfigError)) as info:
        _validate(config)
    assert expected in str(info.value)


def test_batch_size_larger_than_n_is_refused():
    config = copy.deepcopy(DEFAULT)
    config["fits"]["variants"]["minibatch_gd"]["settings"]["batch_size"] = 51
    problems = fits_problems(config)
    assert any("paris_rent" in p and "batch_size: 51 is larger than the dataset's n=50" in p for p in problems)


@pytest.mark.workflow
def test_bad_config_starts_no_job(tmp_path, test_config, write_config):
    test_config["fits"]["settings"] = {"lr": 0}
    proc = run_snakemake(tmp_path, configfile=write_config(test_config), check=False)
    assert proc.returncode != 0 and "lr" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


# ---------------------------------------------------------------------------------------------
# 2. Bad data: the fitting job fails naming the file and the problem.
# ---------------------------------------------------------------------------------------------

PARIS_FIT = "results/fits/paris_rent/standardized/lstsq.json"


def _corrupt_and_fit(tmp_path: Path, corrupt) -> subprocess.CompletedProcess[str]:
    run_snakemake(tmp_path, "results/datasets/paris_rent.parquet")
    corrupt(tmp_path / "results/datasets/paris_rent.parquet")
    return run_snakemake(tmp_path, PARIS_FIT, check=False)


def _rewrite(path: Path, change) -> None:
    frame = pd.read_parquet(path)
    change(frame)
    frame.to_parquet(path, index=False)


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "paris_rent.parquet: not a readable parquet file"),
        (lambda p: p.write_text("surface,rent\n1,2\n"), "paris_rent.parquet: not a readable parquet file"),
        (lambda p: _rewrite(p, lambda f: f.pop("surface")), "paris_rent.parquet: missing column(s) surface"),
        (lambda p: _rewrite(p, lambda f: f.__setitem__("rent", f["rent"].where(f.index != 7, np.nan))),
         "paris_rent.parquet: column 'rent' has 1 non-finite value(s) (first at row 7"),
        (lambda p: _rewrite(p, lambda f: f.__setitem__("surface", np.float32(50.0))),
         "paris_rent.parquet: constant feature(s) surface"),
    ],
    ids=["truncated", "not-parquet", "missing-column", "nan", "constant-feature"],
)
def test_bad_data_fails_the_fit_naming_file_and_problem(tmp_path, corrupt, expected):
    proc = _corrupt_and_fit(tmp_path, corrupt)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not (tmp_path / PARIS_FIT).exists()


def test_memory_check_names_the_input_and_the_remedy():
    check_memory(1000, 3, 8, 1000, "small")
    with pytest.raises(InsufficientMemoryError, match=r"big.parquet: 100000000 rows x 11 columns .* mem_mb=2000.*float32"):
        check_memory(10**8, 10, 8, 2000, "big.parquet")


@pytest.mark.workflow
def test_dataset_too_large_for_its_memory_fails_early(tmp_path, test_config, write_config):
    test_config["datasets"]["multifeature"]["n"] = 500_000_000
    start = time.monotonic()
    proc = run_snakemake(tmp_path, "results/datasets/multifeature.parquet", "--set-resources", "dataset:mem_mb=1000",
                         configfile=write_config(test_config), check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "dataset multifeature (datasets.multifeature.n): 500000000 rows" in out and "mem_mb=1000" in out, out
    assert time.monotonic() - start < 120  # refused before generating anything


# ---------------------------------------------------------------------------------------------
# 4. Interruption: a killed run loses no finished result and a rerun finishes only what is missing.
# ---------------------------------------------------------------------------------------------


def _start(workdir: Path) -> subprocess.Popen:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2",
           f"--configfile={TEST_CONFIG}", "results/fits/summary.parquet"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=snakemake_env(),
                            start_new_session=True)


def _finished_fits(workdir: Path) -> dict[Path, float]:
    """Fit results Snakemake has recorded as finished: present, with no incomplete marker.

    (A job killed with SIGKILL after writing its file but before Snakemake recorded it as done
    is rightly still marked incomplete and redone.)
    """
    if not (workdir / "results/fits").exists():
        return {}
    markers = workdir / ".snakemake" / "incomplete"
    return {
        p: p.stat().st_mtime_ns
        for p in (workdir / "results/fits").rglob("*.json")
        if not (markers / urlsafe_b64encode(p.relative_to(workdir).as_posix().encode()).decode()).exists()
    }


@pytest.mark.workflow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_interrupted_run_keeps_finished_results_and_resumes(tmp_path, sig):
    proc = _start(tmp_path)
    deadline = time.monotonic() + 300
    while len(_finished_fits(tmp_path)) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    # SIGKILL takes the whole process group down at once, like a crashed node; SIGTERM lets
    # Snakemake clean up.
    if sig == signal.SIGKILL:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(sig)
    proc.wait(timeout=120)
    time.sleep(1)
    before = _finished_fits(tmp_path)
    assert before, "nothing had finished"
    for path in before:  # every file under its final name is complete
        json.loads(path.read_text())
    if sig == signal.SIGKILL:
        run_snakemake(tmp_path, "--unlock", "results/fits/summary.parquet")
    dry = run_snakemake(tmp_path, "-n", "results/fits/summary.parquet")
    planned = dry.stdout.count("rule fit_")
    total = sum(1 for line in dry.stdout.splitlines() if line.startswith(("rule ", "localrule ")))
    assert 0 < planned < 32  # only what is missing (32 fits in the .test config)
    run_snakemake(tmp_path, "results/fits/summary.parquet")
    after = _finished_fits(tmp_path)
    assert all(after[p] == mtime for p, mtime in before.items()), "a finished result was redone"
    assert not list(tmp_path.glob("results/**/.*.tmp")) or sig == signal.SIGKILL
    assert total >= planned


# ---------------------------------------------------------------------------------------------
# 5. Reproducibility: two runs give byte-identical results (timings aside); a config change
#    reruns only what depends on it.
# ---------------------------------------------------------------------------------------------

TIMING_KEYS = {"seconds", "threads"}


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _results(workdir: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted((workdir / "results").rglob("*")):
        rel = path.relative_to(workdir).as_posix()
        if not path.is_file() or rel.startswith(("results/logs", "results/benchmarks")):
            continue
        if path.suffix == ".json":
            out[rel] = _without_timings(json.loads(path.read_text()))
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            out[rel] = (path.read_bytes() if "seconds" not in frame.columns
                        else frame.drop(columns=[c for c in frame.columns if c in TIMING_KEYS]).to_json())
    return out


def _two_datasets(config: dict) -> dict:
    """The test config cut to the two lesson datasets (every method and variant still runs)."""
    config["datasets"] = {k: v for k, v in config["datasets"].items() if k in ("paris_rent", "lesson_linear")}
    return config


@pytest.mark.workflow
def test_two_runs_give_identical_results(tmp_path, test_config, write_config):
    config_path = write_config(_two_datasets(test_config))
    targets = ["results/fits/summary.parquet", "results/fits/gradient_check/paris_rent.json",
               "results/fits/paris_rent/raw/loss_surface.parquet", "results/lessons/descent_x2.json",
               "results/lessons/minima.parquet"]
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    run_snakemake(first, *targets, configfile=config_path)
    run_snakemake(second, *targets, configfile=config_path)
    a, b = _results(first), _results(second)
    assert a.keys() == b.keys() and len(a) > 40
    different = [k for k in a if a[k] != b[k]]
    assert not different


@pytest.mark.workflow
def test_changing_one_dataset_reruns_only_its_jobs(tmp_path, test_config, write_config):
    test_config = _two_datasets(test_config)
    config_path = write_config(test_config)
    run_snakemake(tmp_path, "results/fits/summary.parquet", configfile=config_path)
    assert "Nothing to be done" in run_snakemake(tmp_path, "-n", "results/fits/summary.parquet", configfile=config_path).stdout
    test_config["datasets"]["paris_rent"]["seed"] = 43
    dry = run_snakemake(tmp_path, "-n", "results/fits/summary.parquet", configfile=write_config(test_config)).stdout
    datasets = {line.split("dataset=")[1].split(",")[0] for line in dry.splitlines() if "wildcards:" in line and "dataset=" in line}
    assert datasets == {"paris_rent"}, dry
    assert "rule fit_summary" in dry or "localrule fit_summary" in dry
