"""Rule `dataset`: generate one configured dataset, or validate and stream a `kind: file` table,
to parquet plus its JSON sidecar."""

from descent.config import spec_shape
from descent.datasets import from_file, generate
from descent.io import write_json, write_parquet
from descent.jobs import job_logging
from descent.resources import check_memory

name = snakemake.wildcards.dataset
with job_logging(snakemake.log[0], f"dataset.{name}") as log:
    spec = snakemake.params.spec
    if spec["kind"] == "file":
        # Streamed chunk by chunk (memory independent of the file's rows); refusals name the file.
        meta = from_file(name, spec, snakemake.output.parquet, standardized=snakemake.params.standardized)
        write_json(snakemake.output.meta, meta)
        log.info(
            "wrote %d rows x %d features from %s to %s",
            meta["n"],
            len(meta["features"]),
            spec["path"],
            snakemake.output.parquet,
        )
    else:
        check_memory(*spec_shape(spec), snakemake.resources.get("mem_mb"), f"dataset {name} (datasets.{name}.n)")
        dataset = generate(spec)
        write_parquet(snakemake.output.parquet, dataset.frame)
        write_json(snakemake.output.meta, dataset.metadata(name))
        log.info("wrote %d rows x %d features to %s", dataset.n, len(dataset.features), snakemake.output.parquet)
