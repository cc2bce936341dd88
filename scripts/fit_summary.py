"""Rule `fit_summary`: gather every fit into one table, with distances to an independent
float64 least-squares reference and to the true parameters; gather the predictions; the
conditioning of every dataset × scaling and every fit's time to each accuracy target."""

import pandas as pd

from descent.fitting.accuracy import conditioning_frame, fitted_conditioning, repetition_summary, time_to_accuracy
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
    conditionings = {
        (name, scaling): fitted_conditioning(data.X, data.y, scaling, list(data.meta["features"]))
        for name, data in datasets.items()
        for scaling in snakemake.params.scalings
    }
    write_parquet(snakemake.output.conditioning, conditioning_frame((*key, c) for key, c in conditionings.items()))
    histories = {
        tuple(key): pd.read_parquet(path) for key, path in zip(snakemake.params.history_keys, snakemake.input.histories)
    }
    accuracy = time_to_accuracy(records, histories, conditionings, snakemake.params.accuracy_targets)
    write_parquet(snakemake.output.time_to_accuracy, accuracy)
    write_parquet(snakemake.output.repetitions, repetition_summary(accuracy))
    log.info("%d fits summarised, %d predictions", len(summary), len(predictions))
