"""The two lessons' dataset specifications (as in config.yaml), shared by the tests that generate
them: the Paris-rent lesson's 50 apartments and Lesson 0's 100 points."""

PARIS = {
    "kind": "torch_uniform",
    "n": 50,
    "seed": 42,
    "features": ["surface"],
    "target": "rent",
    "low": 20,
    "high": 100,
    "true_weights": [32],
    "true_bias": 200,
    "noise_std": 100,
}
LESSON0 = {
    "kind": "numpy_legacy_uniform",
    "n": 100,
    "seed": 0,
    "features": ["x"],
    "target": "y",
    "scale": 2,
    "true_weights": [3],
    "true_bias": 4,
    "noise_std": 0.5,
}
