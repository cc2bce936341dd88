"""Rule `fit_summary`: gather every fit into one table, with distances to an independent
float64 least-squares reference and to the true parameters; gather the predictions."""

from descent.fitting.summary import summarize_fits
from descent.io import load_dataset, read_json, write_parquet
from descent.jobs import job_logging

with job_logging(snakemake.log[0], "fit_summary") as log:
    datasets = {}
    for parquet, meta in zip(snakemake.input.parquets, snakemake.input.metas):
        data = load_dataset(parquet, meta)
        datasets[data.meta["dataset"]] = data
    records = [read_json(path) for path in snakemake.input.fits]
    summary, predictions = summarize_fits(records, datasets)
    write_parquet(snakemake.output.summary, summary)
    write_parquet(snakemake.output.predictions, predictions)
    log.info("%d fits summarised, %d predictions", len(summary), len(predictions))
