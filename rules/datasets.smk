"""Stage 1: every configured dataset to parquet with a JSON sidecar: generated, or read from a
parquet/CSV file (`kind: file`), such as scikit-learn's diabetes table exported by a rule here.
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
        parquet="results/datasets/{dataset}.parquet",
        meta="results/datasets/{dataset}.json",
    log:
        "results/logs/datasets/{dataset}.log",
    benchmark:
        "results/benchmarks/datasets/{dataset}.tsv"
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
