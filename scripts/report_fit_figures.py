"""Rule `report_fit_figures`: one dataset's data with every fitted line, and its loss curves
(for a dataset over the memory budget: an evenly spaced sample of its rows)."""

import pandas as pd

from descent.fitting.accuracy import minimum_from_histories
from descent.fitting.stream import load_sample
from descent.io import load_dataset, read_json
from descent.jobs import job_logging
from descent.plotting import save_figure
from descent.report.figures import data_fit_figure, fitted_space_minimum, loss_curves_figure
from descent.report.results import is_repetition  # repetitions of a fit are not drawn as fits

with job_logging(snakemake.log[0], f"report_fit_figures.{snakemake.wildcards.dataset}") as log:
    dataset = snakemake.wildcards.dataset
    sample = snakemake.params.sample_rows
    if sample is None:
        data = load_dataset(snakemake.input.parquet, snakemake.input.meta)
    else:  # over the memory budget: an evenly spaced sample is drawn, L* comes from the fits
        data = load_sample(snakemake.input.parquet, snakemake.input.meta, sample)
    meta = {**data.meta, "dataset": dataset}
    records = {
        tuple(key): read_json(path)
        for key, path in zip(snakemake.params.fit_keys, snakemake.input.fits)
        if not is_repetition(key[2])
    }
    histories = {
        tuple(key): pd.read_parquet(path)
        for key, path in zip(snakemake.params.history_keys, snakemake.input.histories)
        if not is_repetition(key[2])
    }
    scalings = sorted({key[1] for key in records})
    if sample is None:
        minimum = {s: fitted_space_minimum(data.X, data.y, s, data.features)[2] for s in scalings}
    else:
        minimum = minimum_from_histories(histories)
    save_figure(
        data_fit_figure(data.X, data.y, records, meta, snakemake.params.max_points, histories),
        snakemake.output.fits_png,
        snakemake.output.fits_svg,
        snakemake.params.dpi,
    )
    save_figure(
        loss_curves_figure(histories, minimum, dataset, records),
        snakemake.output.loss_png,
        snakemake.output.loss_svg,
        snakemake.params.dpi,
    )
    log.info("%d fits, %d histories drawn; least-squares MSE per scaling %s", len(records), len(histories), minimum)
