"""Rules `fit_iterative` / `fit_closed_form`: fit one dataset with one method in one scaling."""

from descent.fitting.iterative import empty_history
from descent.fitting.records import fit_files
from descent.io import write_json, write_parquet
from descent.jobs import job_logging

job = dict(snakemake.wildcards.items())
with job_logging(snakemake.log[0], "fit.{dataset}.{scaling}.{method}".format(**job)) as log:
    record, history = fit_files(
        snakemake.input.parquet,
        snakemake.input.meta,
        job,
        snakemake.params.settings,
        snakemake.params.init,
        snakemake.params.predict,
        snakemake.resources.get("mem_mb"),
        snakemake.threads,
        accuracy_targets=snakemake.params.get("accuracy_targets", []),
        stream=snakemake.params.stream,
        partials=list(snakemake.input.get("partials", [])),
        mpi=snakemake.resources.get("mpi"),
        cpus_per_task=snakemake.resources.get("cpus_per_task"),
    )
    record["threads"] = snakemake.threads
    record["job_fits"] = 1  # a job of its own (fits.jobs: per_fit, or a data-parallel or CUDA fit)
    if "history" in snakemake.output.keys():  # a skipped fit leaves an empty history with the columns
        write_parquet(snakemake.output.history, history if history is not None else empty_history(record["features"]))
    write_json(snakemake.output.json, record)
    log.info(
        "status=%s w=%s b=%s mse=%s iterations=%d in %.3fs%s",
        record["status"],
        record["weights"],
        record["bias"],
        record["mse"],
        record["iterations"],
        record["seconds"],
        f" ({record['status_reason']})" if record.get("status_reason") else "",
    )
