"""Rule `lessons_binomial`: random guessing is binomial (histogram, moments, long test, figure)."""

import time

from descent.config.sections import BinomialConfig
from descent.io import write_json, write_parquet
from descent.jobs import job_logging
from descent.lessons.binomial import (
    binomial_experiment,
    long_test,
    simulate_histogram,
    simulate_scores,
    simulate_scores_loop,
)
from descent.lessons.figures import binomial_figure
from descent.plotting import save_figure

with job_logging(snakemake.log[0], "lessons.binomial") as log:
    spec = BinomialConfig.from_dict(snakemake.params.spec)
    seed, n_tests, n_questions, p, z = spec.seed, spec.n_tests, spec.n_questions, spec.p, spec.z

    start = time.perf_counter()
    histogram = simulate_histogram(seed, n_tests, n_questions, p)
    simulate_seconds = time.perf_counter() - start
    log.info("simulated %d tests of %d questions in %.3f s", n_tests, n_questions, simulate_seconds)

    # The vectorised simulation must equal the lesson's per-question loop for the same seed:
    # check it on the first loop_check_tests tests (the same prefix of the same random stream).
    check = spec.loop_check_tests
    start = time.perf_counter()
    looped = simulate_scores_loop(seed, check, n_questions, p)
    loop_seconds = time.perf_counter() - start
    identical = bool((looped == simulate_scores(seed, check, n_questions, p)).all())
    if not identical:
        raise AssertionError(f"vectorised simulation differs from the per-question loop on {check} tests")

    result = binomial_experiment(histogram, n_questions, p, z)
    long = long_test(spec.long_test_seed, spec.long_test_questions, p, z)
    summary = {
        **result.summary,
        "seed": seed,
        "long_test": long.summary,
        "loop_check": {"n_tests": check, "identical": identical},
        "config": spec.as_dict(),
    }
    write_parquet(snakemake.output.table, result.table)
    write_parquet(snakemake.output.long_test, long.table)
    write_json(snakemake.output.summary, summary)
    write_json(
        snakemake.output.timing,
        {
            "simulate_seconds": simulate_seconds,
            "n_tests": n_tests,
            "loop_check_tests": check,
            "loop_seconds": loop_seconds,
            "loop_seconds_estimated_for_all_tests": loop_seconds * n_tests / check if check else None,
        },
    )
    save_figure(
        binomial_figure(result.table, result.summary, long.table, long.summary),
        snakemake.output.png,
        snakemake.output.svg,
    )
    log.info(
        "mean %.6f (n·p = %g), variance %.6f (n·p·(1−p) = %g), within tolerance: %s / %s",
        summary["mean_correct"],
        summary["expected_mean_correct"],
        summary["variance_correct"],
        summary["expected_variance_correct"],
        summary["mean_within_tolerance"],
        summary["variance_within_tolerance"],
    )
