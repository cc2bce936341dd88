"""Rule `report_convergence_figure`: one dataset's relative gap against iterations and seconds
(raw and standardized; observed solid, predicted dashed, closed forms as markers, repeated fits
as median with a min–max band)."""

import pandas as pd

from descent.io import read_json
from descent.jobs import job_logging
from descent.plotting import save_figure
from descent.report.convergence import convergence_figure

with job_logging(snakemake.log[0], f"report_convergence_figure.{snakemake.wildcards.dataset}") as log:
    dataset = snakemake.wildcards.dataset
    records = {tuple(key): read_json(path) for key, path in zip(snakemake.params.fit_keys, snakemake.input.fits)}
    histories = {
        tuple(key): pd.read_parquet(path) for key, path in zip(snakemake.params.history_keys, snakemake.input.histories)
    }
    accuracy = pd.read_parquet(snakemake.input.time_to_accuracy)
    scalings = [s for s in snakemake.params.scalings if any(key[1] == s for key in records)]
    save_figure(
        convergence_figure(dataset, records, histories, accuracy, scalings),
        snakemake.output.png,
        snakemake.output.svg,
        snakemake.params.dpi,
    )
    log.info("%d fits, %d histories drawn", len(records), len(histories))
