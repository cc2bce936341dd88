"""Rule `report_surface_figure`: the loss surface over (w, b) with the descent paths, raw and
standardized side by side, as contour and 3D."""

import pandas as pd

from descent.io import load_dataset
from descent.jobs import job_logging
from descent.plotting import save_figure
from descent.report.figures import fitted_space_minimum, surface_figure
from descent.report.results import is_repetition  # repetitions of a fit are not drawn as fits

with job_logging(snakemake.log[0], f"report_surface_figure.{snakemake.wildcards.dataset}") as log:
    dataset = snakemake.wildcards.dataset
    data = load_dataset(snakemake.input.parquet, snakemake.input.meta)
    surfaces = {
        scaling: pd.read_parquet(path) for scaling, path in zip(snakemake.params.scalings, snakemake.input.surfaces)
    }
    histories = {
        tuple(key): pd.read_parquet(path)
        for key, path in zip(snakemake.params.history_keys, snakemake.input.histories)
        if not is_repetition(key[2])
    }
    minima = {}
    for scaling in surfaces:
        w, b, _ = fitted_space_minimum(data.X, data.y, scaling, data.features)
        minima[scaling] = (float(w[0]), b)
    save_figure(
        surface_figure(surfaces, histories, minima, dataset),
        snakemake.output.png,
        snakemake.output.svg,
        snakemake.params.dpi,
    )
    log.info("surfaces %s, %d paths, least-squares points %s", sorted(surfaces), len(histories), minima)
