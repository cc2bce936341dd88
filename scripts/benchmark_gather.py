"""Rule `matmul_benchmark_gather`: one table, a machine-facts sidecar and the figures."""

import pandas as pd

from descent.config.sections import BenchmarkConfig
from descent.io import read_json, write_json, write_parquet
from descent.jobs import job_logging
from descent.matmul.gather import gather
from descent.matmul.plots import plot_gflops, plot_speedup

with job_logging(snakemake.log[0], "matmul_benchmark_gather") as log:
    frames = [pd.read_parquet(path) for path in snakemake.input.tables]
    facts = [read_json(path) for path in snakemake.input.facts]
    table, sidecar = gather(frames, facts, BenchmarkConfig.from_dict(snakemake.params.section))
    write_parquet(snakemake.output.table, table)
    write_json(snakemake.output.sidecar, sidecar)
    plot_gflops(table, snakemake.output.gflops_png, snakemake.output.gflops_svg)
    plot_speedup(table, snakemake.output.speedup_png, snakemake.output.speedup_svg)
    log.info("%d rows from %s", len(table), ", ".join(sorted(set(table["backend"]))))
