"""Checks of a configuration that a JSON schema cannot express.

The schema (``schemas/config.schema.yaml``) checks types, ranges and allowed values; the
functions here check relations between fields. They return every problem found, each naming
the field by its dotted path, so a bad config is reported whole before any job runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Config sections with a schema file of their own (schemas/<section>.schema.yaml). They are
#: validated one by one because snakemake.utils.validate fills in defaults only within a
#: single schema file (a cross-file $ref is validated by a validator that sets no defaults).
SECTIONS: tuple[str, ...] = ("fits", "benchmark", "lessons", "report")


def feature_names(spec: dict[str, Any]) -> list[str]:
    """Feature column names of a spec: ``spec['features']`` or ``x0 … x{k-1}``.

    >>> feature_names({"n_features": 3})
    ['x0', 'x1', 'x2']
    """
    if spec.get("features"):
        return list(spec["features"])
    return [f"x{j}" for j in range(int(spec.get("n_features", 1)))]


def spec_shape(spec: dict[str, Any]) -> tuple[int, int, int]:
    """``(rows, features, bytes per stored value)`` of a dataset spec (torch_uniform is float32)."""
    itemsize = 4 if spec["kind"] == "torch_uniform" or spec.get("dtype") == "float32" else 8
    return int(spec["n"]), len(feature_names(spec)), itemsize


class ConfigError(ValueError):
    """The configuration is invalid; the message lists each bad field by its dotted path."""


def dataset_problems(name: str, spec: dict[str, Any]) -> list[str]:
    """Problems with one dataset spec, as ``'datasets.<name>.<field>: …'`` strings."""
    where = f"datasets.{name}"
    problems: list[str] = []
    features = feature_names(spec)
    if spec.get("features") and "n_features" in spec and spec["n_features"] != len(spec["features"]):
        problems.append(
            f"{where}.n_features: {spec['n_features']} disagrees with the {len(spec['features'])} "
            f"names in {where}.features"
        )
    weights = spec.get("true_weights")
    if weights is not None and len(weights) not in (0, len(features)):
        problems.append(
            f"{where}.true_weights: {len(weights)} weight(s) for {len(features)} feature(s) {features}"
        )
    if spec.get("target") in features:
        problems.append(f"{where}.target: {spec['target']!r} is also a feature name")
    if spec.get("kind") == "torch_uniform" and not float(spec.get("low", 0.0)) < float(spec.get("high", 1.0)):
        problems.append(f"{where}.high: must be greater than low ({spec.get('low')} >= {spec.get('high')})")
    if spec.get("kind") == "multiscale_gaussian":
        lo, hi = spec.get("scale_range", [0.01, 1000.0])
        if lo > hi:
            problems.append(f"{where}.scale_range: [{lo}, {hi}] is not increasing")
    return problems


def validate_config(config: dict[str, Any], schema_dir: str | Path) -> None:
    """Validate ``config`` in place against the schemas in ``schema_dir``, filling in defaults.

    Raises ``snakemake.exceptions.WorkflowError`` naming the section and the field.
    """
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema_dir = Path(schema_dir)
    validate(config, str(schema_dir / "config.schema.yaml"))
    for section in SECTIONS:
        try:
            validate(config[section], str(schema_dir / f"{section}.schema.yaml"))
        except WorkflowError as exc:
            detail = "\n".join(str(arg) for arg in exc.args)
            raise WorkflowError(
                f"In config section '{section}' (schema {schema_dir / f'{section}.schema.yaml'}):\n{detail}"
            ) from None


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` listing every cross-field problem in a schema-valid config."""
    problems: list[str] = []
    for name, spec in config.get("datasets", {}).items():
        problems.extend(dataset_problems(name, spec))
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
