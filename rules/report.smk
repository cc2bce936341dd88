"""Stage 5: gather every result into the comparison report (issue: report).

Figure jobs per dataset (data with fitted lines, loss curves; loss surfaces with descent paths for
single-feature datasets), one job for the gradient-check and prediction figures, and the page job
writing results/report/index.html (self-contained: figures inlined, plotly.js inlined once) and
results/report/provenance.json. Every input is a result file, so the page is rebuilt exactly when
one of them (or the report's config or code) changes.
"""

from descent.report.inputs import fit_json_paths, fit_keys, history_paths, iterative_jobs, jobs_of
from descent.report.provenance import reproduce_command

REPORT = config["report"]
REPORT_ITERATIVE_JOBS = iterative_jobs(config, FIT_JOBS)


rule report_fit_figures:
    input:
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
        fits=lambda wildcards: fit_json_paths(jobs_of(FIT_JOBS, wildcards.dataset)),
        histories=lambda wildcards: history_paths(jobs_of(REPORT_ITERATIVE_JOBS, wildcards.dataset)),
    output:
        fits_png=report(
            "results/report/figures/{dataset}_fits.png",
            caption="../report/fits_data.rst",
            category="Fits",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "data and fitted lines"},
        ),
        fits_svg="results/report/figures/{dataset}_fits.svg",
        loss_png=report(
            "results/report/figures/{dataset}_loss.png",
            caption="../report/fits_loss.rst",
            category="Fits",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "loss against iteration"},
        ),
        loss_svg="results/report/figures/{dataset}_loss.svg",
    params:
        fit_keys=lambda wildcards: fit_keys(jobs_of(FIT_JOBS, wildcards.dataset)),
        history_keys=lambda wildcards: fit_keys(jobs_of(REPORT_ITERATIVE_JOBS, wildcards.dataset)),
        dpi=REPORT["dpi"],
        max_points=REPORT["max_points"],
    log:
        "results/logs/report/{dataset}_fit_figures.log",
    benchmark:
        "results/benchmarks/report/{dataset}_fit_figures.tsv"
    threads: 1
    resources:
        mem_mb=dataset_mem_mb,
        runtime=10,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/report_fit_figures.py"


rule report_surface_figure:
    input:
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
        surfaces=expand(
            "results/fits/{{dataset}}/{scaling}/loss_surface.parquet", scaling=config["fits"]["scalings"]
        ),
        histories=lambda wildcards: history_paths(jobs_of(REPORT_ITERATIVE_JOBS, wildcards.dataset)),
    output:
        png=report(
            "results/report/figures/{dataset}_surface.png",
            caption="../report/fits_surface.rst",
            category="Fits",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "loss surface and descent paths"},
        ),
        svg="results/report/figures/{dataset}_surface.svg",
    wildcard_constraints:
        dataset=_alternation(SINGLE_FEATURE_DATASETS),
    params:
        scalings=config["fits"]["scalings"],
        history_keys=lambda wildcards: fit_keys(jobs_of(REPORT_ITERATIVE_JOBS, wildcards.dataset)),
        dpi=REPORT["dpi"],
    log:
        "results/logs/report/{dataset}_surface_figure.log",
    benchmark:
        "results/benchmarks/report/{dataset}_surface_figure.tsv"
    threads: 1
    resources:
        mem_mb=dataset_mem_mb,
        runtime=10,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/report_surface_figure.py"


rule report_check_figures:
    input:
        checks=expand("results/fits/gradient_check/{dataset}.json", dataset=DATASETS),
        predictions="results/fits/predictions.parquet",
    output:
        gradient_png=report(
            "results/report/figures/gradient_check.png",
            caption="../report/fits_gradient_check.rst",
            category="Fits",
            subcategory="checks",
            labels={"figure": "gradient check"},
        ),
        gradient_svg="results/report/figures/gradient_check.svg",
        predictions_png=report(
            "results/report/figures/predictions.png",
            caption="../report/fits_predictions.rst",
            category="Fits",
            subcategory="checks",
            labels={"figure": "predictions"},
        ),
        predictions_svg="results/report/figures/predictions.svg",
    params:
        dpi=REPORT["dpi"],
    log:
        "results/logs/report/check_figures.log",
    benchmark:
        "results/benchmarks/report/check_figures.tsv"
    threads: 1
    resources:
        mem_mb=800,
        runtime=10,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/report_check_figures.py"


