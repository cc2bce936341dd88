"""Unit tests of the dataset generators: shapes, seeds, exact replication of both lessons."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from descent.datasets import generate, legacy_numpy_state_after_data

PARIS = {
    "kind": "torch_uniform", "n": 50, "seed": 42, "features": ["surface"], "target": "rent",
    "low": 20, "high": 100, "true_weights": [32], "true_bias": 200, "noise_std": 100,
}
LESSON0 = {
    "kind": "numpy_legacy_uniform", "n": 100, "seed": 0, "features": ["x"], "target": "y",
    "scale": 2, "true_weights": [3], "true_bias": 4, "noise_std": 0.5,
}
MULTI = {
    "kind": "multiscale_gaussian", "n": 5000, "n_features": 4, "seed": 3, "target": "y",
    "scale_range": [0.01, 1000.0], "offset_factor": 3.0, "weight_range": [-5.0, 5.0],
    "true_bias": 5.0, "noise_std": 0.0, "dtype": "float64",
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
