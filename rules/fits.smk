"""Stage 2: fit every dataset with every method, raw and standardized (one job per fit); the
certified closed form of a sharded dataset reduces one `shard_partials` job per shard.
"""


rule fit_iterative:
    input:
        parquet=lambda wildcards: PLAN.data_files(wildcards.dataset),
        meta=rules.dataset.output.meta,
        plugin=lambda wildcards: PLAN.fit(wildcards).plugin,
    output:
        json="results/fits/{dataset}/{scaling}/{method}.json",
        history="results/fits/{dataset}/{scaling}/{method}.history.parquet",
    log:
        "results/logs/fits/{dataset}/{scaling}/{method}.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/{method}.tsv"
    wildcard_constraints:
        method=_alternation(PLAN.names(iterative=True)),
        scaling="raw|standardized",
    threads: lambda wildcards: PLAN.job_threads(wildcards, workflow.cores)
    resources:
        mem_mb=mem_mb("fit", "fit_iterative"),
        runtime=30,
        gpu=lambda wildcards: int(PLAN.fit(wildcards).settings.get("device") == "cuda"),
        # A data-parallel fit (processes > 1): under SLURM, one task per process on as many nodes
        # as the cluster gives (`nodes` in the profile's set-resources), started by `srun`; unset
        # (None) for every other fit.
        tasks=lambda wildcards: PLAN.data_parallel(wildcards, PLAN.processes(wildcards)),
        cpus_per_task=lambda wildcards: PLAN.data_parallel(
            wildcards, PLAN.fit_threads(wildcards.dataset, workflow.cores)
        ),
        mpi=lambda wildcards: PLAN.data_parallel(wildcards, "srun"),
    params:
        settings=lambda wildcards: PLAN.fit(wildcards).settings,
        init=lambda wildcards: PLAN.init(wildcards),
        predict=lambda wildcards: config["fits"]["predict"].get(wildcards.dataset, []),
        accuracy_targets=config["fits"]["accuracy_targets"],
        stream=lambda wildcards: PLAN.streams(wildcards.dataset),
    script:
        "../scripts/fit.py"


rule shard_partials:
    input:
        parquet=SHARD_PARQUET,
        meta=rules.dataset.output.meta,
    output:
        partials=SHARD_PARTIALS,
    log:
        "results/logs/partials/{dataset}/{scaling}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/partials/{dataset}/{scaling}/shard-{shard}.tsv"
    wildcard_constraints:
        dataset=_alternation(SHARDED_DATASETS),
        scaling="raw|standardized",
        shard=r"\d{5}",
    threads: 1
    resources:
        mem_mb=mem_mb("fit", "shard_partials"),
        runtime=30,
    script:
        "../scripts/shard_partials.py"


rule fit_closed_form:
    input:
        parquet=lambda wildcards: PLAN.data_files(wildcards.dataset),
        meta=rules.dataset.output.meta,
        plugin=lambda wildcards: PLAN.fit(wildcards).plugin,
        partials=lambda wildcards: PLAN.partial_files(wildcards),
    output:
        json="results/fits/{dataset}/{scaling}/{method}.json",
    log:
        "results/logs/fits/{dataset}/{scaling}/{method}.log",
    benchmark:
        "results/benchmarks/fits/{dataset}/{scaling}/{method}.tsv"
    wildcard_constraints:
        method=_alternation(PLAN.names(iterative=False)),
        scaling="raw|standardized",
    threads: lambda wildcards: PLAN.job_threads(wildcards, workflow.cores)
    resources:
        mem_mb=mem_mb("fit", "fit_closed_form"),
        runtime=30,
        gpu=lambda wildcards: int(PLAN.fit(wildcards).settings.get("device") == "cuda"),
    params:
        settings=lambda wildcards: PLAN.fit(wildcards).settings,
        init=None,
        predict=lambda wildcards: config["fits"]["predict"].get(wildcards.dataset, []),
        stream=lambda wildcards: PLAN.streams(wildcards.dataset),
    script:
        "../scripts/fit.py"