# Results of the other stages the page shows (exact names from their rules).
REPORT_BENCHMARK_INPUTS = (
    {
        "benchmark_table": "results/benchmark/matmul.parquet",
        "benchmark_sidecar": "results/benchmark/matmul.json",
        "benchmark_gflops": "results/benchmark/matmul_gflops.png",
        "benchmark_speedup": "results/benchmark/matmul_speedup.png",
    }
    if REPORT["benchmark"]
    else {}
)
REPORT_LESSON_INPUTS = (
    {
        "lessons_binomial": "results/lessons/binomial.json",
        "lessons_binomial_png": "results/lessons/binomial.png",
        "lessons_vectors": "results/lessons/vectors.json",
        "lessons_vectors_table": "results/lessons/vectors.parquet",
        "lessons_descent_x2": "results/lessons/descent_x2.json",
        "lessons_descent_x2_png": "results/lessons/descent_x2.png",
        "lessons_minima": "results/lessons/minima.json",
        "lessons_minima_png": "results/lessons/minima.png",
    }
    if REPORT["lessons"]
    else {}
)


rule report_html:
    input:
        unpack(lambda wildcards: {**REPORT_BENCHMARK_INPUTS, **REPORT_LESSON_INPUTS}),
        summary="results/fits/summary.parquet",
        predictions="results/fits/predictions.parquet",
        fits=fit_json_paths(FIT_JOBS),
        histories=history_paths(REPORT_ITERATIVE_JOBS),
        checks=expand("results/fits/gradient_check/{dataset}.json", dataset=DATASETS),
        metas=expand("results/datasets/{dataset}.json", dataset=DATASETS),
        single_parquets=expand("results/datasets/{dataset}.parquet", dataset=SINGLE_FEATURE_DATASETS),
        surfaces=expand(
            "results/fits/{dataset}/{scaling}/loss_surface.parquet",
            dataset=SINGLE_FEATURE_DATASETS,
            scaling=config["fits"]["scalings"],
        ),
        fit_figures=expand("results/report/figures/{dataset}_{kind}.png", dataset=DATASETS, kind=["fits", "loss"]),
        surface_figures=expand("results/report/figures/{dataset}_surface.png", dataset=SINGLE_FEATURE_DATASETS),
        gradient_figure="results/report/figures/gradient_check.png",
        predictions_figure="results/report/figures/predictions.png",
    output:
        html=report(
            "results/report/index.html",
            caption="../report/report_index.rst",
            category="Report",
            labels={"page": "comparison report"},
        ),
        provenance="results/report/provenance.json",
    params:
        section=REPORT,
        config=config,
        datasets=DATASETS,
        single_feature=SINGLE_FEATURE_DATASETS,
        scalings=config["fits"]["scalings"],
        fit_keys=fit_keys(FIT_JOBS),
        history_keys=fit_keys(REPORT_ITERATIVE_JOBS),
        command=reproduce_command(workflow.overwrite_configfiles or [], workflow.basedir),
        basedir=workflow.basedir,
    log:
        "results/logs/report/html.log",
    benchmark:
        "results/benchmarks/report/html.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=15,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/report_html.py"


FINAL_TARGETS.extend(
    [
        "results/report/index.html",
        "results/report/provenance.json",
        *expand("results/report/figures/{dataset}_{kind}.{ext}", dataset=DATASETS, kind=["fits", "loss"], ext=["png", "svg"]),
        *expand("results/report/figures/{dataset}_surface.{ext}", dataset=SINGLE_FEATURE_DATASETS, ext=["png", "svg"]),
        *expand("results/report/figures/{name}.{ext}", name=["gradient_check", "predictions"], ext=["png", "svg"]),
    ]
)
