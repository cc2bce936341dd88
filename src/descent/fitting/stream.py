"""Fitting data larger than memory: row chunks read from parquet, one pass at a time.

* :func:`parquet_chunks` — a parquet file's feature and target columns as ``(X (m, k), y (m,))``
  row chunks (pyarrow record batches), never the whole table, the next one read in a background
  thread (:func:`prefetched`); :func:`parquet_row_groups`, whole row groups in a given order;
* :func:`chunk_statistics` — the standardization statistics in one pass (Chan's pairwise merge of
  chunk means and sums of squares, float64);
* :func:`gradient_pass` — the loss and gradient accumulated over one pass of the chunks;
* :func:`sample_rows` / :func:`load_sample` — an evenly spaced sample for the jobs that only
  check or draw a dataset too large for memory;
* :func:`write_synthetic_parquet` — a synthetic regression written in row groups, per-group
  seeds, without materializing X (the benchmark's larger-than-RAM dataset).

Memory is bounded by the chunk size (a row group for mini-batches), independent of ``n``. On data that fits, the results agree
with the in-memory path to rounding (the summation order of the chunks differs).
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from descent.fitting.closed_form import Chunks, blocks
from descent.fitting.common import FitError, compute_threads
from descent.fitting.scaling import Standardization
from descent.io import DataError, DataFiles, LoadedDataset, data_files, read_json
from descent.moments import Moments, block_moments, merge_all

T = TypeVar("T")

#: Rows per chunk read from parquet (a few MiB for ten float32 features).
STREAM_ROWS = 1 << 18
#: Chunks read ahead of the computation (each a few MiB).
PREFETCH_DEPTH = 2


def parquet_chunks(
    path: DataFiles, features: list[str], target: str, rows: int = STREAM_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(X (m, k), y (m,))`` chunks of ``features`` and ``target`` from ``path`` (a parquet file,
    or a sharded dataset's files, read one after the other), in file order (``X`` column-major,
    in the file's dtype). The next chunk is read in a background thread while the caller
    computes on this one (:func:`prefetched`)."""
    return prefetched(_read_chunks(data_files(path), features, target, rows))


def _read_chunks(
    paths: list[Path], features: list[str], target: str, rows: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:

    k = len(features)
    for path in paths:
        # pre_buffer=False: pyarrow's default read-ahead keeps buffers alive as it goes, so a whole
        # pass over a 28 GiB file was killed for memory (measured: peak 687 MB already at 2·10⁷ rows).
        with _open_parquet(path) as handle:
            for batch in handle.iter_batches(batch_size=rows, columns=[*features, target]):
                columns = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(k + 1)]
                # Column-major: parquet stores columns, so each copy is one contiguous run.
                X = np.empty((batch.num_rows, k), dtype=np.result_type(*columns[:k]), order="F")
                for j in range(k):
                    X[:, j] = columns[j]
                yield X, columns[k]


