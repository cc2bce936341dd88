"""Regression datasets: synthetic ones with known parameters, and a user's own table.

Every generator is a pure function of its specification (a dict validated against
``schemas/config.schema.yaml``): the same spec gives the same numbers, bit for bit.
Three generator kinds exist, plus ``file`` (:func:`from_file`, a parquet or CSV table read and
validated by :mod:`descent.datafile`, whose true parameters are unknown):

``torch_uniform``
    The Paris-rent lesson: ``torch.manual_seed(seed)``, features ``torch.rand(n) * (high - low) + low``,
    noise ``torch.randn(n) * noise_std``, target ``w·x + b + noise`` in float32, in exactly the
    lesson's order of operations so the values are identical to the lesson's.
``numpy_legacy_uniform``
    Lesson 0: ``np.random.seed(seed)``, ``X = scale * np.random.rand(n, k)``,
    ``y = b + X·w + noise_std * np.random.randn(n, 1)`` in float64 (NumPy's legacy global RNG).
``multiscale_gaussian``
    Features ``offset_j + scale_j * N(0, 1)`` with scales spread log-uniformly over
    ``scale_range`` so that unscaled gradient descent is badly conditioned, drawn with
    ``numpy.random.default_rng(seed)``; weights drawn too unless given.

Each generator is a :class:`Recipe` (:func:`recipe`) whose rows are drawn in consecutive chunks
that give exactly the numbers of one whole draw (:func:`row_bounds` says why), so the dataset job
writes them straight to parquet in row groups (:func:`write_generated`) without ever holding the
data, and :func:`generate` gives the same rows in memory (tests and the report).

The package: :mod:`~descent.datasets.recipe` (the dataset, its recipe, its sidecar, chunk
bounds), :mod:`~descent.datasets.kinds` (the three generators), :mod:`~descent.datasets.write`
(in memory or to parquet), :mod:`~descent.datasets.files` (``kind: file``, the diabetes table).
"""

from descent.datasets.files import diabetes_frame, export_diabetes, file_metadata, from_file
from descent.datasets.kinds import legacy_numpy_state_after_data, recipe
from descent.datasets.recipe import (
    DATASET_KINDS,
    DIABETES_TARGET,
    GENERATOR_KINDS,
    Dataset,
    Recipe,
    RowChunks,
    row_bounds,
)
from descent.datasets.write import chunk_and_group_rows, generate, write_generated

__all__ = [
    "DATASET_KINDS",
    "DIABETES_TARGET",
    "GENERATOR_KINDS",
    "Dataset",
    "Recipe",
    "RowChunks",
    "chunk_and_group_rows",
    "diabetes_frame",
    "export_diabetes",
    "file_metadata",
    "from_file",
    "generate",
    "legacy_numpy_state_after_data",
    "recipe",
    "row_bounds",
    "write_generated",
]
