"""Stage 5: gather every result into the comparison report (issue: report).

Figure jobs per dataset (data with fitted lines, loss curves; loss surfaces with descent paths for
single-feature datasets), one job for the gradient-check and prediction figures, and the page job
writing results/report/index.html (self-contained: figures inlined, plotly.js inlined once), the
class page results/report/lessons.html (the two lessons only; descent.report.classpage) and
results/report/provenance.json. Every input is a result file, so the page is rebuilt exactly when
one of them (or the report's config or code) changes.
"""

from descent.report.claims import claims_digest
from descent.report.inputs import (
    builtin_templates_digest,
    fit_keys,
    jobs_of,
    override_templates,
)
from descent.report.provenance import reproduce_command

# The section typed once (descent.config.sections.ReportConfig); the page job gets it as a dict
# param (`as_dict()`: Snakemake records it, so a changed option rebuilds the page).
REPORT = CONFIG.report
REPORT_SCALINGS = list(CONFIG.fits.scalings)


rule report_fit_figures:
    input:
        parquet=lambda wildcards: PLAN.data_files(wildcards.dataset),
        meta=rules.dataset.output.meta,
        fits=lambda wildcards: fit_paths(
            rules.fit_closed_form.output.json, jobs_of(FIT_JOBS, wildcards.dataset)
        ),
        histories=lambda wildcards: fit_paths(
            rules.fit_iterative.output.history,
            jobs_of(ITERATIVE_FIT_JOBS, wildcards.dataset),
        ),
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
    log:
        "results/logs/report/{dataset}_fit_figures.log",
    benchmark:
        "results/benchmarks/report/{dataset}_fit_figures.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("sampled", "report_fit_figures"),
        runtime=10,
    params:
        sample_rows=lambda wildcards: PLAN.sample_rows(wildcards.dataset),
        fit_keys=lambda wildcards: fit_keys(jobs_of(FIT_JOBS, wildcards.dataset)),
        history_keys=lambda wildcards: fit_keys(
            jobs_of(ITERATIVE_FIT_JOBS, wildcards.dataset)
        ),
        dpi=REPORT.dpi,
        max_points=REPORT.max_points,
    script:
        "../scripts/report_fit_figures.py"


rule report_surface_figure:
    input:
        parquet=lambda wildcards: PLAN.data_files(wildcards.dataset),
        meta=rules.dataset.output.meta,
        surfaces=expand(
            rules.loss_surface.output.surface,
            scaling=REPORT_SCALINGS,
            allow_missing=True,
        ),
        histories=lambda wildcards: fit_paths(
            rules.fit_iterative.output.history,
            jobs_of(ITERATIVE_FIT_JOBS, wildcards.dataset),
        ),
    output:
        png=report(
            "results/report/figures/{dataset}_surface.png",
            caption="../report/fits_surface.rst",
            category="Fits",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "figure": "loss surface and descent paths",
            },
        ),
        svg="results/report/figures/{dataset}_surface.svg",
    log:
        "results/logs/report/{dataset}_surface_figure.log",
    benchmark:
        "results/benchmarks/report/{dataset}_surface_figure.tsv"
    wildcard_constraints:
        dataset=_alternation(SINGLE_FEATURE_DATASETS),
    threads: 1
    resources:
        mem_mb=mem_mb("data", "report_surface_figure"),
        runtime=10,
    params:
        scalings=REPORT_SCALINGS,
        history_keys=lambda wildcards: fit_keys(
            jobs_of(ITERATIVE_FIT_JOBS, wildcards.dataset)
        ),
        dpi=REPORT.dpi,
    script:
        "../scripts/report_surface_figure.py"


rule report_convergence_figure:
    input:
        fits=lambda wildcards: fit_paths(
            rules.fit_closed_form.output.json, jobs_of(FIT_JOBS, wildcards.dataset)
        ),
        histories=lambda wildcards: fit_paths(
            rules.fit_iterative.output.history,
            jobs_of(ITERATIVE_FIT_JOBS, wildcards.dataset),
        ),
        time_to_accuracy=rules.fit_summary.output.time_to_accuracy,
    output:
        png=report(
            "results/report/figures/{dataset}_convergence.png",
            caption="../report/fits_convergence.rst",
            category="Fits",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "cost to accuracy"},
        ),
        svg="results/report/figures/{dataset}_convergence.svg",
    log:
        "results/logs/report/{dataset}_convergence_figure.log",
    benchmark:
        "results/benchmarks/report/{dataset}_convergence_figure.tsv"
    threads: 1
    resources:
        mem_mb=800,
        runtime=10,
    params:
        fit_keys=lambda wildcards: fit_keys(jobs_of(FIT_JOBS, wildcards.dataset)),
        history_keys=lambda wildcards: fit_keys(
            jobs_of(ITERATIVE_FIT_JOBS, wildcards.dataset)
        ),
        scalings=REPORT_SCALINGS,
        dpi=REPORT.dpi,
    script:
        "../scripts/report_convergence_figure.py"