def _open_parquet(path: Path) -> Any:
    """``pyarrow.parquet.ParquetFile`` of ``path`` without read-ahead; a missing or unreadable
    file (a shard deleted or damaged after its dataset was written) raises ``DataError`` naming it."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path, pre_buffer=False)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file (a shard of this dataset is missing: rerun its dataset job)") from exc
    except Exception as exc:  # pyarrow raises several types for corrupt or non-parquet files
        raise DataError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from exc


def prefetched(items: Iterator[T], depth: int = PREFETCH_DEPTH) -> Iterator[T]:
    """``items`` produced by a background thread up to ``depth`` ahead of the consumer, so that
    reading (pyarrow and NumPy copies release the GIL) overlaps computing. Yields the same items
    in the same order; an exception in the producer is raised in the consumer; a consumer that
    stops early stops the producer (memory stays ``depth`` + 2 items)."""
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(message: tuple[str, Any]) -> bool:
        """Queue ``message`` unless the consumer has stopped (then False)."""
        while not stop.is_set():
            try:
                slots.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(("item", item)):
                    return
            offer(("end", None))
        except BaseException as error:  # handed to the consumer, raised there
            offer(("error", error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's own clean-up (the parquet file's handle)

    producer = threading.Thread(target=produce, name="descent-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()  # a producer waiting on a full queue notices within 0.1 s
        producer.join()


def sample_rows(chunks: Chunks, n: int, max_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``ceil(n / max_rows)``-th row of a dataset of ``n`` rows read as ``chunks``, as
    ``(X (m, k), y (m,))`` with ``m ≤ max_rows``: a deterministic sample spread over the whole file
    (not its head, which a sorted file would bias), read in one pass in bounded memory."""
    step = max(1, math.ceil(n / max_rows))
    kept_X: list[np.ndarray] = []
    kept_y: list[np.ndarray] = []
    offset = 0  # index of the first row of the current chunk
    for X, y in chunks:
        first = (-offset) % step
        kept_X.append(np.ascontiguousarray(X[first::step]))
        kept_y.append(np.array(y[first::step]))
        offset += len(X)
    if not kept_X:
        raise FitError("no rows to sample")
    return np.concatenate(kept_X), np.concatenate(kept_y)


def load_sample(parquet: DataFiles, meta_path: str | Path, max_rows: int) -> Any:
    """A :class:`descent.io.LoadedDataset` of at most ``max_rows`` evenly spaced rows
    (:func:`sample_rows`) of a dataset too large for memory, for the jobs that only check or
    draw it (the gradient check, the data figure); ``meta`` is the sidecar with ``sampled_from``
    (the file's rows) added."""

    meta = read_json(meta_path)
    features, target = list(meta["features"]), str(meta["target"])
    try:
        X, y = sample_rows(parquet_chunks(parquet, features, target), int(meta["n"]), max_rows)
    except Exception as exc:  # pyarrow raises several types for corrupt or non-parquet files
        raise DataError(f"{parquet}: could not read a sample ({type(exc).__name__}: {exc})") from exc
    return LoadedDataset(X=X, y=y, meta={**meta, "sampled_from": int(meta["n"])})


def chunk_moments(chunks: Chunks) -> Moments:
    """Means and centred sums of squares of the features and the target over ``chunks`` in one
    pass (float64, blocks merged left to right, :mod:`descent.moments`)."""
    total = merge_all(block_moments(X, y) for X, y in blocks(chunks))
    if total is None:
        raise FitError("no rows")
    return total


def moments_standardization(moments: Moments, features: list[str]) -> Standardization:
    """The standardization of data with these ``moments`` (features, then the target; sample
    standard deviations, ddof = 1). Refuses fewer than 2 rows, and a constant column by name."""
    if moments.count < 2:
        raise FitError("fewer than 2 rows: cannot standardize")
    std = moments.std()
    constant = [name for name, s in zip([*features, "target"], std) if not s > 0]
    if constant:
        raise FitError(f"constant column(s) {', '.join(constant)}: cannot standardize (standard deviation 0)")
    return Standardization(moments.mean[:-1], std[:-1], float(moments.mean[-1]), float(std[-1]))


def chunk_statistics(chunks: Chunks, features: list[str], center: bool = True) -> tuple[Standardization, int]:
    """Means and sample standard deviations (ddof=1) of the features and the target in one pass
    over ``chunks`` (float64, Chan et al.'s merge of chunk means and centred sums of squares),
    and the number of rows. Refuses a constant column by name. Without ``center`` (a fit without
    an intercept) the root mean squares instead, means 0
    (:func:`descent.fitting.scaling.scaling_stats`)."""
    if not center:
        return _root_mean_squares(chunks, features)
    try:
        moments = chunk_moments(chunks)
    except FitError:
        raise FitError("fewer than 2 rows: cannot standardize") from None
    return moments_standardization(moments, features), moments.count


