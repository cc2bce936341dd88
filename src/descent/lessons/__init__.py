"""Lesson 0's foundation experiments, one module each, imported only by the job that needs it.

:mod:`descent.lessons.checks`
    Cross-field checks of the ``lessons:`` config section (run at workflow parse time;
    :func:`check_lessons_config` and :func:`lessons_problems` are re-exported here).
:mod:`descent.lessons.binomial`
    Random guessing on true/false tests is binomial (vectorised simulation, exact PMF,
    statistically justified tolerances, one long test).
:mod:`descent.lessons.vectors`
    The worked vector examples: unit vectors, a dot product, a linear model with the bias folded in.
:mod:`descent.lessons.descent1d`
    The one-dimensional gradient-descent loop and its stopping rules.
:mod:`descent.lessons.descent_x2`
    Gradient descent on ``y = x²`` with converging and diverging step sizes.
:mod:`descent.lessons.minima`
    Descent on a polynomial with several local minima (exact rational values), restarted from
    many random starts.
:mod:`descent.lessons.figures`
    Matplotlib figures of the above (PNG and SVG, written atomically).

Importing this package imports nothing heavy (no NumPy, pandas or matplotlib).
"""

from __future__ import annotations

from descent.lessons.checks import LOOP_CHECK_MAX_DRAWS, check_lessons_config, lessons_problems

__all__ = ["LOOP_CHECK_MAX_DRAWS", "check_lessons_config", "lessons_problems"]
