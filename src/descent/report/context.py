"""Everything the page shows, read from the workflow's result files into one context dict.

:func:`page_context` takes the ``report_html`` rule's named inputs and params (``snakemake.input``
and ``snakemake.params``: attribute and item access) and returns the context that
:func:`descent.report.page.render_page` renders: the parts and sections of the page
(:func:`descent.report.outline.build_parts`), the evaluated claims, the provenance and plotly.js.
Inputs (``rules/report.smk``): ``summary``, ``predictions``, ``fits`` (fit JSONs, keyed by
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
from descent.report.outline import build_parts
from descent.report.provenance import provenance
from descent.report.results import Results, from_snakemake


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