def _root_mean_squares(chunks: Chunks, features: list[str]) -> tuple[Standardization, int]:
    """:func:`chunk_statistics` without centring: ``√(Σx²/n)`` of every feature and the target,
    sums of squares accumulated in float64 relative to the running largest magnitude."""
    n = 0
    top: np.ndarray | None = None
    squares = np.zeros(0)
    for X, y in blocks(chunks):
        columns = np.empty((X.shape[1] + 1, len(X)))
        columns[:-1] = X.T
        columns[-1] = y
        block_top = np.abs(columns).max(axis=1) if len(X) else np.zeros(len(columns))
        if top is None:
            top, squares = np.zeros(len(columns)), np.zeros(len(columns))
        new_top = np.maximum(top, block_top)
        scale = np.where(new_top > 0, new_top, 1.0)
        squares = squares * (top / scale) ** 2 + ((columns / scale[:, None]) ** 2).sum(axis=1)
        top, n = new_top, n + len(X)
    if top is None or n < 1:
        raise FitError("no rows: cannot scale")
    rms = np.where(top > 0, top, 1.0) * np.sqrt(squares / n) * (top > 0)
    zero = [name for name, s in zip([*features, "target"], rms) if not s > 0]
    if zero:
        raise FitError(f"all-zero column(s) {', '.join(zero)}: cannot scale (root mean square 0)")
    return Standardization(np.zeros(len(features)), rms[:-1], 0.0, float(rms[-1]), centered=False), n


def gradient_pass(
    chunks: Chunks, w: np.ndarray, b: float, stats: Standardization | None
) -> tuple[float, np.ndarray, float, int]:
    """Mean loss, ``∂w`` ((k,)) and ``∂b`` of the squared error at ``(w, b)`` (fitted space),
    accumulated over one pass of ``chunks`` in float64: ``-2/n·Xᵀr``, ``-2/n·Σr``.

    Each chunk is read once by the fused pass (:func:`descent.fitting.fused.partial_sums`:
    widened, standardized when ``stats``, residual and sums per cache-sized block) on
    :func:`descent.fitting.common.compute_threads` threads."""
    # numba (imported by descent.fitting.fused) only where data are streamed: large by definition
    from descent.fitting import fused

    w64 = np.asarray(w, dtype=np.float64)
    sums, n, workers = np.zeros(len(w64) + 2), 0, compute_threads()
    for X, y in chunks:
        sums += fused.partial_sums(X, y, w64, float(b), stats, workers)
        n += len(X)
    if n == 0:
        raise FitError("no rows in the data")
    k = len(w64)
    return float(sums[k + 1]) / n, 2.0 * sums[:k] / n, 2.0 * float(sums[k]) / n, n


