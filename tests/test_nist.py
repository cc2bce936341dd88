"""NIST StRD as the yardstick: the shipped datasets, their certified values derived exactly, and
the digits table the benchmark prints."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from conftest import ROOT
from descent.config.fits import default_fit_settings
from descent.datasets.nist import NIST_DATASETS, certified, certified_residual_sd, nist_dataset
from descent.fitting.exact import digits, exact_least_squares, log_relative_error
from descent.perf.nist import PROJECT_PATHS, digits_row, format_digits, nist_table


def test_the_datasets_have_nists_shapes_and_known_solutions():
    shapes = {
        "norris": (36, 1),
        "noint1": (11, 1),
        "noint2": (3, 1),
        "longley": (16, 6),
        "wampler1": (21, 5),
        "wampler2": (21, 5),
    }
    for name in NIST_DATASETS:
        data = nist_dataset(name)
        assert data.X.shape == shapes[name] and data.y.shape == (shapes[name][0],)
    # Wampler 1 and 2: exact polynomial data, certified values 1 and 10^-p exactly.
    assert [float(v) for v in certified(nist_dataset("wampler1"))] == [1.0] * 6
    assert [float(v) for v in certified(nist_dataset("wampler2"))] == [0.1, 0.01, 0.001, 1e-4, 1e-5, 1.0]
    with pytest.raises(ValueError, match="unknown NIST dataset"):
        nist_dataset("filip")


def test_exact_certified_values_match_the_published_ones():
    # Norris.dat (shipped by SciPy) prints NIST's certified values to 15 digits; Longley's are the
    # published B1..B6, B0 (NIST StRD), derived here from the decimal data in fractions.
    norris = nist_dataset("norris")
    assert norris.published is not None
    for published, exact in zip(norris.published, certified(norris)):
        assert log_relative_error(published, exact) >= 14
    longley = certified(nist_dataset("longley"))
    assert log_relative_error(15.0618722713733, longley[0]) >= 14
    assert log_relative_error(-3482258.63459582, longley[-1]) >= 14


@pytest.mark.parametrize("name", ["norris", "wampler2"])
def test_the_digits_table_counts_every_path_against_exact_arithmetic(name):
    data = nist_dataset(name)
    row = digits_row(data, "raw", lambda method, **c: default_fit_settings(ROOT / "schemas", method, **c))
    exact = exact_least_squares(data.X, data.y)
    assert row["digits"]["auto"] >= 15 and row["certified_digits"]["auto"] >= 15
    for column, _, _ in PROJECT_PATHS:
        if row["status"][column] == "closed_form":  # the certificate never claims too much
            assert row["certified_digits"][column] <= row["digits"][column] + 1e-9
    np.testing.assert_allclose(
        row["digits"]["numpy.linalg.lstsq"],
        digits(np.linalg.lstsq(np.column_stack([data.X, np.ones(len(data.X))]), data.y, rcond=None)[0], exact),
    )
    assert row["digits"]["numpy.polyfit"] is not None  # a polynomial design


def test_the_table_lists_what_is_not_shipped():
    table = nist_table(lambda method, **c: default_fit_settings(ROOT / "schemas", method, **c), ["norris"])
    assert len(table["rows"]) == 2 and "filip" in table["not_shipped"]
    assert "norris" in format_digits(table)


def test_noint_certified_values_follow_from_exact_arithmetic():
    # Through the origin B1 = Σxy/Σx² exactly; NIST's published B1 and residual SD (15 digits)
    # are checked against it, not trusted.
    for name, published_b1, published_sd in (
        ("noint1", 2.07438016528926, 3.56753034006338),
        ("noint2", 0.727272727272727, 0.369274472937998),
    ):
        data = nist_dataset(name)
        assert not data.fit_intercept and data.published == (published_b1, 0.0)
        x = [Fraction(int(v)) for v in data.X[:, 0]]
        y = [Fraction(int(v)) for v in data.y]
        b1 = sum(a * b for a, b in zip(x, y)) / sum(a * a for a in x)
        assert certified(data) == [b1, Fraction(0)]
        assert log_relative_error(published_b1, b1) >= 14
        assert log_relative_error(published_sd, Fraction(certified_residual_sd(data))) >= 14
        assert data.residual_sd == published_sd
    assert certified(nist_dataset("noint1"))[0] == Fraction(251, 121)  # Σxy/Σx² = 118990/57365
    assert certified(nist_dataset("noint2"))[0] == Fraction(8, 11)


@pytest.mark.parametrize("name", ["noint1", "noint2"])
@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_every_closed_form_path_reaches_13_digits_through_the_origin(name, scaling):
    data = nist_dataset(name)
    row = digits_row(data, scaling, lambda method, **c: default_fit_settings(ROOT / "schemas", method, **c))
    assert row["fit_intercept"] is False
    for column, _, _ in PROJECT_PATHS:
        assert row["status"][column] == "closed_form", column
        assert row["digits"][column] >= 13, (column, row["digits"][column])
        assert row["certified_digits"][column] <= row["digits"][column] + 1e-9
    assert row["digits"]["before"] >= 13
    if scaling == "raw":  # the libraries fit the model without a constant too
        assert row["digits"]["numpy.polyfit"] is None  # polyfit always fits c_0
        for column in ("numpy.linalg.lstsq", "scikit-learn", "statsmodels"):
            assert row["digits"][column] >= 13, column
