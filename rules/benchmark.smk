"""Stage 3: matmul benchmark, naive loops vs NumPy vs torch CPU vs CUDA (issue: benchmark).

One job per CPU backend (`matmul_benchmark`: NumPy and torch holding every core so nothing runs
beside them while they time, a naive Python loop one core, beside other jobs), one job per CUDA backend (`matmul_benchmark_cuda`, `resources: gpu=1` so a cluster
places it on a GPU node; it writes 'skipped: CUDA not available' rows instead of failing where
there is no GPU), and a gather job writing the table, the machine-facts sidecar and the figures.
Which backend goes to which rule comes from the registry (descent.matmul.backends: its device).
"""

from descent.matmul.backends import CPU_BACKENDS as MATMUL_CPU_BACKENDS
from descent.matmul.backends import CUDA_BACKENDS as MATMUL_CUDA_BACKENDS
from descent.matmul.backends import NAIVE_BACKENDS as MATMUL_NAIVE_BACKENDS
from descent.matmul.config import job_mem_mb as benchmark_mem_mb
from descent.matmul.config import job_runtime_min as benchmark_runtime_min

# The section typed once (descent.config.sections.BenchmarkConfig); its cross-field checks ran
# with the config's validation (rules/common.smk). Jobs get it as a dict param (`as_dict()`:
# Snakemake records it, so a changed value reruns them), typed again by their scripts.
BENCHMARK = CONFIG.benchmark
BENCHMARK_BACKENDS = list(BENCHMARK.backends)


rule matmul_benchmark:
    output:
        table="results/benchmark/raw/{backend}.parquet",
        facts="results/benchmark/raw/{backend}.json",
    log:
        "results/logs/benchmark/{backend}.log",
    benchmark:
        "results/benchmarks/benchmark/{backend}.tsv"
    wildcard_constraints:
        backend="|".join(MATMUL_CPU_BACKENDS),
    # NumPy and torch: every core, so Snakemake runs nothing beside them while they time (BLAS and
    # torch threads are set from this value). A naive Python loop runs on one thread: it takes one
    # core and other jobs run beside it (its notes say so; the report shows them).
    threads: lambda wildcards: 1 if wildcards.backend in MATMUL_NAIVE_BACKENDS else workflow.cores
    resources:
        mem_mb=lambda wildcards, attempt: benchmark_mem_mb(BENCHMARK, attempt),
        runtime=lambda wildcards: benchmark_runtime_min(BENCHMARK, wildcards.backend),
    params:
        backend=lambda wildcards: wildcards.backend,
        section=BENCHMARK.as_dict(),
    script:
        "../scripts/benchmark_matmul.py"


rule matmul_benchmark_cuda:
    output:
        table="results/benchmark/raw/{backend}.parquet",
        facts="results/benchmark/raw/{backend}.json",
    log:
        "results/logs/benchmark/{backend}.log",
    benchmark:
        "results/benchmarks/benchmark/{backend}.tsv"
    wildcard_constraints:
        backend="|".join(MATMUL_CUDA_BACKENDS),
    # CPU threads only compute the float64 reference products on the host.
    threads: min(4, workflow.cores)
    resources:
        gpu=1,
        mem_mb=lambda wildcards, attempt: benchmark_mem_mb(BENCHMARK, attempt),
        runtime=lambda wildcards: benchmark_runtime_min(BENCHMARK, wildcards.backend),
    params:
        backend=lambda wildcards: wildcards.backend,
        section=BENCHMARK.as_dict(),
    script:
        "../scripts/benchmark_matmul.py"


rule matmul_benchmark_gather:
    input:
        # CPU and CUDA backends write the same paths (rule matmul_benchmark_cuda's are the same).
        tables=expand(rules.matmul_benchmark.output.table, backend=BENCHMARK_BACKENDS),
        facts=expand(rules.matmul_benchmark.output.facts, backend=BENCHMARK_BACKENDS),
    output:
        table="results/benchmark/matmul.parquet",
        sidecar="results/benchmark/matmul.json",
        gflops_png=report(
            "results/benchmark/matmul_gflops.png",
            caption="../report/benchmark_gflops.rst",
            category="Benchmark",
        ),
        gflops_svg="results/benchmark/matmul_gflops.svg",
        speedup_png=report(
            "results/benchmark/matmul_speedup.png",
            caption="../report/benchmark_speedup.rst",
            category="Benchmark",
        ),
        speedup_svg="results/benchmark/matmul_speedup.svg",
    log:
        "results/logs/benchmark/gather.log",
    benchmark:
        "results/benchmarks/benchmark/gather.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        section=BENCHMARK.as_dict(),
    script:
        "../scripts/benchmark_gather.py"