def parquet_rows(
    path: DataFiles, features: list[str], target: str, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[start, stop)`` of ``path`` (a file, or a sharded dataset's files in order, rows
    numbered across them) as ``X`` (m, k) and ``y`` (m,), in the dtypes :func:`descent.io.load_dataset`
    gives, reading only the row groups that hold them: a data-parallel rank's share."""
    import pyarrow as pa

    pieces = []
    offset = 0
    for file in data_files(path):
        with _open_parquet(file) as handle:
            meta = handle.metadata
            for group in range(meta.num_row_groups):
                rows = meta.row_group(group).num_rows
                lo, hi = max(start, offset), min(stop, offset + rows)
                if lo < hi:
                    table = handle.read_row_group(group, columns=[*features, target])
                    pieces.append(table.slice(lo - offset, hi - lo))
                offset += rows
        if offset >= stop:
            break
    if not pieces or sum(p.num_rows for p in pieces) != stop - start:
        raise DataError(f"{data_files(path)[0]}: rows {start}-{stop} asked, the data hold {offset}")
    table = pa.concat_tables(pieces, promote_options="permissive")
    columns = [table.column(c).to_numpy() for c in [*features, target]]
    dtype = np.result_type(*columns[:-1])
    X = np.empty((stop - start, len(features)), dtype=dtype if np.issubdtype(dtype, np.floating) else np.float64)
    for j in range(len(features)):
        X[:, j] = columns[j]
    return X, np.array(columns[-1], dtype=np.result_type(columns[-1].dtype, np.float32))


def parquet_row_count(path: DataFiles) -> int:
    """Rows of ``path`` (all its files'), from their footers."""
    total = 0
    for file in data_files(path):
        with _open_parquet(file) as handle:
            total += int(handle.metadata.num_rows)
    return total


def row_groups(path: DataFiles) -> list[tuple[Path, int]]:
    """Every row group of ``path`` (a file, or a sharded dataset's files in order) as
    ``(file, group number in that file)``, numbered across the files (from their footers)."""
    groups = []
    for file in data_files(path):
        with _open_parquet(file) as handle:
            groups += [(file, group) for group in range(handle.num_row_groups)]
    return groups


def row_group_count(path: DataFiles) -> int:
    """Number of row groups of ``path`` (all its files')."""
    return len(row_groups(path))


def parquet_row_groups(
    path: DataFiles, features: list[str], target: str, order: list[int] | np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The row groups of ``path`` numbered by ``order`` (across its files, :func:`row_groups`), as
    ``(X (m, k), y (m,))`` (X column-major), one group read at a time, the next read ahead in a
    background thread (:func:`prefetched`)."""
    numbered = row_groups(path)

    def read() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        k = len(features)
        handles: dict[Path, Any] = {}
        try:
            for index in order:
                file, group = numbered[int(index)]
                if file not in handles:
                    handles[file] = _open_parquet(file)
                table = handles[file].read_row_group(group, columns=[*features, target])
                columns = [table.column(i).to_numpy() for i in range(k + 1)]
                X = np.empty((table.num_rows, k), dtype=np.result_type(*columns[:k]), order="F")
                for j in range(k):
                    X[:, j] = columns[j]
                y = np.array(columns[k])
                del table, columns  # not held while the group waits in the queue
                yield X, y
        finally:
            for handle in handles.values():
                handle.close()

    return prefetched(read(), depth=1)  # a row group is large: read one ahead, no more


def shuffled_row_groups(path: DataFiles, features: list[str], target: str) -> Callable[[np.random.Generator], Chunks]:
    """``shuffled(rng)`` for :func:`fit_streaming`: every row group of ``path`` once, in the order
    ``rng.permutation`` draws."""
    groups = row_group_count(path)
    return lambda rng: parquet_row_groups(path, features, target, rng.permutation(groups))


def write_synthetic_parquet(
    path: str | Path, n: int, k: int, seed: int, dtype: str = "float32", rows_per_group: int = 1 << 20
) -> dict[str, Any]:
    """A regression ``y = X·w + b + N(0, 1)`` with ``X`` (n, k) standard normal times column
    scales 1…10 plus offsets, written to ``path`` in row groups of ``rows_per_group``: each group
    drawn from its own seed (``SeedSequence(seed).spawn``), so memory stays one group whatever
    ``n``. Returns the true weights, bias and the feature/target names."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = np.random.SeedSequence(seed)
    rng = np.random.default_rng(root)
    scales = np.logspace(0, 1, k)
    w, b = rng.uniform(-2, 2, size=k) / scales, float(rng.uniform(-5, 5))
    names = [f"x{j}" for j in range(k)]
    schema = pa.schema([(name, pa.from_numpy_dtype(np.dtype(dtype))) for name in [*names, "y"]])
    groups = math.ceil(n / rows_per_group)
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for group, child in zip(range(groups), root.spawn(groups)):
            m = min(rows_per_group, n - group * rows_per_group)
            g = np.random.default_rng(child)
            X = g.standard_normal((m, k), dtype=np.float32 if dtype == "float32" else np.float64) * scales + 3 * scales
            y = X @ w + b + g.standard_normal(m)
            columns = [pa.array(X[:, j].astype(dtype)) for j in range(k)] + [pa.array(y.astype(dtype))]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return {"features": names, "target": "y", "true_weights": w.tolist(), "true_bias": b, "n": n}
