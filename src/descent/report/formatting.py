"""Numbers for reading: rounded text for tables and sentences (standard library only).

The exact values travel beside the text (see :func:`descent.report.tables.cell`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Significant digits a reader gets by default, in sentences (the ``num`` filter) and table
#: cells; the exact value is a hover (``title``), a ``data-value`` and a CSV away.
READING_DIGITS = 4


def format_number(value: Any, digits: int = READING_DIGITS) -> str:
    """A float for reading: ``digits`` significant digits (:data:`READING_DIGITS` by default),
    scientific outside [1e-3, 1e6); a number of more integer digits than ``digits`` is rounded
    to a whole number rather than written with an exponent.

    ``None`` and NaN give ``'–'``; booleans ``'yes'``/``'no'``; integers are printed whole.

    >>> format_number(173.59982514381409)
    '173.6'
    >>> format_number(3.3e-08), format_number(1.2675e-7)
    ('3.3e-8', '1.267e-7')
    >>> format_number(46114.73), format_number(0.0601445)
    ('46115', '0.06014')
    >>> format_number(None)
    '–'
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and not 1e-3 <= abs(x) < 1e6:
        mantissa, exponent = f"{x:.{max(0, digits - 1)}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent)}"
    if abs(x) >= 10**digits:  # every integer digit, rounded to a whole number: 46115, not 4.611e+04
        return f"{x:.0f}"
    text = f"{x:.{digits}g}"
    return text


def format_vector(values: Sequence[Any], digits: int = 4) -> str:
    """``[a, b, …]`` with each entry through :func:`format_number`.

    >>> format_vector([32.56471, 1e-9])
    '[32.56, 1e-9]'
    """
    return "[" + ", ".join(format_number(v, digits) for v in values) + "]"


def format_short(value: Any) -> str:
    """Three significant digits (``'%.3g'``), ``'∞'`` for ``None`` and non-finite values.

    >>> format_short(0.000331234), format_short(None)
    ('0.000331', '∞')
    """
    if value is None or not math.isfinite(float(value)):
        return "∞"
    return f"{float(value):.3g}"


def format_rate(value: Any) -> str:
    """A contraction rate per step, with enough digits to tell it from 1 (seven near 1).

    >>> format_rate(0.99999789), format_rate(0.5)
    ('0.9999979', '0.5')
    """
    if value is None or not math.isfinite(float(value)):
        return "∞"
    value = float(value)
    return f"{value:.7g}" if 0.99 < abs(value) < 1.01 else f"{value:.3g}"


def format_general(value: Any) -> str:
    """Python's shortest general format (``'%g'``), as the accuracy targets are written: ``1e-06``."""
    return f"{float(value):g}"
