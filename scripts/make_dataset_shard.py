"""Rule `dataset_shard`: one shard of a sharded dataset to parquet plus its sidecar (rows,
checksum, column moments): drawn from the shard's own seed, or one file of a `kind: file`
folder validated and copied (descent.datasets.shards.write_shard)."""

from descent.datasets.shards import write_shard
from descent.io import write_json
from descent.jobs import job_logging

name, shard = snakemake.wildcards.dataset, int(snakemake.wildcards.shard)
with job_logging(snakemake.log[0], f"dataset.{name}.shard{shard}") as log:
    meta = write_shard(
        name, snakemake.params.spec, shard, snakemake.output.parquet, standardized=snakemake.params.standardized
    )
    write_json(snakemake.output.meta, meta)
    log.info("wrote shard %d of %d: %d rows to %s", shard, meta["shards"], meta["rows"], snakemake.output.parquet)
