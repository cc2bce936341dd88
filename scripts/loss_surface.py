"""Rule `loss_surface`: the MSE over a (w, b) grid in the fitted space of one scaling."""

from descent.fitting.surface import loss_surface_around
from descent.io import load_dataset, write_parquet
from descent.jobs import job_logging

with job_logging(snakemake.log[0], f"loss_surface.{snakemake.wildcards.dataset}.{snakemake.wildcards.scaling}") as log:
    data = load_dataset(snakemake.input.parquet, snakemake.input.meta)
    surface = loss_surface_around(
        data.X,
        data.y,
        snakemake.wildcards.scaling,
        snakemake.params.starts,
        snakemake.params.grid_size,
        snakemake.params.margin,
        data.features,
    )
    write_parquet(snakemake.output[0], surface)
    log.info(
        "grid %d points, w in [%g, %g], b in [%g, %g]",
        len(surface),
        surface.w.min(),
        surface.w.max(),
        surface.b.min(),
        surface.b.max(),
    )
