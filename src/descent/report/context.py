"""Everything the page shows, read from the workflow's result files into one context dict.

:func:`page_context` takes the ``report_html`` rule's named inputs and params (``snakemake.input``
and ``snakemake.params``: attribute and item access) and returns the context that
:func:`descent.report.page.render_page` renders: the parts and sections of the page
(:func:`descent.report.outline.build_parts`), the evaluated claims, the provenance and plotly.js.
The context also holds the class page's (key ``class``, :func:`class_context`). Inputs (``rules/report.smk``): ``summary``, ``predictions``, ``fits`` (fit JSONs, keyed by
``params.fit_keys``), ``histories`` (keyed by ``params.history_keys``), ``checks``, ``metas``,
``single_parquets``, ``surfaces``, the figures, and the benchmark's and lessons' results when
those sections are on. Params: ``section`` (the ``report`` config section as a dict, typed here
as :class:`descent.config.sections.ReportConfig`), ``config``, ``claims_digest``
(:func:`descent.report.claims.claims_digest`, so a changed claim reruns the page), ``command``,
``basedir``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descent.config.sections import ReportConfig
from descent.report.claims import evaluate_claims, load_claims
from descent.report.classpage import build_class_parts
from descent.report.outline import build_parts
from descent.report.provenance import provenance
from descent.report.results import Results, from_snakemake
from descent.report.words import Words


def context_from_results(
    results: Results,
    section: ReportConfig | Mapping[str, Any],
    claims: list[dict[str, Any]],
    prov: dict[str, Any],
) -> dict[str, Any]:
    """The page context from loaded results and the ``report`` options (also used by tests and
    scripts)."""
    section = ReportConfig.coerce(section)
    evaluated = evaluate_claims(results, claims)
    parts = build_parts(results, evaluated, section)
    plotly_js = None
    if section.interactive:
        import plotly.offline

        plotly_js = plotly.offline.get_plotlyjs()
    return {
        "title": section.title,
        "provenance": prov,
        "best_rtol": section.best_rtol,
        "parts": parts,
        "claims": evaluated,
        "plotly_js": plotly_js,
        "templates": section.templates,
        # The class page's own context, from the same results and verdicts (class_context).
        "class": class_context(results, section, evaluated, prov, plotly_js),
    }


def class_context(
    results: Results,
    section: ReportConfig | Mapping[str, Any],
    evaluated: list[dict[str, Any]],
    prov: dict[str, Any],
    plotly_js: str | None,
) -> dict[str, Any]:
    """The class page's context (:func:`descent.report.page.render_class_page`): the lessons'
    parts (:func:`descent.report.classpage.build_class_parts`) with the full page's verdicts."""
    section = ReportConfig.coerce(section)
    words = Words(section.templates, page="class")
    return {
        "title": words.text("class-page", "title", {"title": section.title}),
        "provenance": prov,
        "best_rtol": section.best_rtol,
        "parts": build_class_parts(results, evaluated, section, words),
        "claims": evaluated,
        "plotly_js": plotly_js,
        "templates": section.templates,
    }


def page_context(inp: Any, par: Any) -> dict[str, Any]:
    """The context of :func:`descent.report.page.render_page` (its ``provenance`` is also what
    ``results/report/provenance.json`` holds)."""
    section = ReportConfig.from_dict(par.section)
    results = from_snakemake(inp, par)
    claims = load_claims()
    prov = provenance(
        dict(par.config),
        par.basedir,
        par.command,
        benchmark_machine=(results.benchmark_sidecar or {}).get("machine") if results.benchmark_sidecar else None,
        fit_devices=list(results.summary["device"]),
    )
    return context_from_results(results, section, claims, prov)
