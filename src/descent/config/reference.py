"""The configuration reference (``docs/configuration.md``), generated from the schemas.

Every field of every section — its dotted path, type, default, bounds and description — read
from ``schemas/*.schema.yaml``, the fits schema extended with the built-in methods
(:func:`descent.config.schema.with_methods`), and then each method's own options. The docs page
is this module's output (``make docs``); a test fails when the committed page is stale.

Usage: ``python -m descent.config.reference [OUT.md]`` (stdout without ``OUT.md``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from descent.config.schema import with_methods
from descent.fitting.method import Method
from descent.fitting.registry import BUILTIN_METHODS, METHODS

#: The schema files in the order the page lists them, with the section they describe.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("config", "top level and `datasets:`"),
    ("fits", "`fits:`"),
    ("lessons", "`lessons:`"),
    ("benchmark", "`benchmark:`"),
    ("report", "`report:`"),
)

#: Schema keywords shown as bounds, with how the page writes them.
BOUNDS: tuple[tuple[str, str], ...] = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minItems", "at least {} item(s)"),
    ("maxItems", "at most {} item(s)"),
    ("minLength", "at least {} character(s)"),
)

Row = tuple[str, str, str, str, str]  # path, type, default, bounds, description


def builtin_methods() -> dict[str, Method]:
    """The built-in methods by name (never the user's plugins: the page is the same everywhere)."""
    return {name: METHODS[name] for name in BUILTIN_METHODS}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its local ``$ref`` (``#/$defs/...``) and plain ``allOf`` parts merged in;
    the referring schema's own keys win, and its ``properties`` update the referred ones."""
    merged: dict[str, Any] = {}
    parts = []
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        parts.append(_resolve(target, root))
    parts.extend(_resolve(p, root) for p in schema.get("allOf", []) if "if" not in p)
    parts.append({k: v for k, v in schema.items() if k not in ("$ref", "allOf")})
    for part in parts:
        properties = {**merged.get("properties", {})}
        for name, sub in part.get("properties", {}).items():
            properties[name] = {**properties.get(name, {}), **sub}
        merged.update(part)
        if properties:
            merged["properties"] = properties
    conditional = [p for p in schema.get("allOf", []) if "if" in p]
    if conditional:
        merged["conditional"] = conditional
    return merged


def _cell(text: Any) -> str:
    """One table cell: on one line, with the table's separator escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _type(schema: dict[str, Any], root: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_type(_resolve(s, root), root) for s in schema[key])
    kind = schema.get("type")
    if kind is None:
        return "object" if "properties" in schema else "any"
    text = " or ".join(kind) if isinstance(kind, list) else kind
    if text == "array" and isinstance(schema.get("items"), dict):
        items = _resolve(schema["items"], root)
        text = f"list of {_type(items, root)}"
    return text


def _bounds(schema: dict[str, Any]) -> str:
    return ", ".join(form.format(schema[key]) for key, form in BOUNDS if key in schema)


def _default(schema: dict[str, Any]) -> str:
    return f"`{json.dumps(schema['default'], ensure_ascii=False)}`" if "default" in schema else ""


def _rows(schema: dict[str, Any], path: str, root: dict[str, Any], note: str = "", top: bool = False) -> Iterator[Row]:
    """The fields of ``schema`` under ``path`` (itself too, unless ``top``): each property, the
    entries of a mapping (``<name>``), a list's items (``[]``) and the fields a condition adds
    (``if``/``then``, each listed once with the conditions that add it)."""
    schema = _resolve(schema, root)
    if path and not top:
        description = (note + " " if note else "") + schema.get("description", "")
        yield path, _type(schema, root), _default(schema), _bounds(schema), description
    prefix = f"{path}." if path else ""
    for name, sub in schema.get("properties", {}).items():
        yield from _rows(sub, prefix + name, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _rows(extra, f"{prefix}<name>", root)
    items = schema.get("items")
    if isinstance(items, dict) and "properties" in _resolve(items, root):
        yield from _rows(items, f"{path}[]", root)
    known = set(schema.get("properties", {}))
    added: dict[str, tuple[dict[str, Any], list[str]]] = {}
    keys = ""
    for condition in schema.get("conditional", []):
        when = ", ".join(json.dumps(value.get("const")) for value in condition["if"].get("properties", {}).values())
        keys = ", ".join(condition["if"].get("properties", {}))
        then = _resolve(condition.get("then", {}), root)
        for name, sub in then.get("properties", {}).items():
            if name not in known and sub:
                added.setdefault(name, (sub, []))[1].append(when)
    for name, (sub, whens) in added.items():
        yield from _rows(sub, prefix + name, root, note=f"({keys} {' or '.join(whens)})")


def _table(rows: Iterator[Row]) -> list[str]:
    lines = ["| field | type | default | bounds | description |", "| --- | --- | --- | --- | --- |"]
    lines.extend("| " + " | ".join([f"`{path}`", *(_cell(c) for c in rest)]) + " |" for path, *rest in rows)
    return lines


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def reference_markdown(schema_dir: str | Path) -> str:
    """The configuration reference page, as Markdown, from the schemas in ``schema_dir``."""
    schema_dir = Path(schema_dir)
    methods = builtin_methods()
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `make docs` (python -m descent.config.reference) from schemas/*.schema.yaml",
        "     and the built-in methods' options: edit those, not this page. -->",
        "",
        "Every field of `config.yaml`, section by section, as the schemas declare it. A field left out",
        "takes its default; `<name>` stands for a name of yours (a dataset, a variant);",
        "`[]` for each item of a list. The config is checked against these schemas, and the relations",
        "between fields, before any job runs (see [troubleshooting](troubleshooting.md)).",
    ]
    for section, title in SECTIONS:
        schema = _load(schema_dir / f"{section}.schema.yaml")
        if section == "fits":
            schema = with_methods(schema, methods)
        path = "" if section == "config" else section
        lines += [
            "",
            f"## {title}",
            "",
            _cell(schema.get("description", "")),
            "",
            *_table(_rows(schema, path, schema, top=True)),
        ]
    lines += [
        "",
        "## Each method's own options",
        "",
        "Set like any other setting of a fit (`fits.settings`, a variant's `settings`, an override's",
        "`set`); a method reads only its own. A plugin's options are listed the same way in its file.",
        "",
        "| method | kind | option | type | default | bounds | description |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for method in methods.values():
        for name, option in method.options.items():
            schema = option.json_schema()
            cells = (_type(schema, {}), _default(schema), _bounds(schema), option.description)
            lines.append(
                f"| `{method.name}` | {method.kind} | `{name}` | " + " | ".join(_cell(c) for c in cells) + " |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the reference to the path given (or print it)."""
    args = sys.argv[1:] if argv is None else argv
    text = reference_markdown(Path(__file__).resolve().parents[3] / "schemas")
    if args:
        Path(args[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
