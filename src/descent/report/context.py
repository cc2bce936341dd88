"""Everything the page shows, read from the workflow's result files into one context dict.

:func:`page_context` takes the ``report_html`` rule's named inputs and params (``snakemake.input``
and ``snakemake.params``: attribute and item access) and returns the context that
:func:`descent.report.page.render_page` renders. Inputs (``rules/report.smk``): ``summary``,
``predictions``, ``fits`` (fit JSONs, keyed by ``params.fit_keys``), ``histories`` (keyed by
``params.history_keys``), ``checks``, ``metas``, ``single_parquets``, ``surfaces``, the figures,
and the benchmark's and lessons' results when those sections are on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from descent.io import read_json
from descent.report.findings import benchmark_findings, dataset_findings, lessons_findings
from descent.report.provenance import provenance
from descent.report.tables import (
    BENCHMARK_COLUMNS,
    dataset_table,
    gradient_check_rows,
    mark_fits,
    prediction_rows,
)

FitKey = tuple[str, str, str]

#: Lesson experiments the page shows, and those with a figure.
LESSON_KEYS: tuple[str, ...] = ("binomial", "vectors", "descent_x2", "minima")
LESSON_FIGURES: tuple[str, ...] = ("binomial", "descent_x2", "minima")


def _explorer(name: str, inp: Any, section: Mapping[str, Any], surfaces: Mapping[str, pd.DataFrame],
              records: Mapping[FitKey, dict[str, Any]]) -> dict[str, Any]:
    """The slider explorer's payload for a single-feature dataset (raw units; starts where the
    first raw iterative fit started, else at the least-squares point)."""
    from descent.io import load_dataset
    from descent.report.figures import fitted_space_minimum
    from descent.report.interactive import explorer_payload

    parquet = next(p for p in inp.single_parquets if Path(p).stem == name)
    data = load_dataset(parquet, next(p for p in inp.metas if Path(p).stem == name))
    w_star, b_star, _ = fitted_space_minimum(data.X, data.y, "raw", data.features)
    starts = [r["init"] for k, r in sorted(records.items()) if k[0] == name and k[1] == "raw" and r.get("init")]
    start = (starts[0]["weights"][0], starts[0]["bias"]) if starts else (float(w_star[0]), b_star)
    return explorer_payload(data.X[:, 0], data.y, surfaces["raw"], start, (float(w_star[0]), b_star),
                            (data.features[0], data.target), int(section["slider_steps"]), int(section["max_points"]))


def dataset_sections(inp: Any, par: Any, marked: pd.DataFrame, records: Mapping[FitKey, dict[str, Any]],
                     histories: Mapping[FitKey, pd.DataFrame], metas: Mapping[str, dict[str, Any]]
                     ) -> list[dict[str, Any]]:
    """One entry per dataset: ``name``, ``meta``, ``table``, ``findings``, ``figures`` (PNG paths),
    and for single-feature datasets with interactive figures on, ``surface_3d`` (a Plotly
    fragment) and ``explorer`` (the slider payload)."""
    section = dict(par.section)
    figures_dir = Path(inp.gradient_figure).parent
    interactive = bool(section["interactive"])
    out = []
    for name in par.datasets:
        figures = {"fits": figures_dir / f"{name}_fits.png", "loss": figures_dir / f"{name}_loss.png"}
        entry: dict[str, Any] = {"name": name, "meta": metas[name], "table": dataset_table(marked, name),
                                 "findings": dataset_findings(marked, name, records, histories), "figures": figures}
        if name in par.single_feature:
            figures["surface"] = figures_dir / f"{name}_surface.png"
            if interactive:
                from descent.report.interactive import surface_3d_html

                surfaces = {Path(p).parts[-2]: pd.read_parquet(p) for p in inp.surfaces if Path(p).parts[-3] == name}
                entry["surface_3d"] = surface_3d_html(surfaces, histories, name, int(section["max_path_points"]))
                if "raw" in surfaces:
                    entry["explorer"] = _explorer(name, inp, section, surfaces, records)
        out.append(entry)
    return out


def benchmark_section(inp: Any) -> dict[str, Any]:
    """The matmul benchmark's ``rows``, ``columns``, ``findings``, ``sidecar`` and ``figures``."""
    table = pd.read_parquet(inp.benchmark_table)
    sidecar = read_json(inp.benchmark_sidecar)
    return {"rows": table.to_dict("records"), "columns": [c for c in BENCHMARK_COLUMNS if c in table.columns],
            "findings": benchmark_findings(table, sidecar), "sidecar": sidecar,
            "figures": [(inp.benchmark_gflops, "matmul GFLOP/s"), (inp.benchmark_speedup, "matmul speed-up")]}


def lessons_section(inp: Any) -> dict[str, Any]:
    """Lesson 0's ``summaries`` (the JSONs), ``findings``, ``figures`` and ``vectors_rows``."""
    summaries = {key: read_json(inp[f"lessons_{key}"]) for key in LESSON_KEYS}
    vectors = pd.read_parquet(inp.lessons_vectors_table)
    return {"summaries": summaries, "findings": lessons_findings(summaries),
            "figures": {key: inp[f"lessons_{key}_png"] for key in LESSON_FIGURES},
            "vectors_rows": vectors.to_dict("records")}


def page_context(inp: Any, par: Any) -> dict[str, Any]:
    """The context of :func:`descent.report.page.render_page` (its ``provenance`` is also what
    ``results/report/provenance.json`` holds)."""
    section = dict(par.section)
    summary = pd.read_parquet(inp.summary)
    records = {tuple(key): read_json(path) for key, path in zip(par.fit_keys, inp.fits)}
    metas = {Path(path).stem: read_json(path) for path in inp.metas}
    marked = mark_fits(summary, float(section["best_rtol"]), records,
                       {name: str(meta.get("dtype")) for name, meta in metas.items() if meta.get("dtype")})
    histories = {tuple(key): pd.read_parquet(path) for key, path in zip(par.history_keys, inp.histories)}
    datasets = dataset_sections(inp, par, marked, records, histories, metas)

    checks = {Path(path).stem: read_json(path) for path in inp.checks}
    shown, withheld = prediction_rows(pd.read_parquet(inp.predictions), marked)
    benchmark = benchmark_section(inp) if section["benchmark"] else None
    lessons = lessons_section(inp) if section["lessons"] else None
    prov = provenance(dict(par.config), par.basedir, par.command,
                      benchmark_machine=benchmark["sidecar"].get("machine") if benchmark else None,
                      fit_devices=list(summary["device"]))
    plotly_js = None
    if section["interactive"]:
        import plotly.offline

        plotly_js = plotly.offline.get_plotlyjs()
    return {"title": section["title"], "provenance": prov, "best_rtol": section["best_rtol"], "datasets": datasets,
            "gradient": {"rows": gradient_check_rows(checks), "figure": inp.gradient_figure},
            "predictions": {"rows": shown, "withheld": withheld, "figure": inp.predictions_figure},
            "benchmark": benchmark, "lessons": lessons, "plotly_js": plotly_js}
