"""Rule `export_diabetes`: scikit-learn's diabetes table (shipped with the pinned scikit-learn, no
download) to CSV, declared in config.yaml as the `kind: file` dataset `diabetes`."""

from descent.datasets import export_diabetes
from descent.jobs import job_logging

with job_logging(snakemake.log[0], "export_diabetes") as log:
    rows = export_diabetes(snakemake.output.csv)
    log.info("wrote %d rows to %s", rows, snakemake.output.csv)
