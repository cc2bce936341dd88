"""A job of several fits (fits.jobs: per_dataset_scaling) writes what one job per fit writes: the
fits of a dataset and scaling run one after another on data loaded once, each record and history
equal to the per-fit job's, timings aside; large tables load column-major, small ones as before."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from conftest import ROOT
from descent.datasets import write_generated
from descent.fitting import objective
from descent.fitting.records import fit_files, fit_group_files, load_table
from descent.io import load_dataset, write_json
from descent.plan import Plan
from descent.validation import validate_config

TIMING_KEYS = {"seconds", "seconds_median", "seconds_min", "seconds_max", "seconds_iqr"}


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_a_job_of_several_fits_writes_what_one_job_per_fit_writes(test_config, tmp_path, scaling):
    config = copy.deepcopy(test_config)
    validate_config(config, ROOT / "schemas")
    plan = Plan(config, 10**6, lambda name: f"/nonexistent/{name}.json")
    jobs = plan.groups()[("multifeature", scaling)]
    assert (
        len(jobs) >= 5 and any(plan.fits[j].iterative for j in jobs) and not all(plan.fits[j].iterative for j in jobs)
    )
    parquet, meta = tmp_path / "multifeature.parquet", tmp_path / "multifeature.json"
    write_json(meta, write_generated(config["datasets"]["multifeature"], parquet, "multifeature"))
    fits = plan.group_params(jobs)
    targets = config["fits"]["accuracy_targets"]
    grouped = list(fit_group_files(str(parquet), str(meta), fits, [], threads=1, accuracy_targets=targets))
    assert [entry["job"]["method"] for entry, _, _ in grouped] == [job.method for job in jobs]
    for entry, record, history in grouped:
        alone, alone_history = fit_files(
            str(parquet),
            str(meta),
            dict(entry["job"]),
            entry["settings"],
            entry["init"],
            [],
            threads=1,
            accuracy_targets=targets if entry["iterative"] else (),
        )
        same = json.dumps(_without_timings(record), sort_keys=True) == json.dumps(
            _without_timings(alone), sort_keys=True
        )
        assert same, entry["job"]
        if entry["iterative"]:
            columns = [c for c in history.columns if c not in TIMING_KEYS]
            assert history[columns].equals(alone_history[columns]), entry["job"]
        else:
            assert history is None and alone_history is None


def test_large_tables_load_column_major_and_small_ones_as_before(test_config, tmp_path):
    config = copy.deepcopy(test_config)
    validate_config(config, ROOT / "schemas")
    parquet, meta = tmp_path / "m.parquet", tmp_path / "m.json"
    write_json(meta, write_generated(config["datasets"]["multifeature"], parquet, "m"))
    small = load_table(str(parquet), str(meta))
    assert small.X.flags.c_contiguous and not small.X.flags.f_contiguous
    with objective.gradient_blocking(1000):  # 2000 rows count as large
        large = load_table(str(parquet), str(meta))
    assert large.X.flags.f_contiguous and not large.X.flags.c_contiguous
    assert np.array_equal(small.X, large.X) and np.array_equal(small.y, large.y)
    plain = load_dataset(str(parquet), str(meta))
    assert np.array_equal(plain.X, small.X) and plain.X.dtype == small.X.dtype and plain.y.dtype == small.y.dtype
