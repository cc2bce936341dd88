"""Rule `lessons_descent_x2`: gradient descent on y = x² for each configured step size."""

from descent.config.sections import DescentX2Config
from descent.io import write_json, write_parquet
from descent.jobs import job_logging
from descent.lessons.descent_x2 import descent_x2_experiment
from descent.lessons.figures import descent_x2_figure
from descent.plotting import save_figure

with job_logging(snakemake.log[0], "lessons.descent_x2") as log:
    spec = DescentX2Config.from_dict(snakemake.params.spec)
    result = descent_x2_experiment(spec)
    write_parquet(snakemake.output.paths, result.paths)
    write_json(snakemake.output.summary, {**result.summary, "config": spec.as_dict()})
    save_figure(descent_x2_figure(result.paths, result.summary), snakemake.output.png, snakemake.output.svg)
    for run in result.summary["runs"]:
        log.info(
            "step %g: %s after %d update(s), x = %g (%s)",
            run["step_size"],
            run["status"],
            run["iterations"],
            run["x_final"],
            run["reason"],
        )
