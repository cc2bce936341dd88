"""Random guessing on true/false tests is binomial.

A test has ``n_questions`` questions; each random answer is right with probability ``p``
(``0.5`` for true/false). The number right in one test is Binomial(n, p): mean ``n·p``,
variance ``n·p·(1−p)``.

The reference is the lesson's per-question loop, made explicit and seeded
(:func:`simulate_scores_loop`)::

    rng = numpy.random.default_rng(seed)
    for test in range(n_tests):
        correct = 0
        for question in range(n_questions):
            if rng.random() < p:
                correct += 1

:func:`simulate_scores` and :func:`simulate_histogram` draw the same uniforms from the same
generator in the same (test-major) order as a ``(tests, questions)`` block, so they give
identical results for a seed, thousands of times faster. ``Generator.random`` consumes exactly
one 64-bit word per double with no buffering, so a block drawn in several row chunks is the same
stream as one drawn whole or number by number (tested).

Tolerances are ``z`` standard errors of the statistic under the binomial model (normal
approximation); the probability of a false alarm per check is ``erfc(z/√2)`` (≈2e-9 for z = 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Uniform draws per chunk of :func:`simulate_histogram` (≈32 MiB of float64), bounding memory.
CHUNK_DRAWS: int = 1 << 22


def simulate_scores_loop(seed: int, n_tests: int, n_questions: int, p: float) -> np.ndarray:
    """The lesson's per-question loop (slow reference): number right per test, shape ``(n_tests,)``, int64."""
    rng = np.random.default_rng(seed)
    scores = np.zeros(n_tests, dtype=np.int64)
    for test in range(n_tests):
        correct = 0
        for _question in range(n_questions):
            if rng.random() < p:
                correct += 1
        scores[test] = correct
    return scores


def simulate_scores(seed: int, n_tests: int, n_questions: int, p: float) -> np.ndarray:
    """Vectorised :func:`simulate_scores_loop`: identical result, shape ``(n_tests,)``, int64.

    Draws the whole ``(n_tests, n_questions)`` block at once (``n_tests·n_questions`` doubles
    of memory); use :func:`simulate_histogram` for large sizes.
    """
    rng = np.random.default_rng(seed)
    scores: np.ndarray = (rng.random((n_tests, n_questions)) < p).sum(axis=1, dtype=np.int64)
    return scores


