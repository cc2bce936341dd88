"""Stage 1: every configured dataset to parquet with a JSON sidecar: generated, or read from a
parquet/CSV file (`kind: file`), such as scikit-learn's diabetes table exported by a rule here.
A sharded dataset (`shards: N`, or a `kind: file` folder) is written by one job per shard, then
its sidecar lists them (descent.datasets.shards).
"""


rule export_diabetes:
    output:
        csv="results/external/diabetes.csv",
    log:
        "results/logs/datasets/export_diabetes.log",
    benchmark:
        "results/benchmarks/datasets/export_diabetes.tsv"
    threads: 1
    resources:
        mem_mb=800,
        runtime=5,
    script:
        "../scripts/export_diabetes.py"


rule dataset:
    input:
        source=lambda wildcards: PLAN.source(wildcards.dataset),
    output:
        parquet=ONE_FILE_PARQUET,
        meta="results/datasets/{dataset}.json",
    log:
        "results/logs/datasets/{dataset}.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternation(ONE_FILE_DATASETS),
    threads: 1
    resources:
        mem_mb=mem_mb("dataset", "dataset"),
        runtime=10,
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        # A constant column cannot be standardized: a `kind: file` dataset refuses it up front.
        standardized="standardized" in config["fits"]["scalings"],
    script:
        "../scripts/make_dataset.py"


rule dataset_shard:
    input:
        source=lambda wildcards: PLAN.shard_source(wildcards.dataset, wildcards.shard),
    output:
        parquet=SHARD_PARQUET,
        meta="results/datasets/{dataset}/shard-{shard}.json",
    log:
        "results/logs/datasets/{dataset}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}/shard-{shard}.tsv"
    wildcard_constraints:
        dataset=_alternation(SHARDED_DATASETS),
        shard=r"\d{5}",
    threads: 1
    resources:
        mem_mb=mem_mb("dataset", "dataset_shard"),
        runtime=10,
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
        standardized="standardized" in config["fits"]["scalings"],
    script:
        "../scripts/make_dataset_shard.py"


rule dataset_manifest:
    input:
        parquets=lambda wildcards: PLAN.data_files(wildcards.dataset),
        metas=lambda wildcards: [
            p.removesuffix(".parquet") + ".json"
            for p in PLAN.data_files(wildcards.dataset)
        ],
    output:
        meta="results/datasets/{dataset}.json",
    log:
        "results/logs/datasets/{dataset}.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}.tsv"
    wildcard_constraints:
        dataset=_alternation(SHARDED_DATASETS),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
    script:
        "../scripts/make_dataset_manifest.py"