rule gradient_check:
    input:
        parquet=lambda wildcards: PLAN.data_files(wildcards.dataset),
        meta=rules.dataset.output.meta,
    output:
        check="results/fits/gradient_check/{dataset}.json",
    log:
        "results/logs/fits/gradient_check/{dataset}.log",
    benchmark:
        "results/benchmarks/fits/gradient_check/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("sampled", "gradient_check"),
        runtime=10,
    params:
        sample_rows=lambda wildcards: PLAN.sample_rows(wildcards.dataset),
        init=lambda wildcards: PLAN.init(FitJob(wildcards.dataset, "raw", "manual_gd")),
    script:
        "../scripts/gradient_check.py"


rule loss_surface:
    input:
        parquet=lambda wildcards: PLAN.data_files(wildcards.dataset),
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
        mem_mb=mem_mb("data", "loss_surface"),
        runtime=10,
    params:
        starts=lambda wildcards: PLAN.surface_starts(
            wildcards.dataset, wildcards.scaling
        ),
        grid_size=config["fits"]["loss_surface"]["grid_size"],
        margin=config["fits"]["loss_surface"]["margin"],
    script:
        "../scripts/loss_surface.py"


rule fit_summary:
    input:
        fits=fit_paths(rules.fit_closed_form.output.json, FIT_JOBS),
        histories=fit_paths(rules.fit_iterative.output.history, ITERATIVE_FIT_JOBS),
        parquets=[path for name in DATASETS for path in PLAN.data_files(name)],
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
        mem_mb=mem_mb("summary", "fit_summary"),
        runtime=10,
    params:
        history_keys=[list(job) for job in ITERATIVE_FIT_JOBS],
        data_files={name: PLAN.data_files(name) for name in DATASETS},
        scalings=config["fits"]["scalings"],
        accuracy_targets=config["fits"]["accuracy_targets"],
    script:
        "../scripts/fit_summary.py"


# Every fit of a dataset in one scaling in one job (fits.jobs: per_dataset_scaling, the default):
# one Python start-up and one import of torch, pandas and pyarrow for them all, and the data read
# once. Same per-fit result files as the rules above; Snakemake prefers these rules, which have
# no wildcards, over those for the same files. Data-parallel, CUDA and plugin fits, and fits of
# data large enough for every core or streamed, stay jobs of their own (descent.plan.Plan.alone),
# as does every fit with fits.jobs: per_fit (a cluster spreads them).
# A group's threads and streaming are evaluated when its job runs, as the per-fit rules' are
# (`dataset=...` binds the loop's dataset; Snakemake passes only `wildcards`).

for (group_dataset, group_scaling), group_jobs in PLAN.groups().items():

    rule:
        name:
            f"fit_{group_dataset}_{group_scaling}"
        input:
            parquet=expand(rules.dataset.output.parquet, dataset=group_dataset)[0],
            meta=expand(rules.dataset.output.meta, dataset=group_dataset)[0],
        output:
            json=fit_paths(rules.fit_closed_form.output.json, group_jobs),
            history=fit_paths(
                rules.fit_iterative.output.history,
                [job for job in group_jobs if PLAN.fits[job].iterative],
            ),
        log:
            f"results/logs/fits/{group_dataset}/{group_scaling}.log",
        benchmark:
            f"results/benchmarks/fits/{group_dataset}/{group_scaling}.tsv"
        threads: lambda wildcards, dataset=group_dataset: PLAN.fit_threads(dataset, workflow.cores)
        resources:
            mem_mb=mem_mb("fit", f"fit_{group_dataset}_{group_scaling}", group_dataset),
            runtime=30 * len(group_jobs),
            gpu=0,
        params:
            fits=PLAN.group_params(group_jobs),
            predict=config["fits"]["predict"].get(group_dataset, []),
            accuracy_targets=config["fits"]["accuracy_targets"],
            stream=lambda wildcards, dataset=group_dataset: PLAN.streams(dataset),
        script:
            "../scripts/fit_group.py"
