"""Rule `dataset`: generate one configured dataset, or validate and stream a `kind: file` table,
to parquet plus its JSON sidecar. Both stream: generated rows are drawn chunk by chunk into row
groups (descent.datasets.write_generated), a file is read chunk by chunk; neither holds the data."""

from descent.datafile import ROW_GROUP_BYTES
from descent.datasets import from_file, write_generated
from descent.dataspec import spec_shape
from descent.io import write_json
from descent.jobs import job_logging
from descent.resources import check_need, describe, generate_mem_mb

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
        shape = spec_shape(spec)
        check_need(
            generate_mem_mb(*shape, ROW_GROUP_BYTES),
            snakemake.resources.get("mem_mb"),
            f"dataset {name} (datasets.{name}: {describe(*shape)}, generated in row groups)",
        )
        meta = write_generated(spec, snakemake.output.parquet, name)
        write_json(snakemake.output.meta, meta)
        log.info("wrote %d rows x %d features to %s", meta["n"], len(meta["features"]), snakemake.output.parquet)
