"""Rule `shard_partials`: the map step of a sharded dataset's closed form: one shard's float64
Gram of [X, 1, y] and R factor in one scaling (descent.fitting.partials)."""

from descent.fitting.partials import dataset_standardization, shard_partials
from descent.fitting.stream import parquet_chunks
from descent.io import read_json, write_json
from descent.jobs import job_logging

job = dict(snakemake.wildcards.items())
with job_logging(snakemake.log[0], "partials.{dataset}.{scaling}.{shard}".format(**job)) as log:
    meta = read_json(snakemake.input.meta)
    features, target = list(meta["features"]), str(meta["target"])
    stats = dataset_standardization(meta) if job["scaling"] == "standardized" else None
    partials = shard_partials(lambda: parquet_chunks(snakemake.input.parquet, features, target), len(features), stats)
    write_json(snakemake.output.partials, partials.as_dict())
    log.info("shard %s: %d rows, Gram and R of %d columns", job["shard"], partials.rows, len(features) + 2)
