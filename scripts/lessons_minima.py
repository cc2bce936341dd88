"""Rule `lessons_minima`: descent from many random starts on a function with several minima."""

from descent.config.sections import MinimaConfig
from descent.io import write_json, write_parquet
from descent.jobs import job_logging
from descent.lessons.figures import minima_figure
from descent.lessons.minima import minima_experiment
from descent.plotting import save_figure

with job_logging(snakemake.log[0], "lessons.minima") as log:
    spec = MinimaConfig.from_dict(snakemake.params.spec)
    result = minima_experiment(spec)
    write_parquet(snakemake.output.starts, result.starts)
    write_json(snakemake.output.summary, {**result.summary, "config": spec.as_dict()})
    save_figure(minima_figure(result.starts, result.summary), snakemake.output.png, snakemake.output.svg)
    log.info(
        "%s: %d starts, %.1f%% reached the global minimum %s",
        result.summary["function"],
        result.summary["n_starts"],
        100 * result.summary["fraction_global"],
        result.summary["global_minimum"],
    )
