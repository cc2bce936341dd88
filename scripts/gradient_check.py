"""Rule `gradient_check`: hand-derived vs autograd gradients at the raw manual_gd start point
(on an evenly spaced sample of rows when the dataset exceeds the memory budget)."""

from descent.fitting.gradient_check import gradient_check
from descent.fitting.stream import load_sample
from descent.io import load_dataset, write_json
from descent.jobs import job_logging

with job_logging(snakemake.log[0], f"gradient_check.{snakemake.wildcards.dataset}") as log:
    sample = snakemake.params.sample_rows
    if sample is None:
        data = load_dataset(snakemake.input.parquet, snakemake.input.meta)
    else:
        data = load_sample(snakemake.input.parquet, snakemake.input.meta, sample)
    weights, bias = snakemake.params.init
    result = gradient_check(data.X, data.y, weights, bias)
    result["dataset"] = snakemake.wildcards.dataset
    result["rows"] = len(data.y)
    result["sampled_from"] = data.meta.get("sampled_from")
    write_json(snakemake.output[0], result)
    log.info(
        "%d rows%s; max abs diff %s",
        len(data.y),
        f" (a sample of the {data.meta['sampled_from']})" if sample else "",
        {k: v["max_abs_diff"] for k, v in result.items() if isinstance(v, dict) and "max_abs_diff" in v},
    )
