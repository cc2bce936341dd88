"""Tests of atomic writing and validated dataset loading."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from descent.io import DataError, atomic_path, load_dataset, write_json, write_parquet

META = {
    "features": ["a", "b"],
    "target": "y",
    "true_weights": [1, 2],
    "true_bias": 0,
    "n": 3,
    "seed": 0,
    "generator": "numpy_legacy_uniform",
}


def _write(tmp_path, frame, meta=META):
    write_parquet(tmp_path / "d.parquet", frame)
    write_json(tmp_path / "d.json", meta)
    return tmp_path / "d.parquet", tmp_path / "d.json"


def test_roundtrip(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 5.0], "y": [1.0, 4.0, 13.0]})
    data = load_dataset(*_write(tmp_path, frame))
    assert data.X.shape == (3, 2) and data.y.shape == (3,)
    assert np.array_equal(data.X[:, 1], [0.0, 1.0, 5.0])


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "r.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_nan_is_refused_naming_file_column_and_row(tmp_path):
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [0.0, 1.0, 5.0], "y": [1.0, 4.0, 13.0]})
    parquet, meta = _write(tmp_path, frame)
    with pytest.raises(DataError, match=r"d\.parquet: column 'a' has 1 non-finite value\(s\) \(first at row 1"):
        load_dataset(parquet, meta)


def test_read_batch_by_batch_the_count_and_first_row_are_of_the_whole_column(tmp_path, monkeypatch):
    """The table is read in record batches (memory: X, y and one batch); a bad value's message
    still counts the whole column and names its first bad row, and the values are the file's."""
    from descent import io

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(50), rng.standard_normal(50)
    frame = pd.DataFrame({"a": a, "b": b, "y": a + 2 * b})
    parquet, meta = _write(tmp_path, frame)
    monkeypatch.setattr(io, "LOAD_BATCH_ROWS", 7)
    data = load_dataset(parquet, meta)
    assert np.array_equal(data.X, np.column_stack([a, b])) and np.array_equal(data.y, a + 2 * b)
    assert np.array_equal(load_dataset(parquet, meta, column_major_rows=50).X, data.X)
    frame.loc[[9, 23, 40], "b"] = [np.inf, np.nan, -np.inf]
    frame.loc[30, "y"] = np.nan
    parquet, meta = _write(tmp_path, frame)
    with pytest.raises(DataError, match=r"column 'b' has 3 non-finite value\(s\) \(first at row 9: inf\)"):
        load_dataset(parquet, meta)


def test_infinite_target_is_refused(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 5.0], "y": [1.0, np.inf, 13.0]})
    with pytest.raises(DataError, match="column 'y'"):
        load_dataset(*_write(tmp_path, frame))


def test_missing_column_is_named(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "y": [1.0, 4.0, 13.0]})
    with pytest.raises(DataError, match="missing column\\(s\\) b"):
        load_dataset(*_write(tmp_path, frame))


def test_not_parquet_is_named(tmp_path):
    (tmp_path / "d.parquet").write_text("this is not parquet")
    write_json(tmp_path / "d.json", META)
    with pytest.raises(DataError, match=r"d\.parquet: not a readable parquet file"):
        load_dataset(tmp_path / "d.parquet", tmp_path / "d.json")


def test_truncated_parquet_is_named(tmp_path):
    frame = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0) ** 2, "y": np.arange(100.0)})
    parquet, meta = _write(tmp_path, frame)
    parquet.write_bytes(parquet.read_bytes()[:200])
    with pytest.raises(DataError, match="not a readable parquet file"):
        load_dataset(parquet, meta)


def test_single_row_is_refused(tmp_path):
    frame = pd.DataFrame({"a": [1.0], "b": [2.0], "y": [3.0]})
    with pytest.raises(DataError, match="1 row\\(s\\); fitting a line needs at least 2"):
        load_dataset(*_write(tmp_path, frame))


def test_sidecar_missing_field_is_named(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0], "y": [1.0, 4.0]})
    meta = {k: v for k, v in META.items() if k != "target"}
    with pytest.raises(DataError, match=r"d\.json: missing field\(s\) target"):
        load_dataset(*_write(tmp_path, frame, meta))


def test_json_is_strict_and_stable(tmp_path):
    write_json(tmp_path / "a.json", {"b": np.float32(1.5), "a": [np.int64(2)], "c": float("nan")})
    text = (tmp_path / "a.json").read_text()
    assert json.loads(text) == {"a": [2], "b": 1.5, "c": None}
    assert text.index('"a"') < text.index('"b"')  # keys sorted, so bytes are reproducible


UMASK_PROBE = """
import os, sys
import pandas as pd
set_umask = os.umask
def refuse(*args):
    raise AssertionError("os.umask called")
os.umask = refuse  # descent.io must neither read nor change the process-wide umask
from descent.io import write_json, write_parquet
for mask in (0o022, 0o077, 0o002):
    set_umask(mask)
    out = os.path.join(sys.argv[1], oct(mask))
    write_json(os.path.join(out, "r.json"), {"v": 1})
    write_parquet(os.path.join(out, "r.parquet"), pd.DataFrame({"a": [1.0]}))
    write_json(os.path.join(out, "r.json"), {"v": 2})  # replacing a file too
"""


def test_results_get_the_umask_permissions_without_touching_the_umask(tmp_path):
    # A fresh interpreter, where calling os.umask fails: importing descent.io and writing never do.
    subprocess.run([sys.executable, "-c", UMASK_PROBE, str(tmp_path)], check=True)
    for mask in (0o022, 0o077, 0o002):
        files = sorted((tmp_path / oct(mask)).iterdir())
        assert [p.name for p in files] == ["r.json", "r.parquet"]  # no temporary file left
        # The mode of a plain open() (0o666 less the umask), not mkstemp's 0o600.
        assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~mask}, oct(mask)


def test_a_file_datasets_sidecar_with_unknown_truth_loads(tmp_path):
    # kind: file datasets record their unknown truth and seed as null; the fits read them as usual.
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 5.0], "y": [1.0, 4.0, 13.0]})
    meta = {**META, "true_weights": None, "true_bias": None, "seed": None, "generator": "file"}
    data = load_dataset(*_write(tmp_path, frame, meta))
    assert data.meta["true_weights"] is None and data.X.shape == (3, 2)
