"""What a dataset spec (one entry of the config's ``datasets``) says before any data is read:
feature names, rows, bytes per value, and the problems of its fields. Light (no pandas): the
rules call it while Snakemake parses."""

from __future__ import annotations

from typing import Any


def feature_names(spec: dict[str, Any]) -> list[str]:
    """Feature column names of a spec: ``spec['features']`` or ``x0 … x{k-1}``; for a
    ``kind: file`` spec without ``features``, every numeric column of its file but the target
    (:func:`descent.datafile.file_features`, which raises ``DataError`` naming a missing file).

    >>> feature_names({"n_features": 3})
    ['x0', 'x1', 'x2']
    """
    if spec.get("features"):
        return list(spec["features"])
    if spec.get("kind") == "file":
        from descent.datafile import file_features  # reads the table (numpy, pyarrow): only for this kind

        return file_features(spec)
    return [f"x{j}" for j in range(int(spec.get("n_features", 1)))]


def spec_shape(spec: dict[str, Any]) -> tuple[int, int, int]:
    """``(rows, features, bytes per stored value)`` of a dataset spec (torch_uniform is float32;
    a ``kind: file`` spec's from its file, :func:`descent.datafile.file_shape`)."""
    if spec.get("kind") == "file":
        from descent.datafile import file_shape  # reads the table's footer or first block: only for this kind

        return file_shape(spec)
    itemsize = 4 if spec["kind"] == "torch_uniform" or spec.get("dtype") == "float32" else 8
    return int(spec["n"]), len(feature_names(spec)), itemsize


def dataset_problems(name: str, spec: dict[str, Any]) -> list[str]:
    """Problems with one dataset spec, as ``'datasets.<name>.<field>: …'`` strings."""
    where = f"datasets.{name}"
    problems: list[str] = []
    if spec.get("kind") == "file" and not spec.get("features"):
        from descent.datafile import file_features  # reads the table (numpy, pyarrow): only for this kind

        try:
            file_features(spec, name)
        except ValueError as exc:  # descent.io.DataError: the file is missing or has no numeric column
            return [f"{where}.features: not given, and they cannot be read from the file: {exc}"]
    features = feature_names(spec)
    if spec.get("features") and "n_features" in spec and spec["n_features"] != len(spec["features"]):
        problems.append(
            f"{where}.n_features: {spec['n_features']} disagrees with the {len(spec['features'])} "
            f"names in {where}.features"
        )
    weights = spec.get("true_weights")
    if weights is not None and len(weights) not in (0, len(features)):
        problems.append(f"{where}.true_weights: {len(weights)} weight(s) for {len(features)} feature(s) {features}")
    if spec.get("target") in features:
        problems.append(f"{where}.target: {spec['target']!r} is also a feature name")
    if spec.get("kind") == "torch_uniform" and not float(spec.get("low", 0.0)) < float(spec.get("high", 1.0)):
        problems.append(f"{where}.high: must be greater than low ({spec.get('low')} >= {spec.get('high')})")
    shards = int(spec.get("shards", 1))
    if spec.get("kind") != "file" and shards > 1 and int(spec.get("n", 0)) < 2 * shards:
        problems.append(f"{where}.shards: {shards} shards of {spec.get('n')} rows leave fewer than 2 rows in a shard")
    if spec.get("kind") == "multiscale_gaussian":
        lo, hi = spec.get("scale_range", [0.01, 1000.0])
        if lo > hi:
            problems.append(f"{where}.scale_range: [{lo}, {hi}] is not increasing")
    return problems
