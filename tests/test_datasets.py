"""Datasets: the generators (shapes, seeds, exact replication of both lessons), `kind: file` tables
(validated and streamed, every refusal naming file and column), the diabetes export, and memory
limits (the local profile declares the machine's memory; a rule needing more is refused)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from conftest import ROOT, run_snakemake
from descent import datafile, resources
from descent.config import ConfigError
from descent.datasets import (
    diabetes_frame,
    export_diabetes,
    from_file,
    generate,
    legacy_numpy_state_after_data,
    row_bounds,
    write_generated,
)
from descent.dataspec import feature_names
from descent.io import DataError, load_dataset, write_parquet
from descent.resources import MemoryLimitError, declared_mem_mb, machine_mem_mb
from descent.validation import validate_config
from lesson_specs import LESSON0, PARIS

MULTI = {
    "kind": "multiscale_gaussian",
    "n": 5000,
    "n_features": 4,
    "seed": 3,
    "target": "y",
    "scale_range": [0.01, 1000.0],
    "offset_factor": 3.0,
    "weight_range": [-5.0, 5.0],
    "true_bias": 5.0,
    "noise_std": 0.0,
    "dtype": "float64",
}


def test_paris_rent_is_the_lessons_data_bit_for_bit():
    torch.manual_seed(42)
    surface = torch.rand(50) * 80 + 20
    noise = torch.randn(50) * 100
    rent = 32 * surface + 200 + noise
    data = generate(PARIS)
    assert data.frame["surface"].dtype == np.float32
    assert np.array_equal(data.frame["surface"].to_numpy(), surface.numpy())
    assert np.array_equal(data.frame["rent"].to_numpy(), rent.numpy())
    # The lesson's well-known first draw: torch.manual_seed(42); torch.rand(1) == 0.8823.
    assert data.frame["surface"].iloc[0] == pytest.approx(0.88226926 * 80 + 20, abs=1e-4)


def test_paris_generator_leaves_global_torch_rng_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    generate(PARIS)
    assert torch.equal(torch.rand(3), expected)


def test_lesson0_data_is_the_lessons_data_bit_for_bit():
    np.random.seed(0)
    X = 2 * np.random.rand(100, 1)
    y = 4 + 3 * X + 0.5 * np.random.randn(100, 1)
    data = generate(LESSON0)
    assert data.frame.shape == (100, 2)
    assert np.array_equal(data.frame["x"].to_numpy(), X[:, 0])
    assert np.array_equal(data.frame["y"].to_numpy(), y[:, 0])
    assert data.frame["x"].iloc[0] == pytest.approx(2 * 0.5488135039273248)


def test_legacy_state_continues_where_the_data_stopped():
    np.random.seed(0)
    np.random.rand(100, 1)
    np.random.randn(100, 1)
    expected = np.random.randn(1, 1)
    assert np.array_equal(legacy_numpy_state_after_data(LESSON0).randn(1, 1), expected)


def test_multiscale_shapes_scales_and_known_parameters():
    data = generate(MULTI)
    assert list(data.frame.columns) == ["x0", "x1", "x2", "x3", "y"]
    stds = data.frame[["x0", "x1", "x2", "x3"]].std().to_numpy()
    assert stds[-1] / stds[0] > 1e4  # deliberately different scales
    # Noiseless: the target is exactly X·w + b.
    X = data.frame[["x0", "x1", "x2", "x3"]].to_numpy()
    np.testing.assert_allclose(X @ np.array(data.true_weights) + data.true_bias, data.frame["y"], rtol=1e-10)


@pytest.mark.parametrize("spec", [PARIS, LESSON0, MULTI], ids=lambda s: s["kind"])
def test_generators_are_deterministic_and_seed_sensitive(spec):
    first, second = generate(spec), generate(spec)
    assert first.frame.equals(second.frame)
    other = generate({**spec, "seed": spec["seed"] + 1})
    assert not first.frame.equals(other.frame)


def test_multiscale_float32_and_given_weights():
    data = generate({**MULTI, "dtype": "float32", "true_weights": [1.0, 2.0, 3.0, 4.0]})
    assert all(data.frame[c].dtype == np.float32 for c in data.frame.columns)
    assert data.true_weights == [1.0, 2.0, 3.0, 4.0]


def test_metadata_sidecar_contract():
    meta = generate(PARIS).metadata("paris_rent")
    assert meta["features"] == ["surface"] and meta["target"] == "rent"
    assert meta["true_weights"] == [32.0] and meta["true_bias"] == 200.0
    assert (meta["n"], meta["seed"], meta["generator"]) == (50, 42, "torch_uniform")


def test_too_few_rows_and_unknown_kind_are_refused():
    with pytest.raises(ValueError, match="at least 2 rows"):
        generate({**LESSON0, "n": 1})
    with pytest.raises(ValueError, match="unknown dataset kind 'nope'"):
        generate({**LESSON0, "kind": "nope"})


# ---------------------------------------------------------------------------------------------
# Streaming generation: rows drawn chunk by chunk into row groups, the numbers of one whole draw.
# ---------------------------------------------------------------------------------------------


def _whole_draw(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """The generators as they were before streaming (one whole draw each), the reference."""
    n, k = int(spec["n"]), len(feature_names(spec))
    if spec["kind"] == "torch_uniform":
        g = torch.Generator().manual_seed(int(spec["seed"]))
        low, high, weights = float(spec["low"]), float(spec["high"]), [float(w) for w in spec["true_weights"]]
        X = (torch.rand(n, k, generator=g) if k > 1 else torch.rand(n, generator=g)) * (high - low) + low
        noise = torch.randn(n, generator=g) * float(spec["noise_std"])
        if k == 1:
            y = weights[0] * X + float(spec["true_bias"]) + noise
            X = X.reshape(n, 1)
        else:
            y = (X * torch.tensor(weights, dtype=X.dtype)).sum(dim=1) + float(spec["true_bias"]) + noise
        return X.numpy(), y.numpy()
    if spec["kind"] == "numpy_legacy_uniform":
        rng = np.random.RandomState(int(spec["seed"]))
        w = np.asarray(spec["true_weights"], dtype=np.float64)
        X = float(spec["scale"]) * rng.rand(n, k)
        signal = w[0] * X if k == 1 else X @ w.reshape(k, 1)
        y = float(spec["true_bias"]) + signal + float(spec["noise_std"]) * rng.randn(n, 1)
        return X, y.reshape(-1)
    rng = np.random.default_rng(int(spec["seed"]))
    lo, hi = (float(v) for v in spec["scale_range"])
    scales = np.logspace(np.log10(lo), np.log10(hi), k)
    if spec.get("true_weights"):
        w = np.asarray(spec["true_weights"], dtype=np.float64)
    else:
        w = rng.uniform(*(float(v) for v in spec["weight_range"]), size=k) / scales
    X = float(spec["offset_factor"]) * scales + scales * rng.standard_normal((n, k))
    y = X @ w + float(spec["true_bias"]) + float(spec["noise_std"]) * rng.standard_normal(n)
    dtype = np.dtype(spec.get("dtype", "float64"))
    return X.astype(dtype), y.astype(dtype)


def _assert_same(frame: pd.DataFrame, spec: dict, X: np.ndarray, y: np.ndarray) -> None:
    columns = [*feature_names(spec), spec["target"]]
    assert list(frame.columns) == columns
    for j, column in enumerate(columns):
        expected = y if j == len(columns) - 1 else X[:, j]
        assert frame[column].dtype == expected.dtype, column
        assert np.array_equal(frame[column].to_numpy(), expected), column  # bit for bit


def _default_specs() -> list[tuple[str, dict]]:
    specs = []
    for path in ("config.yaml", ".test/config.yaml"):
        config = yaml.safe_load((ROOT / path).read_text())
        validate_config(config, ROOT / "schemas")
        specs += [(f"{path}:{n}", s) for n, s in config["datasets"].items() if s["kind"] != "file"]
    return specs


@pytest.mark.parametrize("name,spec", _default_specs(), ids=[n for n, _ in _default_specs()])
def test_default_datasets_keep_their_exact_values(tmp_path, name, spec):
    X, y = _whole_draw(spec)
    _assert_same(generate(spec).frame, spec, X, y)
    meta = write_generated(spec, tmp_path / "d.parquet", "d")
    _assert_same(pd.read_parquet(tmp_path / "d.parquet"), spec, X, y)
    assert meta == generate(spec).metadata("d")


STREAM_SPECS = {
    "multiscale64": {**MULTI, "n": 5003, "noise_std": 1.0},
    "multiscale32": {**MULTI, "n": 4099, "noise_std": 1.0, "dtype": "float32"},
    "multiscale_given_w": {**MULTI, "n": 1000, "noise_std": 0.5, "n_features": 3, "true_weights": [1.0, -2.0, 3.0]},
    "multiscale_one_feature": {**MULTI, "n": 777, "n_features": 1, "noise_std": 1.0},
    "multiscale_wide": {**MULTI, "n": 999, "n_features": 9, "noise_std": 1.0},
    "legacy_k1": {**LESSON0, "n": 3001},
    "legacy_k3": {**LESSON0, "n": 2005, "features": ["a", "b", "c"], "true_weights": [3, -1, 0.5]},
    "torch_k1": {**PARIS, "n": 4005},
    "torch_k3": {**PARIS, "n": 1007, "features": ["a", "b", "c"], "true_weights": [32, -3, 7]},
}


@pytest.mark.parametrize("chunk_rows", [16, 48, 1024])
@pytest.mark.parametrize("name", list(STREAM_SPECS))
def test_streamed_generation_is_the_whole_draw_bit_for_bit(tmp_path, monkeypatch, name, chunk_rows):
    # Small chunks and row groups stand in for a big dataset: chunk boundaries are not multiples
    # of n, a last chunk shorter than 16 rows is merged, a chunk straddles two row groups.
    spec = STREAM_SPECS[name]
    monkeypatch.setattr(resources, "GENERATE_CHUNK_ROWS", chunk_rows)
    X, y = _whole_draw(spec)
    _assert_same(generate(spec).frame, spec, X, y)
    itemsize = np.dtype(X.dtype).itemsize
    group_bytes = 3 * chunk_rows * (X.shape[1] + 1) * itemsize  # three chunks per row group
    meta = write_generated(spec, tmp_path / "s.parquet", name, row_group_bytes=group_bytes)
    _assert_same(pd.read_parquet(tmp_path / "s.parquet"), spec, X, y)
    groups = pq.ParquetFile(tmp_path / "s.parquet").metadata
    assert groups.num_row_groups == -(-len(y) // (3 * chunk_rows)) and groups.num_rows == len(y)
    assert meta == generate(spec).metadata(name)


@pytest.mark.parametrize("n", [2, 15, 17, 100])
@pytest.mark.parametrize("spec", [MULTI, LESSON0, PARIS], ids=lambda s: s["kind"])
def test_fewer_rows_than_one_chunk_or_group(tmp_path, spec, n):
    spec = {**spec, "n": n}
    X, y = _whole_draw(spec)
    write_generated(spec, tmp_path / "s.parquet", "s")
    _assert_same(pd.read_parquet(tmp_path / "s.parquet"), spec, X, y)
    assert pq.ParquetFile(tmp_path / "s.parquet").metadata.num_row_groups == 1


def test_row_bounds_merge_a_short_tail_and_refuse_other_chunk_sizes():
    assert row_bounds(40, 16) == [(0, 16), (16, 40)]  # 8 left over: merged
    assert row_bounds(48, 16) == [(0, 16), (16, 32), (32, 48)]
    assert row_bounds(10, 16) == [(0, 10)]
    with pytest.raises(ValueError, match="multiple of 16"):
        row_bounds(100, 20)


def test_streamed_file_has_the_pandas_schema_of_an_in_memory_write(tmp_path):
    spec = {**MULTI, "dtype": "float32"}
    write_parquet(tmp_path / "frame.parquet", generate(spec).frame)
    write_generated(spec, tmp_path / "streamed.parquet", "s")
    frame, streamed = pq.read_table(tmp_path / "frame.parquet"), pq.read_table(tmp_path / "streamed.parquet")
    assert streamed.schema.equals(frame.schema, check_metadata=True) and streamed.equals(frame)


def test_generating_a_large_dataset_holds_a_row_group_not_the_data(tmp_path):
    from descent.perf import peak_rss_child

    spec = {**MULTI, "n": 20_000_000, "dtype": "float32", "noise_std": 1.0}  # 2e7 x (4 + 1) float32
    size = resources.data_bytes(spec["n"], 4, 4)
    out = tmp_path / "big.parquet"
    imports = "import numpy, pandas, pyarrow.parquet\nfrom descent.datasets import write_generated\n"
    base = peak_rss_child(imports)["peak_rss_bytes"]
    peak = peak_rss_child(imports + f"write_generated({spec!r}, {str(out)!r}, 'big')")["peak_rss_bytes"]
    assert pq.ParquetFile(out).metadata.num_rows == spec["n"]
    # About one 64 MiB row group and its encoding beyond the interpreter: measured ~130 MB
    # against 381 MiB of data (the in-memory path held ~3x the data in float64).
    assert peak - base < size / 2, (peak - base, size)
    assert peak / 2**20 < resources.generate_mem_mb(spec["n"], 4, 4, datafile.ROW_GROUP_BYTES)


# ---------------------------------------------------------------------------------------------
# kind: file — a user's CSV or parquet table, validated and streamed to the dataset's parquet.
# ---------------------------------------------------------------------------------------------


def _file_spec(path, **extra):
    return {"kind": "file", "path": str(path), "format": "auto", "delimiter": ",", "target": "y", **extra}


def _frame(n=50, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(n), 100 + 10 * rng.standard_normal(n)
    return pd.DataFrame({"a": a, "b": b, "y": 2 * a - 0.5 * b + 3 + 0.1 * rng.standard_normal(n)})


def test_csv_file_dataset_roundtrip(tmp_path):
    frame = _frame()
    frame.insert(1, "name", [f"row{i}" for i in range(len(frame))])  # not numeric: not a feature
    frame.to_csv(tmp_path / "t.csv", index=False)
    meta = from_file("mine", _file_spec(tmp_path / "t.csv"), tmp_path / "mine.parquet")
    assert meta["features"] == ["a", "b"] and meta["target"] == "y" and meta["n"] == 50
    assert meta["true_weights"] is None and meta["true_bias"] is None and meta["seed"] is None
    assert meta["generator"] == "file" and meta["dtype"] == "float64"
    assert meta["source"]["format"] == "csv" and meta["source"]["ignored_columns"] == ["name"]
    assert len(meta["source"]["sha256"]) == 64
    written = pd.read_parquet(tmp_path / "mine.parquet")
    assert list(written.columns) == ["a", "b", "y"]
    np.testing.assert_array_equal(written.to_numpy(), pd.read_csv(tmp_path / "t.csv")[["a", "b", "y"]].to_numpy())
    # The fitting jobs read it like any dataset.
    (tmp_path / "mine.json").write_text(json.dumps(meta))
    data = load_dataset(tmp_path / "mine.parquet", tmp_path / "mine.json")
    assert data.X.shape == (50, 2) and data.meta["true_weights"] is None


def test_parquet_file_keeps_float32_and_widens_integers(tmp_path):
    frame = _frame().astype("float32")
    frame.to_parquet(tmp_path / "f32.parquet", index=False)
    meta = from_file("f32", _file_spec(tmp_path / "f32.parquet", features=["b", "a"]), tmp_path / "o32.parquet")
    assert meta["dtype"] == "float32" and meta["features"] == ["b", "a"]
    written = pq.read_table(tmp_path / "o32.parquet")
    assert written.schema.names == ["b", "a", "y"] and all(t == pa.float32() for t in written.schema.types)
    np.testing.assert_array_equal(written.column("b").to_numpy(), frame["b"].to_numpy())
    ints = pd.DataFrame({"a": np.arange(10), "y": np.arange(10) * 2.0})
    ints.to_parquet(tmp_path / "ints.parquet", index=False)
    meta = from_file("ints", _file_spec(tmp_path / "ints.parquet"), tmp_path / "oi.parquet")
    assert meta["dtype"] == "float64" and pd.read_parquet(tmp_path / "oi.parquet")["a"].dtype == np.float64


def test_large_files_stream_in_chunks_and_row_groups(tmp_path, monkeypatch):
    # Small blocks and row groups stand in for a big file: the same values come out, in several
    # row groups, whatever the chunking.
    monkeypatch.setattr(datafile, "CSV_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(datafile, "PARQUET_BATCH_ROWS", 300)
    monkeypatch.setattr(datafile, "ROW_GROUP_BYTES", 24 * 1000)
    frame = _frame(5000, seed=4)
    frame.to_csv(tmp_path / "big.csv", index=False)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "big.parquet", row_group_size=700)
    for source in ("big.csv", "big.parquet"):
        out = tmp_path / f"out-{source}.parquet"
        meta = from_file("big", _file_spec(tmp_path / source), out)
        assert meta["n"] == 5000
        assert pq.ParquetFile(out).metadata.num_row_groups == 5  # 1000 rows x 3 float64 columns each
        np.testing.assert_allclose(pd.read_parquet(out).to_numpy(), frame.to_numpy(), rtol=1e-15)
    assert datafile.largest_chunk_rows(_file_spec(tmp_path / "big.parquet")) == 700


def _csv(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return tmp_path / name


BAD_FILES = {
    # case: (file name, content or None for missing, spec extras, standardized, expected message)
    "missing file": ("absent.csv", None, {}, False, "absent.csv: no such file (datasets.mine.path"),
    "unknown feature": (
        "u.csv",
        "a,b,y\n1,2,3\n4,5,6\n",
        {"features": ["a", "c"]},
        False,
        "u.csv: unknown column 'c' (datasets.mine.features); the file has columns ['a', 'b', 'y']",
    ),
    "unknown target": (
        "t.csv",
        "a,b,y\n1,2,3\n4,5,6\n",
        {"target": "z"},
        False,
        "t.csv: unknown column 'z' (datasets.mine.target)",
    ),
    "non-numeric column": (
        "s.csv",
        "a,name,y\n1,x,3\n4,w,6\n",
        {"features": ["a", "name"]},
        False,
        "s.csv: column 'name' is not numeric (it holds string",
    ),
    "non-numeric value far down": (
        "l.csv",
        "a,b,y\n" + "".join(f"{i},{i % 7},{i}\n" for i in range(3000)) + "5,oops,7\n",
        {},
        False,
        "l.csv: column 'b' is not numeric: 'oops' at row 3000 (line 3002 of the file)",
    ),
    "NaN": (
        "n.csv",
        "a,b,y\n1,2,3\n4,NaN,6\n7,8,9\n",
        {},
        False,
        "n.csv: column 'b' has a missing value (empty, NA or NaN) at row 1 (line 3 of the file)",
    ),
    "empty field": (
        "e.csv",
        "a,b,y\n1,2,3\n4,5,6\n7,,9\n",
        {},
        False,
        "e.csv: column 'b' has a missing value (empty, NA or NaN) at row 2 (line 4 of the file)",
    ),
    "inf": (
        "i.csv",
        "a,b,y\n1,2,3\n4,5,6\n7,8,inf\n",
        {},
        False,
        "i.csv: column 'y' has the value inf at row 2 (line 4 of the file)",
    ),
    "one row": ("o.csv", "a,b,y\n1,2,3\n", {}, False, "o.csv: 1 row(s); fitting a line needs at least 2"),
    "constant feature": (
        "c.csv",
        "a,b,y\n1,2,3\n1,5,6\n1,8,9\n",
        {},
        True,
        "c.csv: feature column 'a' is constant (every one of its 3 values is 1): it cannot be standardized",
    ),
    "constant target": ("ct.csv", "a,b,y\n1,2,3\n2,5,3\n3,8,3\n", {}, True, "ct.csv: target column 'y' is constant"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_refused_naming_file_and_column(tmp_path, monkeypatch, case):
    monkeypatch.setattr(datafile, "CSV_BLOCK_BYTES", 1 << 12)  # "far down" = beyond the first block
    name, content, extra, standardized, expected = BAD_FILES[case]
    path = _csv(tmp_path, name, content) if content is not None else tmp_path / name
    with pytest.raises(DataError) as info:
        from_file("mine", _file_spec(path, **extra), tmp_path / "out.parquet", standardized=standardized)
    assert expected in str(info.value)
    assert str(info.value).startswith(str(path))
    assert not (tmp_path / "out.parquet").exists()


def test_constant_column_is_fine_without_standardization(tmp_path):
    path = _csv(tmp_path, "c.csv", "a,b,y\n1,2,3\n1,5,6\n1,8,9\n")
    assert from_file("mine", _file_spec(path), tmp_path / "out.parquet", standardized=False)["n"] == 3


def test_bad_parquet_files_are_refused(tmp_path):
    pd.DataFrame({"a": [1.0, np.nan, 3.0], "y": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "nan.parquet")
    with pytest.raises(DataError, match=r"nan\.parquet: column 'a' has a missing value .* at row 1;"):
        from_file("m", _file_spec(tmp_path / "nan.parquet"), tmp_path / "o.parquet")
    pd.DataFrame({"a": [True, False], "y": [1.0, 2.0]}).to_parquet(tmp_path / "bool.parquet")
    with pytest.raises(DataError, match=r"bool\.parquet: column 'a' is not numeric \(it holds bool"):
        from_file("m", _file_spec(tmp_path / "bool.parquet", features=["a"]), tmp_path / "o.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"junk\.parquet: not a readable parquet file"):
        from_file("m", _file_spec(tmp_path / "junk.parquet"), tmp_path / "o.parquet")


def test_file_shape_without_reading_the_data(tmp_path):
    frame = _frame(1234)
    frame.to_parquet(tmp_path / "s.parquet", index=False)
    frame.to_csv(tmp_path / "s.csv", index=False)
    assert datafile.file_shape(_file_spec(tmp_path / "s.parquet")) == (1234, 2, 8)
    assert datafile.file_shape(_file_spec(tmp_path / "s.csv")) == (1234, 2, 8)  # small: counted exactly
    assert datafile.file_shape(_file_spec(tmp_path / "later.csv", features=["a", "b", "c"])) == (0, 3, 8)


def test_file_datasets_in_the_config(tmp_path):
    config = yaml.safe_load((ROOT / ".test/config.yaml").read_text())
    config["datasets"]["mine"] = {"kind": "file", "path": str(tmp_path / "absent.csv"), "target": "y"}
    with pytest.raises(
        ConfigError,
        match=r"datasets\.mine\.features: not given, and they cannot be read from the "
        r"file: .*absent\.csv: no such file",
    ):
        validate_config(config, ROOT / "schemas")
    config["datasets"]["mine"] = {"kind": "file", "path": "x.csv", "target": "y", "true_weights": [1.0]}
    with pytest.raises(ConfigError, match=r"datasets\.mine: Additional properties are not allowed \('true_weights'"):
        validate_config(config, ROOT / "schemas")
    _frame().to_csv(tmp_path / "t.csv", index=False)
    config["datasets"]["mine"] = {"kind": "file", "path": str(tmp_path / "t.csv"), "target": "y"}
    validate_config(config, ROOT / "schemas")
    assert config["datasets"]["mine"]["format"] == "auto" and config["datasets"]["mine"]["delimiter"] == ","


def test_diabetes_export(tmp_path):
    rows = export_diabetes(str(tmp_path / "diabetes.csv"))
    frame = pd.read_csv(tmp_path / "diabetes.csv")
    assert rows == len(frame) == 442
    assert list(frame.columns) == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "progression"]
    np.testing.assert_array_equal(frame.to_numpy(), diabetes_frame().to_numpy())  # CSV keeps every digit
    default = yaml.safe_load((ROOT / "config.yaml").read_text())["datasets"]["diabetes"]
    assert default["features"] == list(frame.columns[:-1]) and default["target"] == "progression"


# ---------------------------------------------------------------------------------------------
# Memory: the machine's memory is the limit; a rule needing more is refused before it starts.
# ---------------------------------------------------------------------------------------------


def test_memory_limit_refusal_names_rule_need_and_way_out():
    assert declared_mem_mb(1000, 1, 24000, "fit_closed_form", "x") == 1000
    assert declared_mem_mb(1000, 3, 2500, "fit_closed_form", "x") == 2500  # retries grow up to the limit
    assert declared_mem_mb(1000, 2, None, "fit_closed_form", "x") == 2000  # no limit (a cluster)
    with pytest.raises(MemoryLimitError) as info:
        declared_mem_mb(50000, 1, 24000, "fit_closed_form", "dataset big: 1000 rows")
    message = str(info.value)
    for part in (
        "rule fit_closed_form",
        "needs about 50000 MB",
        "dataset big",
        "mem_mb=24000",
        "float32",
        "more memory",
        "profiles/slurm",
        "--resources mem_mb=",
    ):
        assert part in message, (part, message)


def test_fit_summary_declares_the_largest_dataset_it_holds_one_at_a_time():
    one, small = (10**6, 9, 8), (1000, 2, 8)
    loaded = [(*one, False), (*one, False), (*small, False)]
    # One dataset at a time: three of them need what the largest needs, not their sum.
    assert resources.summary_mem_mb(loaded, 1 << 18) == resources.summary_mem_mb([(*one, False)], 1 << 18)
    held = 10**6 * 10 * 8 / 2**20
    assert resources.summary_mem_mb(loaded, 1 << 18) == int(600 + held * resources.DATA_COPIES)
    # A streamed dataset costs a chunk, whatever its rows.
    huge = (10**9, 9, 4, True)
    assert resources.summary_mem_mb([huge], 1 << 18) == resources.stream_mem_mb(1 << 18, 9, 0)
    assert resources.summary_mem_mb([huge, (*small, False)], 1 << 18) < 700


def test_a_generated_dataset_job_declares_a_row_group_not_the_data():
    group = datafile.ROW_GROUP_BYTES
    big, bigger = (10**8, 9, 4), (10**9, 9, 4)
    assert resources.generate_mem_mb(*big, group) == resources.generate_mem_mb(*bigger, group) < 800
    assert resources.generate_mem_mb(50, 1, 4, group) == 600  # a tiny dataset: the interpreter
    chunk, rows = resources.generation_rows(9, 4, group)
    assert chunk % 16 == 0 and rows % chunk == 0 and rows * 10 * 4 <= group
    assert resources.generation_rows(10**5, 8, group)[0] == 16  # very wide: the smallest chunk
    with pytest.raises(resources.InsufficientMemoryError, match=r"dataset big .* needs about 737 MB.*mem_mb=500"):
        resources.check_need(resources.generate_mem_mb(2 * 10**7, 4, 4, group), 500, "dataset big (2e7 rows)")
    resources.check_need(700, 800, "fits")
    resources.check_need(10**9, None, "no declared limit")


def test_local_profile_declares_the_machine_memory():
    import yte

    with open(ROOT / "profiles/default/config.yaml") as handle:
        profile = yte.process_yaml(handle, require_use_yte=True)
    assert profile["resources"]["mem_mb"] == machine_mem_mb() > 0


# ---------------------------------------------------------------------------------------------
# The workflow: a user's CSV through every stage it feeds, its edits rerun, bad files refused.
# ---------------------------------------------------------------------------------------------


def _config_with(tmp_path, datasets: dict) -> Path:
    config = yaml.safe_load((ROOT / ".test/config.yaml").read_text())
    config["datasets"].update(datasets)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.workflow
def test_a_users_csv_goes_through_the_fits_and_reruns_when_edited(tmp_path):
    (tmp_path / "data").mkdir()
    _frame(200, seed=7).to_csv(tmp_path / "data/mine.csv", index=False)
    config = _config_with(tmp_path, {"mine": {"kind": "file", "path": "data/mine.csv", "target": "y"}})
    fits = [
        f"results/fits/mine/{s}/{m}.json" for s in ("raw", "standardized") for m in ("lstsq", "sklearn", "manual_gd")
    ]
    run_snakemake(tmp_path, *fits, configfile=config)
    meta = json.loads((tmp_path / "results/datasets/mine.json").read_text())
    assert meta["features"] == ["a", "b"] and meta["n"] == 200 and meta["true_weights"] is None
    for path in fits:
        record = json.loads((tmp_path / path).read_text())
        assert record["true_weights"] is None and record["true_bias"] is None
        if record["base_method"] in ("lstsq", "sklearn"):
            assert record["status"] == "closed_form" and record["inference"]["dof"] == 197
            assert record["inference"]["covers_truth"] is None
    assert "Nothing to be done" in run_snakemake(tmp_path, "-n", *fits, configfile=config).stdout
    # Editing the file reruns its dataset and everything fitted from it.
    _frame(200, seed=8).to_csv(tmp_path / "data/mine.csv", index=False)
    dry = run_snakemake(tmp_path, "-n", *fits, configfile=config).stdout
    assert "rule dataset:" in dry and "data/mine.csv" in dry, dry
    assert all(path in dry for path in fits), dry  # a fit's own job or its dataset and scaling's


@pytest.mark.workflow
def test_bad_files_fail_their_dataset_job_naming_file_and_column(tmp_path):
    (tmp_path / "data").mkdir()
    bad = {
        "nonnumeric": ("a,b,y\n1,x,3\n2,w,4\n", "data/nonnumeric.csv: column 'b' is not numeric"),
        "nan": (
            "a,b,y\n1,2,3\n2,NaN,4\n3,5,6\n",
            "data/nan.csv: column 'b' has a missing value (empty, NA or NaN) at row 1",
        ),
        "constant": ("a,b,y\n1,2,3\n1,3,4\n1,5,6\n", "data/constant.csv: feature column 'a' is constant"),
    }
    datasets = {}
    for name, (text, _) in bad.items():
        (tmp_path / f"data/{name}.csv").write_text(text)
        datasets[name] = {"kind": "file", "path": f"data/{name}.csv", "target": "y", "features": ["a", "b"]}
    datasets["absent"] = {"kind": "file", "path": "data/absent.csv", "target": "y", "features": ["a"]}
    config = _config_with(tmp_path, datasets)
    proc = run_snakemake(
        tmp_path, "--keep-going", *(f"results/datasets/{n}.parquet" for n in bad), configfile=config, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for name, (_, expected) in bad.items():
        assert expected in out, (name, out)
        assert not (tmp_path / f"results/datasets/{name}.parquet").exists()
    # A missing file is an input Snakemake cannot find or make: refused before any job, named.
    proc = run_snakemake(tmp_path, "-n", "results/datasets/absent.parquet", configfile=config, check=False)
    assert proc.returncode != 0 and "data/absent.csv" in proc.stdout + proc.stderr


@pytest.mark.workflow
def test_a_rule_needing_more_than_the_memory_limit_is_refused_before_it_starts(tmp_path):
    # The profile's limit is the machine's memory; a tiny limit stands in for a huge dataset.
    proc = run_snakemake(
        tmp_path, "-n", "results/fits/paris_rent/raw/lstsq.json", "--resources", "mem_mb=500", check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "rule dataset: needs about 600 MB" in out and "mem_mb=500" in out and "float32" in out, out
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("features", [None, ["a", "b"]], ids=["features-inferred", "features-listed"])
def test_a_semicolon_csv_without_delimiter_names_the_delimiter_field(tmp_path, features):
    (tmp_path / "semi.csv").write_text("a;b;y\n1;2;3\n2;3;5\n4;1;6\n")
    spec = {"kind": "file", "path": str(tmp_path / "semi.csv"), "target": "y"}
    if features:
        spec["features"] = features
    with pytest.raises(
        ValueError, match=r"the header looks ';'-separated, not ',': set datasets.houses.delimiter: ';'"
    ):
        datafile.check_columns(spec, "houses")
    assert datafile.check_columns({**spec, "delimiter": ";"}, "houses") == (["a", "b"], "y")


def test_a_folder_as_path_without_parquet_shards_says_what_it_holds(tmp_path):
    (tmp_path / "tables").mkdir()
    spec = {"kind": "file", "path": str(tmp_path / "tables"), "target": "y"}
    with pytest.raises(
        ValueError,
        match=r"tables: a folder with no parquet file \(datasets.houses.path: a folder is read as the shards of one "
        r"dataset, its .parquet/.pq/.parq files in name order; it is empty\)",
    ):
        datafile.check_columns(spec, "houses")
    (tmp_path / "tables/one.csv").write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match=r"it holds one.csv\); CSV files are not read as shards"):
        datafile.check_columns(spec, "houses")
