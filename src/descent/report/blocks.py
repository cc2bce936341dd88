"""The building blocks of a page section, as plain dicts the template renders by ``kind``.

A section (:mod:`descent.report.sections`) is a list of blocks:

``p``        a paragraph (``text``, escaped)
``list``     bullet points (``items``)
``facts``    a definition list (``items``: ``[(term, text)]``)
``figure``   an image (``src``: a PNG path or PNG bytes; ``alt``, ``caption``), inlined as a data URI
``table``    a table of records (``table``, see :func:`records_table`) with its CSV (``csv``, ``name``)
``summary``  a dataset's summary table (:func:`descent.report.tables.dataset_table`) with its CSV
``html``     a trusted HTML fragment (Plotly's ``div`` + script)
``explorer`` the w/b slider explorer (``name``, ``data``)
``details``  collapsed pretty JSON (``label``, ``data``)
``claims``   the verdicts of the claims about this step (``ids``), linking to the claims table
``withheld`` fits whose predictions are left out (``items``: ``{method, scaling, status, reason}``)

Every table carries the exact value of each cell in ``data-value`` and is downloadable as CSV from
a ``data:`` link (the page stays one offline file). A block marked ``engineers`` (:func:`for_engineers`)
is shown on the full page only; the class page (:mod:`descent.report.classpage`) leaves it out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from markupsafe import Markup

from descent.report.tables import cell

#: Fields whose cells are left-aligned text.
TEXT_FIELDS: frozenset[str] = frozenset(
    {
        "method",
        "scaling",
        "status",
        "weights",
        "backend",
        "device",
        "dtype",
        "dataset",
        "inputs",
        "agree",
        "package",
        "version",
        "example",
        "quantity",
        "reason",
        "fit",
        "methods",
        "claim",
        "lesson",
        "where",
        "kind",
        "statement",
        "check",
        "expected",
        "measured",
        "verdict",
        "correction",
        "vector",
        "unit_vector",
        "term",
        "extrapolated",
        "what",
        "compute_dtype",
        "minimum",
        "step_status",
        "iterates",
        "value_text",
        "id",
        "estimated",
    }
)


def paragraph(text: str) -> dict[str, Any]:
    return {"kind": "p", "text": text}


def bullets(items: Sequence[str]) -> dict[str, Any]:
    return {"kind": "list", "items": [str(i) for i in items]}


def facts(items: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    return {"kind": "facts", "items": [(str(k), str(v)) for k, v in items]}


def figure(src: str | Path | bytes, alt: str, caption: str = "") -> dict[str, Any]:
    return {"kind": "figure", "src": src, "alt": alt, "caption": caption}


def html(fragment: str) -> dict[str, Any]:
    return {"kind": "html", "html": Markup(fragment)}


def explorer(name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": "explorer", "name": name, "data": dict(data)}


def details(label: str, data: Any) -> dict[str, Any]:
    return {"kind": "details", "label": label, "data": data}


def claim_refs(ids: Sequence[str]) -> dict[str, Any]:
    return {"kind": "claims", "ids": list(ids)}


def for_engineers(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` marked for the full page only: comparisons of every fit, checks beyond what the
    lesson teaches at that step (the class page leaves them out)."""
    return [{**item, "engineers": True} for item in items]


def records_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    table_class: str,
    headers: Mapping[str, str] | None = None,
    row_attrs: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """A table of records for the template: ``{"class", "columns": [{"field", "header", "text"}],
    "rows": [{"attrs", "cells": [{"field", "text", "value", "align_text"}]}]}``; each value through
    :func:`descent.report.tables.cell`; ``row_attrs`` (one mapping per row) become ``data-*``
    attributes of the rows (and ``class`` their class)."""
    headers = headers or {}
    attrs = list(row_attrs) if row_attrs is not None else [{} for _ in rows]
    return {
        "class": table_class,
        "columns": [{"field": c, "header": headers.get(c, c), "text": c in TEXT_FIELDS} for c in columns],
        "rows": [
            {
                "attrs": dict(a),
                "cells": [{"field": c, **cell(c, r.get(c)), "align_text": c in TEXT_FIELDS} for c in columns],
            }
            for r, a in zip(rows, attrs)
        ],
    }


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV (RFC 4180, ``\\n`` line ends) of a header and rows of exact values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def table_csv(t: Mapping[str, Any]) -> str:
    """The CSV of a :func:`records_table`: the headers, then each cell's exact value (``data-value``)."""
    return csv_text([c["field"] for c in t["columns"]], [[c["value"] for c in row["cells"]] for row in t["rows"]])


def table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    name: str,
    headers: Mapping[str, str] | None = None,
    caption: str = "",
    row_attrs: Sequence[Mapping[str, str]] | None = None,
    table_class: str | None = None,
) -> dict[str, Any]:
    """A ``table`` block: :func:`records_table` plus its CSV, downloadable as ``{name}.csv``."""
    t = records_table(rows, columns, table_class or name, headers, row_attrs)
    return {"kind": "table", "table": t, "csv": table_csv(t), "name": name, "caption": caption}


def summary(t: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A ``summary`` block from :func:`descent.report.tables.dataset_table`, with its CSV (the
    reference rows first, labelled in the ``method`` column)."""
    fields = [field for field, _ in t["columns"]]
    rows = [
        [ref["label"] if f == "method" else ref[f]["value"] if f in ref else "" for f in fields]
        for ref in t["references"]
    ]
    rows += [[row["cells"][f]["value"] for f in fields] for row in t["rows"]]
    return {"kind": "summary", "table": t, "csv": csv_text(fields, rows), "name": name}
