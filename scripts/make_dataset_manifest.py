"""Rule `dataset_manifest`: the sidecar of a sharded dataset, listing its shards in order with
their rows, checksums and moments (descent.datasets.shards.manifest)."""

from descent.datasets.shards import manifest
from descent.io import read_json, write_json
from descent.jobs import job_logging

name = snakemake.wildcards.dataset
with job_logging(snakemake.log[0], f"dataset.{name}.manifest") as log:
    shards = [read_json(path) for path in snakemake.input.metas]
    meta = manifest(name, snakemake.params.spec, shards, list(snakemake.input.parquets))
    write_json(snakemake.output.meta, meta)
    log.info("dataset %s: %d rows in %d shards", name, meta["n"], len(meta["shards"]))
