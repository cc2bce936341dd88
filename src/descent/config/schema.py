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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

from descent.fitting.method import Method


def with_methods(schema: dict[str, Any], methods: Mapping[str, Method]) -> dict[str, Any]:
    """The fits schema with the registered ``methods``: their names as the method choices, and
    each method's options (:meth:`~descent.fitting.method.Option.json_schema`, without the
    default, which the method fills in for its own fits only) among the settings of a fit. An
    option name two methods declare differently accepts either declaration."""
    schema = copy.deepcopy(schema)
    schema["$defs"]["method"]["enum"] = list(methods)
    properties = schema["$defs"]["settings_fields"]["properties"]
    declared: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for method in methods.values():
        for name, option in method.options.items():
            fragment = {k: v for k, v in option.json_schema().items() if k not in ("default", "description")}
            declared.setdefault(name, []).append((method.name, fragment))
    for name, entries in declared.items():
        if name in properties:
            continue  # a setting every method has keeps its own entry
        owners = ", ".join(owner for owner, _ in entries)
        fragments = [f for i, (_, f) in enumerate(entries) if f not in [g for _, g in entries[:i]]]
        entry = fragments[0] if len(fragments) == 1 else {"anyOf": fragments}
        properties[name] = {"description": f"option of {owners}", **entry}
    return schema


def _methods_key(methods: Mapping[str, Method] | None) -> tuple[Any, ...] | None:
    """A hashable identity of a registry state (a plugin reloaded is a new object)."""
    return None if methods is None else tuple((name, id(m)) for name, m in methods.items())


@functools.lru_cache(maxsize=32)
def _validators(schema_path: Path, mtime_ns: int, methods_key: tuple[Any, ...] | None = None) -> tuple[Any, Any]:
    """The (checking, default-filling) validators of the schema at ``schema_path`` as it was at
    ``mtime_ns`` (a schema edited while a process runs is read again), extended by
    :func:`with_methods` with the registry state ``methods_key`` names (:data:`_REGISTRIES`)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schema = yaml.load(schema_path.read_text(), Loader=loader)
    if methods_key is not None:
        schema = with_methods(schema, _REGISTRIES[methods_key])
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


#: The registries the cached validators were built with, by :func:`_methods_key`.
_REGISTRIES: dict[tuple[Any, ...], dict[str, Method]] = {}


def _validators_for(schema_path: Path, methods: Mapping[str, Method] | None) -> tuple[Any, Any]:
    key = _methods_key(methods)
    if key is not None and methods is not None:
        _REGISTRIES[key] = dict(methods)  # held, so that no id in a key is reused while cached
    return _validators(schema_path, schema_path.stat().st_mtime_ns, key)


def _text_number_hint(value: Any) -> str:
    """For a number YAML read as text (``1e-6``: YAML 1.1 wants a dot, ``1.0e-6``), how to write it."""
    if not isinstance(value, str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    mantissa, _, exponent = value.lower().partition("e")
    suggestion = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}" if exponent else f"{number!r}"
    return f"; YAML read {value} as text, not a number (it reads an exponent only after a dot: write {suggestion})"


def schema_problems(data: Any, schema_path: Path, where: str, methods: Mapping[str, Method] | None = None) -> list[str]:
    """Every violation of the schema at ``schema_path`` (with the registered ``methods`` when
    given, :func:`with_methods`) by ``data`` (not just the first), as ``'<where>.<path>: <message>
    (schema <file>)'`` strings, sorted by path; a number YAML read as text says how to write it."""
    checking, _ = _validators_for(schema_path, methods)
    problems = []
    for error in sorted(checking.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) for p in (where, *error.absolute_path) if p != "")
        hint = _text_number_hint(error.instance)
        problems.append(f"{path or 'config'}: {error.message}{hint} (schema {schema_path.name})")
    return problems


def fill_defaults(
    data: dict[str, Any], schema_path: str | Path, methods: Mapping[str, Method] | None = None
) -> dict[str, Any]:
    """Validate ``data`` against the schema at ``schema_path`` and fill in, in place, every
    default the schema gives for a property ``data`` leaves out (nested ones too); return it.

    Raises ``jsonschema.ValidationError`` (the first violation) when ``data`` is invalid; use
    :func:`schema_problems` first to report them all."""
    _, filling = _validators_for(Path(schema_path), methods)
    filling.validate(data)
    return data
