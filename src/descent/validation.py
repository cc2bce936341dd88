"""The whole configuration checked before any job runs: each section against its JSON schema
(defaults filled in), the fits schema extended with the registered methods (the user's plugins
loaded first), then the relations between fields of every stage. Every problem of every section
is reported at once, each naming its field by its dotted path.

Above the stages whose checks it runs (:mod:`descent.lessons`, :mod:`descent.matmul`,
:mod:`descent.config.fits`), so that none of them imports back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from descent.config import ConfigError
from descent.config.fits import fits_problems, setting_name_problems, with_fit_context
from descent.config.schema import fill_defaults, schema_problems
from descent.config.sections import BenchmarkConfig, Config, LessonsConfig
from descent.dataspec import dataset_problems
from descent.fitting.registry import PluginError, methods, use_plugins
from descent.lessons.checks import lessons_problems
from descent.matmul.config import benchmark_problems

#: Config sections with a schema file of their own (schemas/<section>.schema.yaml). They are
#: validated one by one because defaults are filled in only within a single schema file (a
#: cross-file $ref is validated by a validator that sets no defaults).
SECTIONS: tuple[str, ...] = ("fits", "benchmark", "lessons", "report")


def plugin_problems(fits: Any, base: str | Path | None = None) -> list[str]:
    """Load the methods of ``fits.plugins`` (relative to ``base``, default the working
    directory), replacing those loaded before; a plugin that cannot be used is a problem naming
    the field and the file."""
    paths = fits.get("plugins", []) if isinstance(fits, dict) else []
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        use_plugins([])
        return []  # the schema reports the field's type
    try:
        use_plugins(paths, base)
    except PluginError as exc:
        use_plugins([])
        return [f"fits.plugins: {exc}"]
    return []


def validate_config(config: dict[str, Any], schema_dir: str | Path) -> Config:
    """Validate ``config`` in place against the schemas in ``schema_dir``, filling in defaults,
    then check the relations between fields (:func:`check_config`), and return it typed
    (:class:`descent.config.sections.Config`, built once from the filled-in dict).

    Every problem of every section is collected first and reported together: one
    :class:`ConfigError` lists each bad field by its dotted path (a dataset error does not hide a
    fits or lessons error).
    """
    schema_dir = Path(schema_dir)
    problems = schema_problems(config, schema_dir / "config.schema.yaml", "")
    fits = config.get("fits") if isinstance(config, dict) else None
    problems.extend(plugin_problems(fits))
    if not problems:
        fill_defaults(config, schema_dir / "config.schema.yaml")
    valid_sections = {"datasets"} if not problems else set()
    for section in SECTIONS:
        # an absent section is an empty one, filled with its defaults (in the config, not a copy)
        data = config.setdefault(section, {}) if isinstance(config, dict) else None
        registry = methods() if section == "fits" else None  # the method choices and options
        found = schema_problems(data, schema_dir / f"{section}.schema.yaml", section, registry)
        if section == "fits" and isinstance(data, dict):
            found = with_fit_context(data, found + setting_name_problems(data))
        if not found and isinstance(data, dict):
            fill_defaults(data, schema_dir / f"{section}.schema.yaml", registry)
            valid_sections.add(section)
        problems.extend(found)
    problems.extend(cross_field_problems(config, valid_sections))
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return Config.from_dict(config)


def cross_field_problems(config: dict[str, Any], sections: set[str] | None = None) -> list[str]:
    """Problems between fields of the schema-valid ``sections`` (default: all), each naming its field."""
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
