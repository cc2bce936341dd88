"""Stage 2: fit every dataset with every method, raw and standardized (one job per fit)."""

rule fit_iterative:
    input:
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
    output:
        json="results/fits/{dataset}/{scaling}/{method}.json",
        history="results/fits/{dataset}/{scaling}/{method}.history.parquet",
    wildcard_constraints:
        method=_alternation(ITERATIVE_NAMES),
        scaling="raw|standardized",
    params:
        settings=fit_settings,
        init=fit_init,
        predict=lambda wildcards: config["fits"]["predict"].get(wildcards.dataset, []),
    log:
        "results/logs/fits/{dataset}/{scaling}/{method}.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/{method}.tsv"
    threads: fit_threads
    resources:
        mem_mb=dataset_mem_mb,
        runtime=30,
        gpu=fit_gpu,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/fit.py"


rule fit_closed_form:
    input:
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
    output:
        json="results/fits/{dataset}/{scaling}/{method}.json",
    wildcard_constraints:
        method=_alternation(CLOSED_NAMES),
        scaling="raw|standardized",
    params:
        settings=fit_settings,
        init=None,
        predict=lambda wildcards: config["fits"]["predict"].get(wildcards.dataset, []),
    log:
        "results/logs/fits/{dataset}/{scaling}/{method}.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/{method}.tsv"
    threads: fit_threads
    resources:
        mem_mb=dataset_mem_mb,
        runtime=30,
        gpu=fit_gpu,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/fit.py"


rule gradient_check:
    input:
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
    output:
        "results/fits/gradient_check/{dataset}.json",
    params:
        init=lambda wildcards: initial_parameters(
            resolve_settings(config, FitJob(wildcards.dataset, "raw", "manual_gd")),
            config["datasets"][wildcards.dataset],
        ),
    log:
        "results/logs/fits/gradient_check/{dataset}.log",
    benchmark:
        "results/benchmarks/fits/gradient_check/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=dataset_mem_mb,
        runtime=10,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/gradient_check.py"


rule loss_surface:
    input:
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
    output:
        "results/fits/{dataset}/{scaling}/loss_surface.parquet",
    wildcard_constraints:
        dataset=_alternation(SINGLE_FEATURE_DATASETS),
        scaling="raw|standardized",
    params:
        starts=surface_starts,
        grid_size=config["fits"]["loss_surface"]["grid_size"],
        margin=config["fits"]["loss_surface"]["margin"],
    log:
        "results/logs/fits/{dataset}/{scaling}/loss_surface.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/loss_surface.tsv"
    threads: 1
    resources:
        mem_mb=dataset_mem_mb,
        runtime=10,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/loss_surface.py"


FIT_JSONS = [f"results/fits/{j.dataset}/{j.scaling}/{j.method}.json" for j in FIT_JOBS]


rule fit_summary:
    input:
        fits=FIT_JSONS,
        parquets=expand("results/datasets/{dataset}.parquet", dataset=DATASETS),
        metas=expand("results/datasets/{dataset}.json", dataset=DATASETS),
    output:
        summary="results/fits/summary.parquet",
        predictions="results/fits/predictions.parquet",
    log:
        "results/logs/fits/summary.log",
    benchmark:
        "results/benchmarks/fits/summary.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: int(
            (600 + 3 * max((dataset_bytes(d) for d in DATASETS), default=0) / 2**20) * attempt
        ),
        runtime=10,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/fit_summary.py"


FINAL_TARGETS.extend(FIT_JSONS)
FINAL_TARGETS.extend(
    f"results/fits/{j.dataset}/{j.scaling}/{j.method}.history.parquet"
    for j in FIT_JOBS
    if resolve_settings(config, j)["method"] in ITERATIVE_METHODS
)
FINAL_TARGETS.extend(["results/fits/summary.parquet", "results/fits/predictions.parquet"])
FINAL_TARGETS.extend(expand("results/fits/gradient_check/{dataset}.json", dataset=DATASETS))
FINAL_TARGETS.extend(
    expand(
        "results/fits/{dataset}/{scaling}/loss_surface.parquet",
        dataset=SINGLE_FEATURE_DATASETS,
        scaling=config["fits"]["scalings"],
    )
)
