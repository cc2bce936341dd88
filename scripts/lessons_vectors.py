"""Rule `lessons_vectors`: the worked vector examples (unit vectors, dot product, linear model)."""

from descent.config.sections import VectorsConfig
from descent.io import write_json, write_parquet
from descent.jobs import job_logging
from descent.lessons.vectors import vectors_experiment, vectors_table

with job_logging(snakemake.log[0], "lessons.vectors") as log:
    spec = VectorsConfig.from_dict(snakemake.params.spec)
    result = vectors_experiment(spec)
    write_parquet(snakemake.output.table, vectors_table(result))
    write_json(snakemake.output.summary, {**result, "config": spec.as_dict()})
    log.info(
        "dot product %g, unit vectors coincide: %s, linear model output %.6g (folded %.6g)",
        result["dot_product"]["dot_numpy"],
        result["unit_vectors"]["coincide"],
        result["linear_model"]["output"],
        result["linear_model"]["output_folded"],
    )
