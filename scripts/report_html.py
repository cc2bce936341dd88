"""Rule `report_html`: gather every result into results/report/index.html (self-contained) and
results/report/provenance.json."""

from pathlib import Path

import pandas as pd

from descent.io import atomic_path, read_json, write_json
from descent.jobs import job_logging
from descent.report import provenance
from descent.report_html import page
from descent.report_tables import (
    BENCHMARK_COLUMNS,
    benchmark_findings,
    dataset_findings,
    dataset_table,
    gradient_check_rows,
    lessons_findings,
    mark_fits,
)

with job_logging(snakemake.log[0], "report_html") as log:
    inp, par = snakemake.input, snakemake.params
    section = dict(par.section)
    summary = pd.read_parquet(inp.summary)
    records = {tuple(key): read_json(path) for key, path in zip(par.fit_keys, inp.fits)}
    marked = mark_fits(summary, float(section["best_rtol"]), records)
    histories = {tuple(key): pd.read_parquet(path) for key, path in zip(par.history_keys, inp.histories)}
    metas = {Path(path).stem: read_json(path) for path in inp.metas}
    figures_dir = Path(inp.gradient_figure).parent

    interactive = bool(section["interactive"])
    datasets = []
    for name in par.datasets:
        figures = {"fits": figures_dir / f"{name}_fits.png", "loss": figures_dir / f"{name}_loss.png"}
        entry = {"name": name, "meta": metas[name], "table": dataset_table(marked, name),
                 "findings": dataset_findings(marked, name, records, histories), "figures": figures}
        if name in par.single_feature:
            figures["surface"] = figures_dir / f"{name}_surface.png"
            if interactive:
                from descent.io import load_dataset
                from descent.report_figures import fitted_space_minimum
                from descent.report_interactive import explorer_html, explorer_payload, surface_3d_html

                surfaces = {Path(p).parts[-2]: pd.read_parquet(p) for p in inp.surfaces if Path(p).parts[-3] == name}
                entry["surface_3d"] = surface_3d_html(surfaces, histories, name, int(section["max_path_points"]))
                if "raw" in surfaces:
                    parquet = next(p for p in inp.single_parquets if Path(p).stem == name)
                    data = load_dataset(parquet, next(p for p in inp.metas if Path(p).stem == name))
                    w_star, b_star, _ = fitted_space_minimum(data.X, data.y, "raw", data.features)
                    starts = [r["init"] for k, r in sorted(records.items())
                              if k[0] == name and k[1] == "raw" and r.get("init")]
                    start = (starts[0]["weights"][0], starts[0]["bias"]) if starts else (float(w_star[0]), b_star)
                    payload = explorer_payload(data.X[:, 0], data.y, surfaces["raw"], start, (float(w_star[0]), b_star),
                                               (data.features[0], data.target), int(section["slider_steps"]),
                                               int(section["max_points"]))
                    entry["explorer"] = explorer_html(name, payload)
        datasets.append(entry)

    checks = {Path(path).stem: read_json(path) for path in inp.checks}
    predictions = pd.read_parquet(inp.predictions)
    prediction_rows = [{**r, "inputs": list(r["inputs"]), "error": r["prediction"] - r["true_value"]}
                       for r in predictions.to_dict("records")]

    benchmark = None
    if section["benchmark"]:
        table = pd.read_parquet(inp.benchmark_table)
        sidecar = read_json(inp.benchmark_sidecar)
        benchmark = {"rows": table.to_dict("records"), "columns": [c for c in BENCHMARK_COLUMNS if c in table.columns],
                     "findings": benchmark_findings(table, sidecar), "sidecar": sidecar,
                     "figures": [(inp.benchmark_gflops, "matmul GFLOP/s"), (inp.benchmark_speedup, "matmul speed-up")]}

    lessons = None
    if section["lessons"]:
        summaries = {key: read_json(inp[f"lessons_{key}"]) for key in ("binomial", "vectors", "descent_x2", "minima")}
        vectors = pd.read_parquet(inp.lessons_vectors_table)
        lessons = {"summaries": summaries, "findings": lessons_findings(summaries),
                   "figures": {key: inp[f"lessons_{key}_png"] for key in ("binomial", "descent_x2", "minima")},
                   "vectors_rows": vectors.to_dict("records")}

    prov = provenance(dict(par.config), par.basedir, par.command,
                      benchmark_machine=benchmark["sidecar"].get("machine") if benchmark else None,
                      fit_devices=list(summary["device"]))
    plotly_js = None
    if interactive:
        import plotly.offline

        from descent.report_interactive import EXPLORER_JS

        plotly_js = plotly.offline.get_plotlyjs()
    ctx = {"title": section["title"], "provenance": prov, "best_rtol": section["best_rtol"], "datasets": datasets,
           "gradient": {"rows": gradient_check_rows(checks), "figure": inp.gradient_figure},
           "predictions": {"rows": prediction_rows, "figure": inp.predictions_figure},
           "benchmark": benchmark, "lessons": lessons, "plotly_js": plotly_js,
           "explorer_js": EXPLORER_JS if interactive else None}
    text = page(ctx)
    with atomic_path(snakemake.output.html) as tmp:
        tmp.write_text(text, encoding="utf-8")
    write_json(snakemake.output.provenance, prov)
    log.info("wrote %s (%.1f MB), %d datasets, interactive=%s", snakemake.output.html, len(text) / 2**20,
             len(datasets), interactive)
