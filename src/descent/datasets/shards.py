"""Datasets stored as several parquet shards: ``shards: N`` on a generated dataset, or a folder of
parquet files as the ``path`` of a ``kind: file`` dataset.

Each shard is written by its own job (:func:`write_shard`): a generated shard draws its rows
from its own seed, derived from the dataset's seed and the shard's number alone
(:func:`shard_seed`; its rows :func:`descent.moments.contiguous_part` of the whole), so the data are the same whatever runs the jobs, where and in which order;
a file shard is one of the folder's files, validated and copied like a one-file table. Each
writes a sidecar with its rows, checksum and column moments; the dataset's sidecar
(:func:`manifest`, ``results/datasets/{dataset}.json``) lists them in order, and every reader
takes the shard files in that order (:func:`descent.io.data_files`). A dataset without shards is
one file, as ever.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from descent.datafile import folder_float32, folder_tables, is_folder, sha256, shard_spec, stream_to_parquet
from descent.datasets.files import file_metadata
from descent.datasets.kinds import recipe
from descent.datasets.write import write_generated
from descent.io import DataError
from descent.moments import Moments, block_moments, contiguous_part, merge_all


def shard_count(spec: dict[str, Any]) -> int:
    """Shards of a dataset spec: ``shards`` of a generated one (default 1), the parquet files of a
    ``kind: file`` folder, else 1."""
    if spec["kind"] == "file":
        return len(folder_tables(spec)) if is_folder(spec) else 1
    return int(spec.get("shards", 1))


def is_sharded(spec: dict[str, Any]) -> bool:
    """Whether the dataset is stored as shards (``results/datasets/{dataset}/shard-*.parquet``)
    rather than one file (``results/datasets/{dataset}.parquet``)."""
    return is_folder(spec) if spec["kind"] == "file" else shard_count(spec) > 1


def shard_label(index: int) -> str:
    """The ``{shard}`` wildcard of shard ``index`` (zero-padded, so names sort in shard order)."""
    return f"{index:05d}"


def shard_seed(seed: int, index: int) -> int:
    """The seed shard ``index`` draws from: NumPy's ``SeedSequence(seed, spawn_key=(index,))``
    (independent streams, the same as ``SeedSequence(seed).spawn(...)[index]``) as a 32-bit
    integer, which every generator kind accepts."""
    return int(np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1)[0])


def generated_shard_spec(spec: dict[str, Any], index: int) -> dict[str, Any]:
    """The one-file spec of shard ``index`` of a generated dataset: its rows, its seed, and the
    dataset's true weights (drawn once from the dataset's seed when the spec does not give them)."""
    shards = shard_count(spec)
    start, stop = contiguous_part(int(spec["n"]), shards, index)
    weights = recipe(spec).true_weights
    resolved = {key: value for key, value in spec.items() if key != "shards"}
    return {**resolved, "n": stop - start, "seed": shard_seed(int(spec["seed"]), index), "true_weights": weights}


def file_moments(path: str | Path, features: list[str], target: str) -> Moments:
    """Column moments (features, then the target) of one parquet file, read a row group at a time."""
    import pyarrow.parquet as pq

    parts = []
    with pq.ParquetFile(path, pre_buffer=False) as handle:
        for batch in handle.iter_batches(columns=[*features, target]):
            columns = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(len(features) + 1)]
            parts.append(block_moments(np.column_stack(columns[:-1]), columns[-1]))
    total = merge_all(parts)
    if total is None:
        raise DataError(f"{path}: no rows")
    return total


def write_shard(name: str, spec: dict[str, Any], index: int, out: str, standardized: bool = False) -> dict[str, Any]:
    """Write shard ``index`` of dataset ``name`` to ``out`` (atomically) and return its sidecar:
    ``dataset``, ``shard``, ``shards``, ``rows``, ``sha256``, ``dtype``, ``moments`` (of the
    stored values, :class:`descent.moments.Moments`), and ``seed`` (generated) or ``source``
    (the folder's file). Errors name the file and field."""
    shards = shard_count(spec)
    if not 0 <= index < shards:
        raise DataError(f"datasets.{name}: no shard {index} (it has {shards})")
    if spec["kind"] == "file":
        one = shard_spec(spec, index, name)
        facts = stream_to_parquet(one, out, name, standardized, float32=folder_float32(spec, name))
        features, target, rows, dtype = facts["features"], facts["target"], facts["n"], facts["dtype"]
        origin: dict[str, Any] = {"source": facts["source"]}
    else:
        one = generated_shard_spec(spec, index)
        if one["n"] < 2:
            raise DataError(
                f"datasets.{name}.shards: {shards} shards of {spec['n']} rows leave shard {index} with {one['n']} "
                "row(s); each needs at least 2"
            )
        meta = write_generated(one, out, name)
        features, target, rows, dtype = meta["features"], meta["target"], meta["n"], meta["dtype"]
        origin = {"seed": one["seed"]}
    return {
        "dataset": name,
        "shard": index,
        "shards": shards,
        "features": list(features),
        "target": target,
        "rows": int(rows),
        "dtype": dtype,
        "sha256": sha256(Path(out)),
        "moments": file_moments(out, list(features), target).as_dict(),
        **origin,
    }


def manifest(name: str, spec: dict[str, Any], shards: list[dict[str, Any]], paths: list[str]) -> dict[str, Any]:
    """The sidecar of a sharded dataset (the contract of ``results/datasets/{dataset}.json``, see
    docs/results.md) from its shards' sidecars and files, in shard order: the one-file fields
    (``n`` the total rows) and ``shards``, one entry per shard: ``path``, ``rows``, ``sha256``,
    ``moments`` (and ``seed`` or ``source``). Refuses shards that disagree (columns, dtype, count)."""
    if [s["shard"] for s in shards] != list(range(len(shards))) or any(s["shards"] != len(shards) for s in shards):
        raise DataError(
            f"datasets.{name}: shard sidecars out of order or of another layout: {[s['shard'] for s in shards]}"
        )
    first = shards[0]
    for shard, path in zip(shards, paths):
        for field in ("features", "target", "dtype"):
            if shard[field] != first[field]:
                raise DataError(f"{path}: {field} {shard[field]!r}, but shard 0 has {first[field]!r}")
    entries = [
        {
            "path": str(path),
            **{key: shard[key] for key in ("rows", "sha256", "moments", "seed", "source") if key in shard},
        }
        for shard, path in zip(shards, paths)
    ]
    n = sum(int(shard["rows"]) for shard in shards)
    if spec["kind"] == "file":
        source = {"path": str(spec["path"]), "format": "parquet", "files": [s["source"]["path"] for s in shards]}
        facts = {
            "features": first["features"],
            "target": first["target"],
            "n": n,
            "dtype": first["dtype"],
            "source": source,
        }
        meta = file_metadata(name, spec, facts)
    else:
        meta = recipe(spec).metadata(name)
        if meta["n"] != n:
            raise DataError(f"datasets.{name}: the shards hold {n} rows, the spec {meta['n']}")
        meta["dtype"] = first["dtype"]
    return {**meta, "shards": entries}
