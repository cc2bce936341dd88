"""Rule `gradient_check`: hand-derived vs autograd gradients at the raw manual_gd start point."""

from descent.fitting.gradient_check import gradient_check
from descent.io import load_dataset, write_json
from descent.jobs import job_logging

with job_logging(snakemake.log[0], f"gradient_check.{snakemake.wildcards.dataset}") as log:
    data = load_dataset(snakemake.input.parquet, snakemake.input.meta)
    weights, bias = snakemake.params.init
    result = gradient_check(data.X, data.y, weights, bias)
    result["dataset"] = snakemake.wildcards.dataset
    write_json(snakemake.output[0], result)
    log.info(
        "max abs diff %s",
        {k: v["max_abs_diff"] for k, v in result.items() if isinstance(v, dict) and "max_abs_diff" in v},
    )