def simulate_histogram(
    seed: int, n_tests: int, n_questions: int, p: float, chunk_draws: int = CHUNK_DRAWS
) -> np.ndarray:
    """How many tests got ``k`` right, for ``k = 0 … n_questions``: shape ``(n_questions + 1,)``, int64.

    Same draws as :func:`simulate_scores_loop` (test-major, one generator), processed in chunks
    of whole tests holding at most ``chunk_draws`` uniforms (at least one test), so memory stays
    bounded whatever ``n_tests``. ``simulate_histogram(...) == bincount(simulate_scores(...))``.
    """
    rng = np.random.default_rng(seed)
    rows = max(1, chunk_draws // max(1, n_questions))
    histogram = np.zeros(n_questions + 1, dtype=np.int64)
    done = 0
    while done < n_tests:
        size = min(rows, n_tests - done)
        scores = (rng.random((size, n_questions)) < p).sum(axis=1, dtype=np.int64)
        histogram += np.bincount(scores, minlength=n_questions + 1)
        done += size
    return histogram


def binomial_pmf(n: int, p: float) -> np.ndarray:
    """Exact Binomial(n, p) probabilities ``C(n, k) p^k (1−p)^(n−k)``, shape ``(n + 1,)``, float64."""
    return np.array([math.comb(n, k) * p**k * (1.0 - p) ** (n - k) for k in range(n + 1)], dtype=np.float64)


def binomial_fourth_central_moment(n: int, p: float) -> float:
    """``E[(X − np)^4]`` of X ~ Binomial(n, p): ``n p q (1 + 3 (n − 2) p q)`` with ``q = 1 − p``."""
    q = 1.0 - p
    return n * p * q * (1.0 + 3.0 * (n - 2) * p * q)


def false_alarm_probability(z: float) -> float:
    """Two-sided normal tail ``P(|Z| > z) = erfc(z/√2)``: the chance a correct model fails a z-bound."""
    return math.erfc(z / math.sqrt(2.0))


def histogram_moments(histogram: np.ndarray) -> tuple[float, float]:
    """Sample mean and unbiased (ddof = 1) sample variance of scores given their histogram.

    ``histogram[k]`` tests scored ``k``; shape ``(n + 1,)``. The sums are exact integers,
    so the result does not depend on summation order.
    """
    counts = [int(c) for c in histogram]
    total = sum(counts)
    s1 = sum(k * c for k, c in enumerate(counts))
    s2 = sum(k * k * c for k, c in enumerate(counts))
    mean = s1 / total
    variance = (s2 * total - s1 * s1) / (total * (total - 1)) if total > 1 else float("nan")
    return mean, variance


@dataclass(frozen=True)
class BinomialResult:
    """The binomial experiment: histogram table and summary (the JSON contract, see docs/results.md).

    Attributes
    ----------
    table:
        One row per score ``k = 0 … n``: ``n_correct``, ``fraction_correct``, ``observed_count``,
        ``observed_frequency``, ``exact_probability``, ``expected_count``, ``frequency_tolerance``,
        ``within_tolerance``.
    summary:
        Mean/variance against ``n·p`` and ``n·p·(1−p)``, the tolerances and their justification.
    """

    table: pd.DataFrame
    summary: dict[str, Any]


def binomial_experiment(histogram: np.ndarray, n_questions: int, p: float, z: float) -> BinomialResult:
    """Compare a simulated score histogram (shape ``(n_questions + 1,)``) with Binomial(n, p).

    Tolerances (``z`` standard errors, normal approximation, ``T`` tests, ``q = 1 − p``):

    * sample mean of the score: ``SE = sqrt(n p q / T)``;
    * unbiased sample variance: ``SE = sqrt(μ4/T − σ⁴ (T − 3) / (T (T − 1)))`` with
      ``σ² = n p q`` and ``μ4`` the binomial fourth central moment;
    * frequency of each score ``k``: ``SE = sqrt(P_k (1 − P_k) / T)``.
    """
    n_tests = int(histogram.sum())
    q = 1.0 - p
    pmf = binomial_pmf(n_questions, p)
    mean, variance = histogram_moments(histogram)
    expected_mean, expected_variance = n_questions * p, n_questions * p * q
    mu4 = binomial_fourth_central_moment(n_questions, p)
    se_mean = math.sqrt(expected_variance / n_tests)
    var_of_var = mu4 / n_tests - expected_variance**2 * (n_tests - 3) / (n_tests * (n_tests - 1))
    se_variance = math.sqrt(max(var_of_var, 0.0))
    frequency = histogram / n_tests
    frequency_se = np.sqrt(pmf * (1.0 - pmf) / n_tests)
    frequency_tol = z * frequency_se
    within = np.abs(frequency - pmf) <= frequency_tol
    table = pd.DataFrame(
        {
            "n_correct": np.arange(n_questions + 1, dtype=np.int64),
            "fraction_correct": np.arange(n_questions + 1, dtype=np.float64) / n_questions,
            "observed_count": histogram.astype(np.int64),
            "observed_frequency": frequency,
            "exact_probability": pmf,
            "expected_count": pmf * n_tests,
            "frequency_tolerance": frequency_tol,
            "within_tolerance": within,
        }
    )
    summary = {
        "n_questions": n_questions,
        "n_tests": n_tests,
        "p": p,
        "mean_correct": mean,
        "expected_mean_correct": expected_mean,
        "variance_correct": variance,
        "expected_variance_correct": expected_variance,
        "mean_fraction_correct": mean / n_questions,
        "expected_mean_fraction_correct": p,
        "variance_fraction_correct": variance / n_questions**2,
        "expected_variance_fraction_correct": p * q / n_questions,
        "mean_within_tolerance": abs(mean - expected_mean) <= z * se_mean,
        "variance_within_tolerance": abs(variance - expected_variance) <= z * se_variance,
        "histogram_within_tolerance": bool(within.all()),
        "tolerance": {
            "z": z,
            "false_alarm_probability_per_check": false_alarm_probability(z),
            "se_mean_correct": se_mean,
            "mean_correct": z * se_mean,
            "se_variance_correct": se_variance,
            "variance_correct": z * se_variance,
            "method": (
                "z standard errors under Binomial(n, p), normal approximation; mean: sqrt(npq/T); "
                "unbiased variance: sqrt(mu4/T - (npq)^2 (T-3)/(T(T-1))), mu4 = npq(1+3(n-2)pq); "
                "frequency of k: sqrt(P_k(1-P_k)/T)"
            ),
        },
    }
    return BinomialResult(table=table, summary=summary)


@dataclass(frozen=True)
class LongTest:
    """One long test answered at random.

    Attributes
    ----------
    table:
        One row per question ``i = 1 … m``: ``question``, ``correct`` (bool),
        ``running_fraction_correct`` (fraction right among the first ``i``).
    summary:
        Number and fraction right, its standard error ``sqrt(p q / m)``, z-score and tolerance.
    """

    table: pd.DataFrame
    summary: dict[str, Any]


def long_test(seed: int, n_questions: int, p: float, z: float) -> LongTest:
    """A single test of ``n_questions`` questions, drawn like one row of :func:`simulate_scores`.

    ``correct`` has shape ``(n_questions,)``; the fraction right should be within
    ``z·sqrt(p(1−p)/n_questions)`` of ``p``.
    """
    rng = np.random.default_rng(seed)
    correct = rng.random(n_questions) < p
    running = np.cumsum(correct, dtype=np.int64) / np.arange(1, n_questions + 1)
    n_correct = int(correct.sum())
    fraction = n_correct / n_questions
    se = math.sqrt(p * (1.0 - p) / n_questions)
    table = pd.DataFrame(
        {
            "question": np.arange(1, n_questions + 1, dtype=np.int64),
            "correct": correct,
            "running_fraction_correct": running,
        }
    )
    summary = {
        "seed": seed,
        "n_questions": n_questions,
        "n_correct": n_correct,
        "fraction_correct": fraction,
        "expected_fraction_correct": p,
        "se_fraction_correct": se,
        "z_score": (fraction - p) / se,
        "tolerance": z * se,
        "within_tolerance": abs(fraction - p) <= z * se,
    }
    return LongTest(table=table, summary=summary)