rule report_check_figures:
    input:
        checks=expand(rules.gradient_check.output.check, dataset=DATASETS),
        predictions=rules.fit_summary.output.predictions,
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
    log:
        "results/logs/report/check_figures.log",
    benchmark:
        "results/benchmarks/report/check_figures.tsv"
    threads: 1
    resources:
        mem_mb=800,
        runtime=10,
    params:
        datasets=DATASETS,
        dpi=REPORT.dpi,
    script:
        "../scripts/report_check_figures.py"


# Results of the other stages the page shows, when the report includes them.
REPORT_BENCHMARK_INPUTS = (
    {
        "benchmark_table": rules.matmul_benchmark_gather.output.table,
        "benchmark_sidecar": rules.matmul_benchmark_gather.output.sidecar,
        "benchmark_gflops": rules.matmul_benchmark_gather.output.gflops_png,
        "benchmark_speedup": rules.matmul_benchmark_gather.output.speedup_png,
    }
    if REPORT.benchmark
    else {}
)
REPORT_LESSON_INPUTS = (
    {
        "lessons_binomial": rules.lessons_binomial.output.summary,
        "lessons_binomial_png": rules.lessons_binomial.output.png,
        "lessons_binomial_table": rules.lessons_binomial.output.table,
        "lessons_vectors": rules.lessons_vectors.output.summary,
        "lessons_vectors_table": rules.lessons_vectors.output.table,
        "lessons_descent_x2": rules.lessons_descent_x2.output.summary,
        "lessons_descent_x2_png": rules.lessons_descent_x2.output.png,
        "lessons_minima": rules.lessons_minima.output.summary,
        "lessons_minima_png": rules.lessons_minima.output.png,
        "lessons_minima_table": rules.lessons_minima.output.starts,
    }
    if REPORT.lessons
    else {}
)


# The lists of inputs are in the order of the keys passed as params: `fits` and `histories` as
# `fit_keys` and `history_keys`; `metas` and `checks` as `datasets`; `single_parquets` and
# `surface_figures` as `single_feature`; `surfaces` as `single_feature` x `scalings`;
# `fit_figures`: each dataset's fits figure, then each dataset's loss figure.
rule report_html:
    input:
        unpack(lambda wildcards: {**REPORT_BENCHMARK_INPUTS, **REPORT_LESSON_INPUTS}),
        summary=rules.fit_summary.output.summary,
        predictions=rules.fit_summary.output.predictions,
        conditioning=rules.fit_summary.output.conditioning,
        time_to_accuracy=rules.fit_summary.output.time_to_accuracy,
        repetitions=rules.fit_summary.output.repetitions,
        convergence_figures=expand(
            rules.report_convergence_figure.output.png, dataset=DATASETS
        ),
        fits=fit_paths(rules.fit_closed_form.output.json, FIT_JOBS),
        histories=fit_paths(rules.fit_iterative.output.history, ITERATIVE_FIT_JOBS),
        checks=expand(rules.gradient_check.output.check, dataset=DATASETS),
        metas=expand(rules.dataset.output.meta, dataset=DATASETS),
        single_parquets=[
            path for name in SINGLE_FEATURE_DATASETS for path in PLAN.data_files(name)
        ],
        surfaces=expand(
            rules.loss_surface.output.surface,
            dataset=SINGLE_FEATURE_DATASETS,
            scaling=REPORT_SCALINGS,
        ),
        fit_figures=expand(
            [
                rules.report_fit_figures.output.fits_png,
                rules.report_fit_figures.output.loss_png,
            ],
            dataset=DATASETS,
        ),
        surface_figures=expand(
            rules.report_surface_figure.output.png, dataset=SINGLE_FEATURE_DATASETS
        ),
        gradient_figure=rules.report_check_figures.output.gradient_png,
        predictions_figure=rules.report_check_figures.output.predictions_png,
        # A teacher's own step templates (report.templates): editing one rebuilds the page.
        templates=override_templates(REPORT.templates),
    output:
        html=report(
            "results/report/index.html",
            caption="../report/report_index.rst",
            category="Report",
            labels={"page": "comparison report"},
        ),
        lessons=report(
            "results/report/lessons.html",
            caption="../report/report_lessons.rst",
            category="Report",
            labels={"page": "class page (the two lessons)"},
        ),
        provenance="results/report/provenance.json",
    log:
        "results/logs/report/html.log",
    benchmark:
        "results/benchmarks/report/html.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1500 * attempt,
        runtime=15,
    params:
        section=REPORT.as_dict(),
        config=config,
        datasets=DATASETS,
        single_feature=SINGLE_FEATURE_DATASETS,
        data_files={name: PLAN.data_files(name) for name in SINGLE_FEATURE_DATASETS},
        scalings=REPORT_SCALINGS,
        fit_keys=fit_keys(FIT_JOBS),
        history_keys=fit_keys(ITERATIVE_FIT_JOBS),
        command=reproduce_command(
            workflow.overwrite_configfiles or [], workflow.basedir
        ),
        basedir=workflow.basedir,
        claims_digest=claims_digest(),
        templates_digest=builtin_templates_digest(),
    script:
        "../scripts/report_html.py"
