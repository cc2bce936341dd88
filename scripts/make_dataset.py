"""Rule `dataset`: generate one configured dataset to parquet plus its JSON sidecar."""

from descent.datasets import generate
from descent.io import write_json, write_parquet
from descent.jobs import job_logging


with job_logging(snakemake.log[0], f"dataset.{snakemake.wildcards.dataset}") as log:
    dataset = generate(snakemake.params.spec)
    write_parquet(snakemake.output.parquet, dataset.frame)
    write_json(snakemake.output.meta, dataset.metadata(snakemake.wildcards.dataset))
    log.info("wrote %d rows x %d features to %s", dataset.n, len(dataset.features), snakemake.output.parquet)
