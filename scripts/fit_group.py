"""Rules `fit_{dataset}_{scaling}` (fits.jobs: per_dataset_scaling): every fit of one dataset in
one scaling, one after another in one job: the per-fit records and histories of `fit.py`, one log."""

from descent.fitting.iterative import empty_history
from descent.fitting.records import fit_group_files
from descent.io import write_json, write_parquet
from descent.jobs import job_logging

fits = snakemake.params.fits
name = "fit.{dataset}.{scaling}".format(**fits[0]["job"])
with job_logging(snakemake.log[0], name) as log:
    log.info("%d fits, one after another, on %d thread(s)", len(fits), snakemake.threads)
    # results/fits/{dataset}/{scaling}/{method}.json and .history.parquet, by method
    outputs = {path.rsplit("/", 1)[1].removesuffix(".json"): path for path in snakemake.output.json}
    histories = {path.rsplit("/", 1)[1].removesuffix(".history.parquet"): path for path in snakemake.output.history}
    results = fit_group_files(
        snakemake.input.parquet,
        snakemake.input.meta,
        fits,
        snakemake.params.predict,
        snakemake.resources.get("mem_mb"),
        snakemake.threads,
        accuracy_targets=snakemake.params.accuracy_targets,
        stream=snakemake.params.stream,
    )
    for fit, record, history in results:
        record["threads"] = snakemake.threads
        record["job_fits"] = len(fits)
        if fit["iterative"]:  # a skipped fit leaves an empty history with the columns
            write_parquet(
                histories[record["method"]], history if history is not None else empty_history(record["features"])
            )
        write_json(outputs[record["method"]], record)
        log.info(
            "%s: status=%s w=%s b=%s mse=%s iterations=%d in %.3fs%s",
            record["method"],
            record["status"],
            record["weights"],
            record["bias"],
            record["mse"],
            record["iterations"],
            record["seconds"],
            f" ({record['status_reason']})" if record.get("status_reason") else "",
        )
