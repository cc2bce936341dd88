"""Sharded datasets (``shards: N``, a ``kind: file`` folder), the map-reduce closed form and
data-parallel fits reading their shards: the same data wherever the shard jobs run, the same
answer as one file to rounding, the same bits for the same shard layout, and failures named."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_snakemake
from descent.datafile import sha256
from descent.datasets.shards import generated_shard_spec, manifest, shard_seed, write_shard
from descent.fitting.closed_form import array_chunks, design_gram
from descent.fitting.partials import Partials, dataset_standardization, reduce_partials, shard_partials
from descent.fitting.stream import parquet_chunks, parquet_row_groups, parquet_rows
from descent.io import DataError, load_dataset
from descent.moments import block_moments, merge_all

ROOT = Path(__file__).resolve().parents[1]
SPEC = {
    "kind": "multiscale_gaussian",
    "n": 1001,
    "n_features": 3,
    "seed": 11,
    "scale_range": [0.1, 100.0],
    "offset_factor": 3.0,
    "weight_range": [-5.0, 5.0],
    "true_bias": 5.0,
    "noise_std": 1.0,
    "dtype": "float64",
    "target": "y",
    "shards": 3,
}


def _write_all(tmp: Path, spec: dict, order: list[int]) -> tuple[list[str], list[dict]]:
    paths = [str(tmp / f"shard-{i:05d}.parquet") for i in range(spec["shards"])]
    metas = {i: write_shard("d", spec, i, paths[i]) for i in order}
    return paths, [metas[i] for i in range(spec["shards"])]


def test_a_shards_data_depend_on_the_spec_and_its_number_only(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, first = _write_all(tmp_path / "a", SPEC, [0, 1, 2])
    _, second = _write_all(tmp_path / "b", SPEC, [2, 0, 1])  # other jobs, another order, another place
    assert [m["sha256"] for m in first] == [m["sha256"] for m in second]
    assert [m["rows"] for m in first] == [334, 334, 333]
    # a shard's stream depends on its number, not on how many there are; every shard has the same truth
    assert shard_seed(11, 0) == generated_shard_spec({**SPEC, "shards": 5}, 0)["seed"] != shard_seed(11, 1)
    assert generated_shard_spec(SPEC, 2)["true_weights"] == generated_shard_spec(SPEC, 0)["true_weights"]


def test_the_manifest_records_every_shards_rows_checksum_and_moments(tmp_path):
    paths, metas = _write_all(tmp_path, SPEC, [0, 1, 2])
    meta = manifest("d", SPEC, metas, paths)
    assert meta["n"] == 1001 and [s["rows"] for s in meta["shards"]] == [334, 334, 333]
    assert [s["sha256"] for s in meta["shards"]] == [sha256(Path(p)) for p in paths]
    data = load_dataset(paths, _sidecar(tmp_path, meta))
    stats = dataset_standardization(meta)
    np.testing.assert_allclose(stats.x_mean, data.X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(stats.x_std, data.X.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(stats.y_std, data.y.std(ddof=1), rtol=1e-12)
    with pytest.raises(DataError, match="shard sidecars out of order"):
        manifest("d", SPEC, [metas[1], metas[0], metas[2]], paths)


def _sidecar(tmp: Path, meta: dict) -> Path:
    path = tmp / "d.json"
    path.write_text(json.dumps(meta))
    return path


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 199), max_size=6, unique=True),
    offset=st.floats(-1e6, 1e6),
    seed=st.integers(0, 2**16),
)
def test_moments_merged_from_any_split_equal_one_pass(cuts, offset, seed):
    rng = np.random.default_rng(seed)
    X = offset + rng.normal(size=(200, 2)) * [1.0, 1e-3]
    y = rng.normal(size=200)
    bounds = [0, *sorted(cuts), 200]
    merged = merge_all(block_moments(X[a:b], y[a:b]) for a, b in zip(bounds, bounds[1:]))
    whole = np.column_stack([X, y])
    assert merged is not None and merged.count == 200
    for j in range(3):  # against exact rational arithmetic on the stored values
        values = [Fraction(float(v)) for v in whole[:, j]]
        mean = sum(values) / 200
        m2 = sum((v - mean) ** 2 for v in values)
        spread = float(abs(mean)) / math.sqrt(float(m2) / 199)  # cancellation: |mean| / std
        assert abs(merged.mean[j] - float(mean)) <= 1e-15 * (float(abs(mean)) + math.sqrt(float(m2)))
        assert abs(merged.m2[j] - float(m2)) <= float(m2) * (1e-13 + 50 * np.finfo(float).eps * spread)


def _uneven_parts(seed: int = 3) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(900, 3)) * [1.0, 30.0, 0.01] + [5.0, -200.0, 1.0]
    y = X @ [1.0, 0.5, 300.0] + 2.0 + rng.normal(size=900)
    return X, y, [(0, 50), (50, 700), (700, 900)]


def test_reduced_partials_equal_one_pass_and_are_the_same_bits_every_time():
    X, y, bounds = _uneven_parts()
    parts = [shard_partials(lambda a=a, b=b: array_chunks(X[a:b], y[a:b]), 3, None) for a, b in bounds]
    reduced = reduce_partials(parts)
    assert reduced.rows == 900
    np.testing.assert_allclose(reduced.gram, design_gram(X, y), rtol=1e-13)
    np.testing.assert_allclose(reduced.r.T @ reduced.r, reduced.gram, rtol=1e-11)
    again = reduce_partials([Partials.from_dict(json.loads(json.dumps(p.as_dict()))) for p in parts])
    assert np.array_equal(again.gram, reduced.gram) and np.array_equal(again.r, reduced.r)  # JSON round trip too


def test_a_map_step_in_another_process_gives_the_same_bits(tmp_path):
    """What a shard's job computes does not depend on the process (or node) it runs in."""
    X, y, bounds = _uneven_parts()
    a, b = bounds[1]
    np.save(tmp_path / "X.npy", X[a:b])
    np.save(tmp_path / "y.npy", y[a:b])
    code = (
        "import json, numpy as np, sys\n"
        "from descent.fitting.closed_form import array_chunks\n"
        "from descent.fitting.partials import shard_partials\n"
        f"X, y = np.load({str(tmp_path / 'X.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})\n"
        "print(json.dumps(shard_partials(lambda: array_chunks(X, y), 3, None).as_dict()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    there = Partials.from_dict(json.loads(out))
    here = shard_partials(lambda: array_chunks(X[a:b], y[a:b]), 3, None)
    assert np.array_equal(there.gram, here.gram) and np.array_equal(there.r, here.r)


def test_readers_take_the_shards_in_order_and_name_a_missing_one(tmp_path):
    X, y, bounds = _uneven_parts()
    paths = []
    for i, (a, b) in enumerate(bounds):
        path = tmp_path / f"shard-{i:05d}.parquet"
        pd.DataFrame({"a": X[a:b, 0], "b": X[a:b, 1], "c": X[a:b, 2], "y": y[a:b]}).to_parquet(path, row_group_size=64)
        paths.append(str(path))
    features = ["a", "b", "c"]
    chunks = list(parquet_chunks(paths, features, "y", rows=100))
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X)
    Xr, yr = parquet_rows(paths, features, "y", 40, 720)  # across all three shards
    np.testing.assert_array_equal(Xr, X[40:720])
    np.testing.assert_array_equal(yr, y[40:720])
    groups = list(parquet_row_groups(paths, features, "y", [13, 0]))  # numbered across the files
    np.testing.assert_array_equal(groups[1][0], X[:50])
    Path(paths[1]).unlink()
    with pytest.raises(DataError, match="shard-00001.parquet: no such file"):
        list(parquet_chunks(paths, features, "y"))
    meta = {"features": features, "target": "y", "true_weights": None, "true_bias": None, "n": 900, "seed": None}
    with pytest.raises(DataError, match="shard-00001.parquet: no such file"):
        load_dataset(paths, _sidecar(tmp_path, {**meta, "generator": "file"}))


