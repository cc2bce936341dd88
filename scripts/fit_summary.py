"""Rule `fit_summary`: gather every fit into one table, with distances to an independent
float64 least-squares reference and to the true parameters; gather the predictions; the
conditioning of every dataset × scaling and every fit's time to each accuracy target.

Datasets are taken one at a time and released before the next. One whose in-memory need
(descent.resources.summary_dataset_mb) exceeds the rule's declared mem_mb is streamed from its
parquet chunk by chunk (descent.fitting.summary.parquet_facts) instead of loaded."""

import gc

import pandas as pd

from descent import resources
from descent.fitting.accuracy import conditioning_frame, fitted_conditioning, repetition_summary, time_to_accuracy
from descent.fitting.summary import fits_intercept, parquet_facts, reference, summarize_fits
from descent.io import load_dataset, read_json, write_parquet
from descent.jobs import job_logging

with job_logging(snakemake.log[0], "fit_summary") as log:
    mem_mb = snakemake.resources.get("mem_mb")
    scalings = list(snakemake.params.scalings)
    records = [read_json(path) for path in snakemake.input.fits]
    # Datasets with a fit through the origin (fit_intercept: false) also get that model's reference.
    origin = {record["dataset"] for record in records if not fits_intercept(record)}
    references, conditionings, origin_conditionings = {}, {}, {}
    for meta_path in snakemake.input.metas:
        meta = read_json(meta_path)
        name, features = meta["dataset"], list(meta["features"])
        parquet = snakemake.params.data_files[name]  # its one file, or its shards in order
        shape = (int(meta["n"]), len(features), 4 if meta.get("dtype") == "float32" else 8)
        if mem_mb is not None and resources.BASE_MB + resources.summary_dataset_mb(*shape) > float(mem_mb):
            log.info("dataset %s (%s) is streamed from %s", name, resources.describe(*shape), parquet)
            references[name], facts = parquet_facts(parquet, features, str(meta["target"]), scalings, name in origin)
            conditionings.update({(name, scaling): facts[scaling] for scaling in scalings})
            origin_conditionings.update({(name, s): facts[f"{s} origin"] for s in scalings if f"{s} origin" in facts})
            continue
        data = load_dataset(parquet, meta_path)
        references[name] = reference(data.X, data.y, origin=name in origin)
        for scaling in scalings:
            conditionings[name, scaling] = fitted_conditioning(data.X, data.y, scaling, features)
            if name in origin:
                origin_conditionings[name, scaling] = fitted_conditioning(data.X, data.y, scaling, features, False)
        del data
        gc.collect()
    summary, predictions = summarize_fits(records, references)
    write_parquet(snakemake.output.summary, summary)
    write_parquet(snakemake.output.predictions, predictions)
    write_parquet(snakemake.output.conditioning, conditioning_frame((*key, c) for key, c in conditionings.items()))
    histories = {
        tuple(key): pd.read_parquet(path) for key, path in zip(snakemake.params.history_keys, snakemake.input.histories)
    }
    accuracy = time_to_accuracy(
        records, histories, conditionings, snakemake.params.accuracy_targets, origin_conditionings
    )
    write_parquet(snakemake.output.time_to_accuracy, accuracy)
    write_parquet(snakemake.output.repetitions, repetition_summary(accuracy))
    log.info("%d fits summarised, %d predictions", len(summary), len(predictions))
