"""Stage 2: fit every dataset with every method, raw and standardized (one job per fit)."""


rule fit_iterative:
    input:
        parquet=rules.dataset.output.parquet,
        meta=rules.dataset.output.meta,
        plugin=fit_plugin,
    output:
        json="results/fits/{dataset}/{scaling}/{method}.json",
        history="results/fits/{dataset}/{scaling}/{method}.history.parquet",
    log:
        "results/logs/fits/{dataset}/{scaling}/{method}.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/{method}.tsv"
    wildcard_constraints:
        method=_alternation(ITERATIVE_NAMES),
        scaling="raw|standardized",
    threads: fit_threads
    resources:
        mem_mb=fit_mem_mb,
        runtime=30,
        gpu=fit_gpu,
    params:
        settings=fit_settings,
        init=fit_init,
        predict=lambda wildcards: config["fits"]["predict"].get(wildcards.dataset, []),
        accuracy_targets=config["fits"]["accuracy_targets"],
        stream=fit_streams,
    script:
        "../scripts/fit.py"


rule fit_closed_form:
    input:
        parquet=rules.dataset.output.parquet,
        meta=rules.dataset.output.meta,
        plugin=fit_plugin,
    output:
        json="results/fits/{dataset}/{scaling}/{method}.json",
    log:
        "results/logs/fits/{dataset}/{scaling}/{method}.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/{method}.tsv"
    wildcard_constraints:
        method=_alternation(CLOSED_NAMES),
        scaling="raw|standardized",
    threads: fit_threads
    resources:
        mem_mb=fit_mem_mb,
        runtime=30,
        gpu=fit_gpu,
    params:
        settings=fit_settings,
        init=None,
        predict=lambda wildcards: config["fits"]["predict"].get(wildcards.dataset, []),
        stream=fit_streams,
    script:
        "../scripts/fit.py"


rule gradient_check:
    input:
        parquet=rules.dataset.output.parquet,
        meta=rules.dataset.output.meta,
    output:
        check="results/fits/gradient_check/{dataset}.json",
    log:
        "results/logs/fits/gradient_check/{dataset}.log",
    benchmark:
        "results/benchmarks/fits/gradient_check/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: sampled_mem_mb(
            wildcards, attempt, "gradient_check"
        ),
        runtime=10,
    params:
        sample_rows=sample_rows,
        init=lambda wildcards: initial_parameters(
            resolve_settings(config, FitJob(wildcards.dataset, "raw", "manual_gd")),
            config["datasets"][wildcards.dataset],
        ),
    script:
        "../scripts/gradient_check.py"


rule loss_surface:
    input:
        parquet=rules.dataset.output.parquet,
        meta=rules.dataset.output.meta,
    output:
        surface="results/fits/{dataset}/{scaling}/loss_surface.parquet",
    log:
        "results/logs/fits/{dataset}/{scaling}/loss_surface.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/loss_surface.tsv"
    wildcard_constraints:
        dataset=_alternation(SINGLE_FEATURE_DATASETS),
        scaling="raw|standardized",
    threads: 1
    resources:
        mem_mb=dataset_mem_mb,
        runtime=10,
    params:
        starts=surface_starts,
        grid_size=config["fits"]["loss_surface"]["grid_size"],
        margin=config["fits"]["loss_surface"]["margin"],
    script:
        "../scripts/loss_surface.py"


rule fit_summary:
    input:
        fits=fit_paths(rules.fit_closed_form.output.json, FIT_JOBS),
        histories=fit_paths(rules.fit_iterative.output.history, ITERATIVE_FIT_JOBS),
        parquets=expand(rules.dataset.output.parquet, dataset=DATASETS),
        metas=expand(rules.dataset.output.meta, dataset=DATASETS),
    output:
        summary="results/fits/summary.parquet",
        predictions="results/fits/predictions.parquet",
        conditioning="results/fits/conditioning.parquet",
        time_to_accuracy="results/fits/time_to_accuracy.parquet",
        repetitions="results/fits/repetitions.parquet",
    log:
        "results/logs/fits/summary.log",
    benchmark:
        "results/benchmarks/fits/summary.tsv"
    threads: 1
    resources:
        mem_mb=summary_mem_mb,
        runtime=10,
    params:
        history_keys=[list(job) for job in ITERATIVE_FIT_JOBS],
        scalings=config["fits"]["scalings"],
        accuracy_targets=config["fits"]["accuracy_targets"],
    script:
        "../scripts/fit_summary.py"
