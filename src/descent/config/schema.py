"""The JSON schemas of the configuration (``schemas/*.schema.yaml``), parsed once per process.

Two validators per schema file: one that lists every violation, and one that fills in the
schema's defaults while validating. The second is the recipe of jsonschema's FAQ ("Why doesn't
my schema's default property set the default on my instance?"), which is also what
``snakemake.utils.validate`` does; a test checks that both fill in the same config. Snakemake's
function re-reads the YAML file with PyYAML's pure-Python loader on every call (about 20 ms per
schema): here each file is read once, with libyaml when PyYAML has it, which matters to a
process that validates many configs (the test suite validates hundreds; every Snakemake start
validates one).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@functools.lru_cache(maxsize=32)
def _validators(schema_path: Path, mtime_ns: int) -> tuple[Any, Any]:
    """The (checking, default-filling) validators of the schema at ``schema_path`` as it was at
    ``mtime_ns`` (a schema edited while a process runs is read again)."""
    import yaml
    from jsonschema import Draft202012Validator, validators

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schema = yaml.load(schema_path.read_text(), Loader=loader)
    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties_with_defaults(
        validator: Any, properties: dict[str, Any], instance: Any, schema: Any
    ) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    # a copy: the parsed schema is shared by every later validation in the process
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    filling = validators.extend(Draft202012Validator, {"properties": properties_with_defaults})
    return Draft202012Validator(schema), filling(schema)


def schema_problems(data: Any, schema_path: Path, where: str) -> list[str]:
    """Every violation of the schema at ``schema_path`` by ``data`` (not just the first), as
    ``'<where>.<path>: <message> (schema <file>)'`` strings, sorted by path."""
    checking, _ = _validators(schema_path, schema_path.stat().st_mtime_ns)
    problems = []
    for error in sorted(checking.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) for p in (where, *error.absolute_path) if p != "")
        problems.append(f"{path or 'config'}: {error.message} (schema {schema_path.name})")
    return problems


def fill_defaults(data: dict[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Validate ``data`` against the schema at ``schema_path`` and fill in, in place, every
    default the schema gives for a property ``data`` leaves out (nested ones too); return it.

    Raises ``jsonschema.ValidationError`` (the first violation) when ``data`` is invalid; use
    :func:`schema_problems` first to report them all."""
    path = Path(schema_path)
    _, filling = _validators(path, path.stat().st_mtime_ns)
    filling.validate(data)
    return data
