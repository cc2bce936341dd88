"""Reliability: bad config and data fail clearly, naming the field or the file. (Interruptions,
resuming and reproducibility: tests/test_resume.py.)"""

from __future__ import annotations

import copy
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.exceptions import WorkflowError

from conftest import ROOT, run_snakemake
from descent.config import ConfigError
from descent.config.fits import fits_problems
from descent.fitting.registry import METHODS
from descent.resources import InsufficientMemoryError, check_memory
from descent.validation import validate_config

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
    validate_config(config, ROOT / "schemas")  # the schemas, then the cross-field checks


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
        (
            lambda c: c["fits"]["settings"].update(learning_rate=0.1),
            "fits.settings.learning_rate: unknown setting for method(s)",
        ),
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
