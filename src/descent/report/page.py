"""The self-contained report page: one HTML file, no network, no server.

The page is the Jinja2 template ``templates/index.html.j2`` (package data), rendered with
autoescaping on. It is a table of contents, then parts (``<section class="part" id=…>``), each a
list of linkable sections (``<section class="step" id=…>``) of blocks
(:mod:`descent.report.blocks`), then the provenance. Figures are inlined as ``data:`` URIs
(filter ``data_uri``, from a path or PNG bytes), the stylesheet and the explorer's script are
inlined from ``templates/`` (global ``inline``), plotly.js (when interactive figures are on) is
inlined exactly once in the head, every table is downloadable as CSV from a ``data:`` link, and
every number in a table carries its full-precision value in a ``data-value`` attribute (the text
shows it rounded). Rows of the summary tables carry ``data-dataset``, ``data-scaling`` and
``data-method``; cells carry ``data-field``. Only three things reach the page unescaped, each
marked safe here: plotly.js, the Plotly figure fragments (``plotly.io.to_html``) and the inlined
stylesheet and script.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from functools import cache, lru_cache
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from descent.report.blocks import TEXT_FIELDS, records_table, table_csv
from descent.report.checkbase import VERDICTS
from descent.report.formatting import format_number
from descent.report.sections import Part, Section
from descent.report.words import Words

#: The two pages' file names, side by side in ``results/report/`` (each links to the other).
FULL_PAGE, CLASS_PAGE = "index.html", "lessons.html"

#: The page template inside ``descent/report/templates``.
TEMPLATE = "index.html.j2"

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}


def data_uri(source: str | os.PathLike[str] | bytes, mime: str | None = None) -> str:
    """A file (path) or PNG bytes as a base64 ``data:`` URI (MIME type from the extension)."""
    if isinstance(source, (bytes, bytearray)):
        payload, mime = bytes(source), mime or "image/png"
    else:
        mime = mime or _MIME.get(os.path.splitext(str(source))[1].lower(), "application/octet-stream")
        with open(source, "rb") as handle:
            payload = handle.read()
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


@cache
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


def verdict_class(verdict: str) -> str:
    """CSS class of a verdict: ``verdict-holds``, ``verdict-does-not-hold``, …"""
    return "verdict-" + verdict.replace(" ", "-")


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
    env.filters["verdict_class"] = verdict_class
    # ``tojson`` (embedding the explorer's data in a script) escapes <, >, & and '; no NaN/inf.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "allow_nan": False, "separators": (",", ":")}
    env.globals["inline"] = inline
    env.globals["TEXT_FIELDS"] = TEXT_FIELDS
    env.globals["VERDICTS"] = VERDICTS
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
        "run time (UTC)": prov["time"]["utc"],
        "run time (local)": prov["time"]["local"],
        "git commit": git.get("commit") or f"unknown ({git.get('error')})",
        "git branch": git.get("branch") or "–",
        "working tree": tree,
        "reproduce": prov["command"],
        "host": machine["host"].get("hostname"),
        "os": machine["host"].get("os"),
        "CPU": machine["cpu"].get("model"),
        "usable CPUs": machine["cpu"].get("usable_cpus"),
        "CUDA": cuda.get("gpu_name") if cuda.get("cuda_available") else f"not available: {cuda.get('reason')}",
        "fit devices": ", ".join(prov["fit_devices"]) or "–",
    }


def provenance_part(prov: Mapping[str, Any]) -> Part:
    """The provenance as the page's last part (one section, ``#provenance-run``)."""
    versions = records_table(
        [{"package": k, "version": v} for k, v in prov["versions"].items()], ["package", "version"], "versions"
    )
    blocks: list[dict[str, Any]] = [
        {"kind": "facts", "items": [(k, fact_text(v)) for k, v in provenance_facts(prov).items()]},
        {"kind": "table", "table": versions, "csv": table_csv(versions), "name": "versions", "caption": ""},
    ]
    if prov.get("benchmark_machine"):
        blocks.append(
            {"kind": "details", "label": "machine facts recorded by the benchmark", "data": prov["benchmark_machine"]}
        )
    blocks += [
        {"kind": "details", "label": "resolved configuration", "data": prov["config"]},
        {"kind": "details", "label": "device facts of the report job", "data": prov["machine"]},
    ]
    return Part(
        "provenance",
        "Provenance",
        "How this page was made, and how to make it again.",
        [Section("provenance-run", "The run", blocks)],
    )


def render_page(ctx: Mapping[str, Any]) -> str:
    """The whole page from a context built by :func:`descent.report.context.page_context`.

    ``ctx`` keys: ``title``, ``provenance`` (:func:`descent.report.provenance.provenance`),
    ``best_rtol``, ``parts`` (:func:`descent.report.outline.build_parts`), ``claims`` (the
    evaluated claims) and ``plotly_js`` (``None`` when not interactive).
    """
    prov = ctx["provenance"]
    words = Words(ctx.get("templates"))
    full_page = {"lessons": CLASS_PAGE, "class_link": words.text("class-page", "class_link", {})}
    return _render(ctx, [*ctx["parts"], provenance_part(prov)], full_page=full_page, claims_page="")


def render_class_page(ctx: Mapping[str, Any]) -> str:
    """The class page (``lessons.html``) from :func:`descent.report.context.class_context`: its
    parts, no provenance part (the full page has it, linked from the header), claims' badges
    linking to the full page's claims table; the header says how many words the page has
    (counted on a first rendering: :func:`visible_words`)."""
    words = Words(ctx.get("templates"))
    facts = {"title": ctx["title"]}
    page = {
        "full": FULL_PAGE,
        "full_link": words.text("class-page", "full_link", facts),
        "footer": words.text("class-page", "footer", facts),
    }
    # The header counts itself: the draft has the same header with a count of 0.
    draft_header = words.text("class-page", "header", {**facts, "words": 0})
    draft = _render(ctx, ctx["parts"], class_page={**page, "header": draft_header}, claims_page=FULL_PAGE)
    header = words.text("class-page", "header", {**facts, "words": visible_words(draft)})
    return _render(ctx, ctx["parts"], class_page={**page, "header": header}, claims_page=FULL_PAGE)


def _render(ctx: Mapping[str, Any], parts: list[Part], **extra: Any) -> str:
    prov = ctx["provenance"]
    present = {s.id for p in parts for s in p.sections} | {p.id for p in parts}
    plotly_js = ctx.get("plotly_js")
    settings = {"full_page": None, "class_page": None, **extra}
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            title=ctx["title"],
            provenance=prov,
            best_rtol=ctx["best_rtol"],
            parts=parts,
            claims={c["id"]: c for c in ctx.get("claims", [])},
            present=present,
            plotly_js=Markup(plotly_js) if plotly_js else None,
            commit=_commit(prov["git"]),
            **settings,
        )
    )


class _VisibleText(HTMLParser):
    """The text a reader sees: everything outside ``<script>`` and ``<style>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden, self.words = 0, 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.words += len(data.split())


def visible_words(page: str) -> int:
    """The words of a rendered page a reader sees (text outside scripts and styles, tables and
    collapsed answers included), split on whitespace."""
    parser = _VisibleText()
    parser.feed(page)
    return parser.words
