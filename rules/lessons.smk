"""Stage 4: Lesson 0's foundations as computed outputs (issue: lessons).

One rule per experiment, so they run in parallel: random guessing is binomial, the worked vector
examples, gradient descent on y = x², and local vs global minima with random restarts. Every
result is seeded from the `lessons:` config section (schemas/lessons.schema.yaml). Each job gets
its part of the typed section as a dict param (`as_dict()`: Snakemake records it, so a changed
value reruns the job), which its script types again (`from_dict`).
"""

# The section typed once (descent.config.sections.LessonsConfig); its cross-field checks ran
# with the config's validation (rules/common.smk).
LESSONS = CONFIG.lessons

# Resource estimates (MB, minutes): the interpreter with numpy/pandas/matplotlib (measured
# max RSS ~170 MB with the defaults) plus what each experiment holds; the binomial simulation
# draws in fixed chunks (~32 MiB) whatever the number of tests.
_binomial, _x2, _minima = LESSONS.binomial, LESSONS.descent_x2, LESSONS.minima
LESSONS_MEM_MB = {
    "binomial": 500 + _binomial.long_test_questions * 64 // 2**20,
    "descent_x2": 400 + _x2.max_iterations * len(_x2.step_sizes) * 300 // 2**20,
    "minima": 400
    + _minima.max_iterations * 100 // 2**20
    + _minima.n_starts * 1000 // 2**20,
}
LESSONS_RUNTIME = {
    "binomial": 5 + _binomial.n_tests * _binomial.n_questions // 10**9,
    "descent_x2": 5 + _x2.max_iterations * len(_x2.step_sizes) // (60 * 10**6),
    "minima": 5 + _minima.n_starts * _minima.max_iterations // (60 * 10**6),
}


rule lessons_binomial:
    output:
        table="results/lessons/binomial.parquet",
        summary="results/lessons/binomial.json",
        long_test="results/lessons/binomial_long_test.parquet",
        timing="results/lessons/binomial_timing.json",
        png=report(
            "results/lessons/binomial.png",
            caption="../report/lessons_binomial.rst",
            category="Lessons",
            labels={"figure": "binomial guessing", "format": "PNG"},
        ),
        svg=report(
            "results/lessons/binomial.svg",
            caption="../report/lessons_binomial.rst",
            category="Lessons",
            labels={"figure": "binomial guessing", "format": "SVG"},
        ),
    log:
        "results/logs/lessons/binomial.log",
    benchmark:
        "results/benchmarks/lessons/binomial.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: LESSONS_MEM_MB["binomial"] * attempt,
        runtime=lambda wildcards, attempt: LESSONS_RUNTIME["binomial"] * attempt,
    params:
        spec=LESSONS.binomial.as_dict(),
    script:
        "../scripts/lessons_binomial.py"


rule lessons_vectors:
    output:
        table="results/lessons/vectors.parquet",
        summary="results/lessons/vectors.json",
    log:
        "results/logs/lessons/vectors.log",
    benchmark:
        "results/benchmarks/lessons/vectors.tsv"
    threads: 1
    resources:
        mem_mb=300,
        runtime=5,
    params:
        spec=LESSONS.vectors.as_dict(),
    script:
        "../scripts/lessons_vectors.py"


rule lessons_descent_x2:
    output:
        paths="results/lessons/descent_x2.parquet",
        summary="results/lessons/descent_x2.json",
        png=report(
            "results/lessons/descent_x2.png",
            caption="../report/lessons_descent_x2.rst",
            category="Lessons",
            labels={"figure": "descent on x²", "format": "PNG"},
        ),
        svg=report(
            "results/lessons/descent_x2.svg",
            caption="../report/lessons_descent_x2.rst",
            category="Lessons",
            labels={"figure": "descent on x²", "format": "SVG"},
        ),
    log:
        "results/logs/lessons/descent_x2.log",
    benchmark:
        "results/benchmarks/lessons/descent_x2.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: LESSONS_MEM_MB["descent_x2"] * attempt,
        runtime=lambda wildcards, attempt: LESSONS_RUNTIME["descent_x2"] * attempt,
    params:
        spec=LESSONS.descent_x2.as_dict(),
    script:
        "../scripts/lessons_descent_x2.py"


rule lessons_minima:
    output:
        starts="results/lessons/minima.parquet",
        summary="results/lessons/minima.json",
        png=report(
            "results/lessons/minima.png",
            caption="../report/lessons_minima.rst",
            category="Lessons",
            labels={"figure": "local vs global minima", "format": "PNG"},
        ),
        svg=report(
            "results/lessons/minima.svg",
            caption="../report/lessons_minima.rst",
            category="Lessons",
            labels={"figure": "local vs global minima", "format": "SVG"},
        ),
    log:
        "results/logs/lessons/minima.log",
    benchmark:
        "results/benchmarks/lessons/minima.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: LESSONS_MEM_MB["minima"] * attempt,
        runtime=lambda wildcards, attempt: LESSONS_RUNTIME["minima"] * attempt,
    params:
        spec=LESSONS.minima.as_dict(),
    script:
        "../scripts/lessons_minima.py"
