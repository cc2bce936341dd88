"""Rules `matmul_benchmark` / `matmul_benchmark_cuda`: time one backend on every size and dtype."""

from descent.config.sections import BenchmarkConfig
from descent.io import write_json, write_parquet
from descent.jobs import job_logging
from descent.matmul.job import run_matmul_job
from descent.matmul.table import rows_frame

backend = snakemake.params.backend
with job_logging(snakemake.log[0], f"matmul_benchmark.{backend}") as log:
    log.info("backend %s with %d thread(s)", backend, snakemake.threads)
    section = BenchmarkConfig.from_dict(snakemake.params.section)
    rows, facts = run_matmul_job(backend, section, snakemake.threads, log=log)
    write_parquet(snakemake.output.table, rows_frame(rows))
    write_json(snakemake.output.facts, facts)
    for note in facts["notes"]:
        log.info("note: %s", note)
