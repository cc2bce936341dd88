"""The self-contained report page: one HTML file, no network, no server.

The page is the Jinja2 template ``templates/index.html.j2`` (package data), rendered with
autoescaping on. Figures are inlined as ``data:`` URIs (filter ``data_uri``), the stylesheet and
the explorer's script are inlined from ``templates/`` (global ``inline``), plotly.js (when
interactive figures are on) is inlined exactly once in the head, and every number in a table
carries its full-precision value in a ``data-value`` attribute (the text shows it rounded), so
tests and readers' scripts can parse the page instead of trusting the rounding. Rows of the
summary tables carry ``data-dataset``, ``data-scaling`` and ``data-method``; cells carry
``data-field``. Only three things reach the page unescaped, each marked safe here: plotly.js, the
Plotly figure fragments (``plotly.io.to_html``) and the inlined stylesheet and script.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from descent.report.formatting import format_number
from descent.report.tables import cell

#: The page template inside ``descent/report/templates``.
TEMPLATE = "index.html.j2"

#: Fields whose cells are left-aligned text.
TEXT_FIELDS: frozenset[str] = frozenset(
    {"method", "scaling", "status", "weights", "backend", "device", "dtype", "dataset", "inputs", "agree",
     "package", "version", "example", "quantity", "reason"}
)

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}


def data_uri(path: str | os.PathLike[str], mime: str | None = None) -> str:
    """The file at ``path`` as a base64 ``data:`` URI (MIME type from the extension by default)."""
    mime = mime or _MIME.get(os.path.splitext(str(path))[1].lower(), "application/octet-stream")
    with open(path, "rb") as handle:
        return f"data:{mime};base64," + base64.b64encode(handle.read()).decode("ascii")


@lru_cache(maxsize=None)
def inline(name: str) -> Markup:
    """A file of ``templates/`` (the stylesheet, the explorer's script) as trusted markup, read
    verbatim — not parsed as a template."""
    return Markup(resources.files("descent.report").joinpath("templates", name).read_text(encoding="utf-8"))


def fact_text(value: Any) -> str:
    """A fact for a definition list: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def pretty_json(data: Any) -> str:
    """Pretty-printed JSON for a collapsed ``<details>`` block (escaped by the template)."""
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def records_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], table_class: str,
                  headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A generic table of records for the template's ``records_table`` macro: ``{"class",
    "columns": [{"field", "header", "text"}], "rows": [[{"field", "text", "value", "align_text"}]]}``;
    each value through :func:`descent.report.tables.cell`."""
    headers = headers or {}
    return {
        "class": table_class,
        "columns": [{"field": c, "header": headers.get(c, c), "text": c in TEXT_FIELDS} for c in columns],
        "rows": [[{"field": c, **cell(c, r.get(c)), "align_text": c in TEXT_FIELDS} for c in columns] for r in rows],
    }


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment: templates from the package, autoescape on, undefined names fail."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("descent.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = format_number
    env.filters["data_uri"] = data_uri
    env.filters["fact"] = fact_text
    env.filters["pretty_json"] = pretty_json
    # ``tojson`` (embedding the explorer's data in a script) escapes <, >, & and '; no NaN/inf.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "allow_nan": False, "separators": (",", ":")}
    env.globals["inline"] = inline
    env.globals["TEXT_FIELDS"] = TEXT_FIELDS
    return env


def _commit(git: Mapping[str, Any]) -> str:
    if git.get("commit"):
        return str(git["commit"])[:12] + (" (dirty)" if git.get("dirty") else "")
    return f"unknown ({git.get('error')})"


def provenance_facts(prov: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance section's definition list, from :func:`descent.report.provenance.provenance`."""
    git, machine = prov["git"], prov["machine"]
    cuda = machine.get("cuda", {})
    if git.get("dirty"):
        tree = f"dirty: {git['changed_files']} changed file(s)"
    else:
        tree = "clean" if git.get("dirty") is False else "–"
    return {
        "run time (UTC)": prov["time"]["utc"], "run time (local)": prov["time"]["local"],
        "git commit": git.get("commit") or f"unknown ({git.get('error')})",
        "git branch": git.get("branch") or "–",
        "working tree": tree,
        "reproduce": prov["command"],
        "host": machine["host"].get("hostname"), "os": machine["host"].get("os"),
        "CPU": machine["cpu"].get("model"),
        "usable CPUs": machine["cpu"].get("usable_cpus"),
        "CUDA": cuda.get("gpu_name") if cuda.get("cuda_available") else f"not available: {cuda.get('reason')}",
        "fit devices": ", ".join(prov["fit_devices"]) or "–",
    }


def render_page(ctx: Mapping[str, Any]) -> str:
    """The whole page from a context built by :func:`descent.report.context.page_context`.

    ``ctx`` keys: ``title``, ``provenance`` (:func:`descent.report.provenance.provenance`),
    ``best_rtol``, ``datasets`` (list of ``{name, meta, table, findings, figures: {name: png
    path}, surface_3d, explorer}``), ``gradient`` (``{rows, figure}``), ``predictions`` (``{rows,
    withheld, figure}``), ``benchmark`` (``None`` or ``{rows, columns, findings, figures,
    sidecar}``), ``lessons`` (``None`` or ``{findings, figures, summaries, vectors_rows}``) and
    ``plotly_js`` (``None`` when not interactive).
    """
    sections = [("summary", "Summary"), ("figures", "Fits in figures"), ("checks", "Gradient check and predictions")]
    if ctx.get("benchmark"):
        sections.append(("benchmark", "Matmul benchmark"))
    if ctx.get("lessons"):
        sections.append(("lessons", "Lesson 0"))
    sections.append(("provenance", "Provenance"))
    prov = ctx["provenance"]
    benchmark = ctx.get("benchmark")
    lessons = ctx.get("lessons")
    tables = {
        "gradient": records_table(ctx["gradient"]["rows"],
                                  ["dataset", "dtype", "loss", "max_abs_diff", "max_rel_diff", "eps", "agree"],
                                  "gradient-check"),
        "predictions": records_table(ctx["predictions"]["rows"],
                                     ["dataset", "scaling", "method", "inputs", "prediction", "true_value", "error"],
                                     "predictions", {"error": "prediction − true"}),
        "versions": records_table([{"package": k, "version": v} for k, v in prov["versions"].items()],
                                  ["package", "version"], "versions"),
    }
    if benchmark:
        tables["benchmark"] = records_table(
            benchmark["rows"], benchmark["columns"], "benchmark",
            {"seconds_median": "median s", "fraction_of_peak": "fraction of peak", "peak_gflops": "peak GFLOP/s",
             "max_abs_error": "max |error|"})
    if lessons and lessons.get("vectors_rows"):
        tables["vectors"] = records_table(lessons["vectors_rows"], list(lessons["vectors_rows"][0]), "vectors")
    plotly_js = ctx.get("plotly_js")
    return environment().get_template(TEMPLATE).render(
        **{**ctx, "plotly_js": Markup(plotly_js) if plotly_js else None},
        sections=sections,
        commit=_commit(prov["git"]),
        facts=provenance_facts(prov),
        tables=tables,
        surfaces_3d={ds["name"]: Markup(ds["surface_3d"]) for ds in ctx["datasets"] if ds.get("surface_3d")},
        lesson_titles={"binomial": "Random guessing is binomial", "vectors": "Vectors and the linear model",
                       "descent_x2": "Gradient descent on y = x²", "minima": "Local and global minima"},
    )
