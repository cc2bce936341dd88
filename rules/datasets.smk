"""Stage 1: generate every configured dataset to parquet with a JSON sidecar."""


rule dataset:
    output:
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
    params:
        spec=lambda wildcards: config["datasets"][wildcards.dataset],
    log:
        "results/logs/datasets/{dataset}.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=dataset_mem_mb,
        runtime=10,
    conda:
        "../envs/descent.yaml"
    script:
        "../scripts/make_dataset.py"


FINAL_TARGETS.extend(
    expand("results/datasets/{dataset}.{ext}", dataset=DATASETS, ext=["parquet", "json"])
)
