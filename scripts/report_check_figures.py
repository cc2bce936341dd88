"""Rule `report_check_figures`: the gradient check (hand vs autograd) and the predictions figures."""

import pandas as pd

from descent.io import read_json
from descent.jobs import job_logging
from descent.plotting import save_figure
from descent.report.figures import gradient_check_figure, predictions_figure
from descent.report.tables import gradient_check_rows

with job_logging(snakemake.log[0], "report_check_figures") as log:
    checks = {name: read_json(path) for name, path in zip(snakemake.params.datasets, snakemake.input.checks)}
    rows = gradient_check_rows(checks)
    save_figure(
        gradient_check_figure(rows), snakemake.output.gradient_png, snakemake.output.gradient_svg, snakemake.params.dpi
    )
    predictions = pd.read_parquet(snakemake.input.predictions)
    save_figure(
        predictions_figure(predictions),
        snakemake.output.predictions_png,
        snakemake.output.predictions_svg,
        snakemake.params.dpi,
    )
    log.info("%d gradient-check rows, %d predictions", len(rows), len(predictions))