def test_a_changed_shard_is_refused_against_its_sidecar(tmp_path):
    paths, metas = _write_all(tmp_path, SPEC, [0, 1, 2])
    meta_path = _sidecar(tmp_path, manifest("d", SPEC, metas, paths))
    frame = pd.read_parquet(paths[2])
    frame.iloc[:100].to_parquet(paths[2])
    with pytest.raises(DataError, match=r"shard-00002.parquet: 100 row\(s\), but .* records 333"):
        load_dataset(paths, meta_path)


def test_bad_shard_configurations_are_refused_naming_the_field(tmp_path, test_config, write_config):
    from descent.validation import validate_config

    config = {"datasets": {"tiny": {**SPEC, "n": 5, "shards": 3}}}
    with pytest.raises(ValueError, match=r"datasets\.tiny\.shards: 3 shards of 5 rows"):
        validate_config(config, ROOT / "schemas")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no tables here")
    config = {"datasets": {"mine": {"kind": "file", "path": str(tmp_path / "empty"), "target": "y"}}}
    with pytest.raises(ValueError, match=r"empty: a folder with no parquet file \(datasets\.mine\.path"):
        validate_config(config, ROOT / "schemas")


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory):
    """The workflow on a generated dataset in 3 shards, a user's folder of 3 uneven parquet
    files, and the same table as one file; closed forms and data-parallel descent."""
    work = tmp_path_factory.mktemp("shards")
    X, y, bounds = _uneven_parts(seed=5)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "t": y})
    (work / "folder").mkdir()
    for i, (a, b) in enumerate(bounds):
        frame.iloc[a:b].to_parquet(work / "folder" / f"part-{i}.parquet", index=False)
    frame.to_parquet(work / "whole.parquet", index=False)
    schedule = {"lr": "optimal", "iterations": 300, "stall_window": 0}
    config = {
        "datasets": {
            "generated": {key: value for key, value in SPEC.items() if key not in ("dtype",)},
            "folder": {"kind": "file", "path": "folder", "target": "t"},
            "whole": {"kind": "file", "path": "whole.parquet", "target": "t"},
        },
        "fits": {
            "methods": ["lstsq", "sklearn", "manual_gd", "momentum_gd", "nesterov_gd"],
            "overrides": [{"method": ["manual_gd", "momentum_gd", "nesterov_gd"], "set": schedule}],
            "variants": {
                "lstsq_qr": {"method": "lstsq", "settings": {"lstsq_solver": "qr"}},
                "lstsq_normal": {"method": "lstsq", "settings": {"lstsq_solver": "normal_equations"}},
                "lstsq_torch": {"method": "lstsq", "settings": {"lstsq_solver": "torch"}},
                "momentum_dp": {"method": "momentum_gd", "settings": {**schedule, "processes": 2}},
                "manual_gd_dp": {"method": "manual_gd", "settings": {**schedule, "processes": 2}},
                "nesterov_dp": {"method": "nesterov_gd", "settings": {**schedule, "processes": 3}},
            },
        },
        "report": {"benchmark": False, "lessons": False},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    run_snakemake(work, "results/report/index.html", configfile=work / "config.yaml")
    return work


def _fit(work: Path, dataset: str, scaling: str, method: str) -> dict:
    return json.loads((work / "results" / "fits" / dataset / scaling / f"{method}.json").read_text())


@pytest.mark.workflow
@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_a_folder_fits_as_its_one_file_table_with_every_method(sharded_run, scaling):
    methods = ["lstsq", "lstsq_qr", "lstsq_normal", "lstsq_torch", "sklearn"]
    methods += ["manual_gd", "momentum_gd", "nesterov_gd", "manual_gd_dp", "momentum_dp", "nesterov_dp"]
    for method in methods:
        shards, one = _fit(sharded_run, "folder", scaling, method), _fit(sharded_run, "whole", scaling, method)
        assert shards["status"] == one["status"], method
        theta, reference = np.append(shards["weights"], shards["bias"]), np.append(one["weights"], one["bias"])
        assert np.max(np.abs(theta - reference) / np.abs(reference)) < 1e-12, method
    lstsq = _fit(sharded_run, "folder", scaling, "lstsq")
    assert lstsq["map_reduce"] == {"shards": 3, "rows": 900} and lstsq["certificate"]["ok"]
    assert "map_reduce" not in _fit(sharded_run, "whole", scaling, "lstsq")
    assert _fit(sharded_run, "folder", scaling, "nesterov_dp")["rows_per_process"] == [300, 300, 300]


@pytest.mark.workflow
def test_a_generated_sharded_dataset_is_written_by_one_job_per_shard(sharded_run):
    meta = json.loads((sharded_run / "results" / "datasets" / "generated.json").read_text())
    assert [Path(s["path"]).name for s in meta["shards"]] == [f"shard-{i:05d}.parquet" for i in range(3)]
    assert not (sharded_run / "results" / "datasets" / "generated.parquet").exists()
    for shard in meta["shards"]:
        assert sha256(sharded_run / shard["path"]) == shard["sha256"]
    fit = _fit(sharded_run, "generated", "standardized", "lstsq")
    assert fit["map_reduce"]["rows"] == 1001 and fit["certificate"]["certified_digits"] >= 13
    partials = sorted((sharded_run / "results" / "partials" / "generated" / "raw").glob("shard-*.json"))
    assert len(partials) == 3


@pytest.mark.workflow
def test_a_lost_shard_is_rebuilt_alone_and_gives_the_same_bits(sharded_run):
    shard = sharded_run / "results" / "datasets" / "generated" / "shard-00001.parquet"
    before = sha256(shard)
    fit_before = _fit(sharded_run, "generated", "raw", "lstsq")
    shard.unlink()
    target = "results/datasets/generated/shard-00001.parquet"
    proc = run_snakemake(sharded_run, "results/fits/summary.parquet", target, configfile=sharded_run / "config.yaml")
    assert sha256(shard) == before
    rebuilt = re.findall(r"rule dataset_shard:\n(?:    .*\n)*?    wildcards: dataset=(\w+), shard=(\d+)", proc.stderr)
    assert rebuilt == [("generated", "00001")], proc.stderr  # only the lost shard's job ran again
    assert _fit(sharded_run, "generated", "raw", "lstsq")["weights"] == fit_before["weights"]


@pytest.mark.workflow
def test_the_report_shows_what_ran_beyond_one_machine(sharded_run):
    import html as html_lib

    page = (sharded_run / "results" / "report" / "index.html").read_text()
    start = page.index('id="beyond-scale"')
    text = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", page[start : page.index("</section>", start)])).split())
    assert "generated: 1,001 rows in 3 parquet shards of 333 to 334 rows, each drawn from its own seed" in text
    assert "folder: 900 rows in 3 parquet shards of 50 to 650 rows, one per file of its folder" in text
    table = re.search(r"data_parallel\.csv[^>]*>", page[start:])
    assert table is not None
    for method in ("manual_gd_dp", "momentum_dp", "nesterov_dp"):
        assert text.count(method) == 6  # 3 datasets x 2 scalings
    # the largest difference from the one-process twin quoted is the table's own largest
    quoted = float(re.search(r"differ by at most ([0-9.e+-]+)", text).group(1))
    fits = [
        _fit(sharded_run, d, s, m)
        for d in ("generated", "folder", "whole")
        for s in ("raw", "standardized")
        for m in ("manual_gd_dp", "momentum_dp", "nesterov_dp")
    ]
    twins = [_fit(sharded_run, f["dataset"], f["scaling"], f["base_method"]) for f in fits]
    largest = max(
        np.linalg.norm(np.append(f["weights"], f["bias"]) - np.append(t["weights"], t["bias"]))
        / np.linalg.norm(np.append(t["weights"], t["bias"]))
        for f, t in zip(fits, twins)
    )
    # rounding: heavy-ball momentum with the optimal β carries its sums' other order furthest
    # (3.4e-11 here after 300 steps); gradient descent and Nesterov stay near 1e-15
    assert quoted == pytest.approx(largest, rel=0.05) and largest < 1e-10
