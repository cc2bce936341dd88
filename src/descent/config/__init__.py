"""Checks of a configuration that a JSON schema cannot express.

The schema (``schemas/config.schema.yaml``) checks types, ranges and allowed values; the
functions here check relations between fields. They return every problem found, each naming
the field by its dotted path, so a bad config is reported whole before any job runs.
:func:`validate_config` then returns the configuration typed once, as frozen dataclasses
(:class:`descent.config.sections.Config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from descent.config.sections import Config

#: Config sections with a schema file of their own (schemas/<section>.schema.yaml). They are
#: validated one by one because defaults are filled in only within a single schema file (a
#: cross-file $ref is validated by a validator that sets no defaults).
SECTIONS: tuple[str, ...] = ("fits", "benchmark", "lessons", "report")


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
        from descent.datafile import file_features

        return file_features(spec)
    return [f"x{j}" for j in range(int(spec.get("n_features", 1)))]


def spec_shape(spec: dict[str, Any]) -> tuple[int, int, int]:
    """``(rows, features, bytes per stored value)`` of a dataset spec (torch_uniform is float32;
    a ``kind: file`` spec's from its file, :func:`descent.datafile.file_shape`)."""
    if spec.get("kind") == "file":
        from descent.datafile import file_shape

        return file_shape(spec)
    itemsize = 4 if spec["kind"] == "torch_uniform" or spec.get("dtype") == "float32" else 8
    return int(spec["n"]), len(feature_names(spec)), itemsize


class ConfigError(ValueError):
    """The configuration is invalid; the message lists each bad field by its dotted path."""


def dataset_problems(name: str, spec: dict[str, Any]) -> list[str]:
    """Problems with one dataset spec, as ``'datasets.<name>.<field>: …'`` strings."""
    where = f"datasets.{name}"
    problems: list[str] = []
    if spec.get("kind") == "file" and not spec.get("features"):
        from descent.datafile import file_features

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
    if spec.get("kind") == "multiscale_gaussian":
        lo, hi = spec.get("scale_range", [0.01, 1000.0])
        if lo > hi:
            problems.append(f"{where}.scale_range: [{lo}, {hi}] is not increasing")
    return problems


def validate_config(config: dict[str, Any], schema_dir: str | Path) -> Config:
    """Validate ``config`` in place against the schemas in ``schema_dir``, filling in defaults,
    then check the relations between fields (:func:`check_config`), and return it typed
    (:class:`descent.config.sections.Config`, built once from the filled-in dict).

    Every problem of every section is collected first and reported together: one
    :class:`ConfigError` lists each bad field by its dotted path (a dataset error does not hide a
    fits or lessons error).
    """
    from descent.config.schema import fill_defaults, schema_problems
    from descent.config.sections import Config

    schema_dir = Path(schema_dir)
    problems = schema_problems(config, schema_dir / "config.schema.yaml", "")
    if not problems:
        fill_defaults(config, schema_dir / "config.schema.yaml")
    valid_sections = {"datasets"} if not problems else set()
    for section in SECTIONS:
        # an absent section is an empty one, filled with its defaults (in the config, not a copy)
        data = config.setdefault(section, {}) if isinstance(config, dict) else None
        found = schema_problems(data, schema_dir / f"{section}.schema.yaml", section)
        if not found and isinstance(data, dict):
            fill_defaults(data, schema_dir / f"{section}.schema.yaml")
            valid_sections.add(section)
        problems.extend(found)
    problems.extend(cross_field_problems(config, valid_sections))
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return Config.from_dict(config)


def cross_field_problems(config: dict[str, Any], sections: set[str] | None = None) -> list[str]:
    """Problems between fields of the schema-valid ``sections`` (default: all), each naming its field."""
    from descent.config.fits import fits_problems
    from descent.config.sections import BenchmarkConfig, LessonsConfig
    from descent.lessons import lessons_problems
    from descent.matmul.config import benchmark_problems

    sections = {"datasets", *SECTIONS} if sections is None else sections
    problems: list[str] = []
    if "datasets" in sections:
        for name, spec in config.get("datasets", {}).items():
            problems.extend(dataset_problems(name, spec))
    if {"datasets", "fits"} <= sections and not problems:
        problems.extend(fits_problems(config))
    if "lessons" in sections:
        problems.extend(lessons_problems(LessonsConfig.from_dict(config["lessons"])))
    if "benchmark" in sections:
        problems.extend(benchmark_problems(BenchmarkConfig.from_dict(config["benchmark"])))
    return problems


def check_config(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` listing every cross-field problem in a schema-valid config."""
    problems = cross_field_problems(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
