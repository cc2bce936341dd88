"""``make gpu-check``: without CUDA it says so and exits 0; its code runs (small) on the CPU, and
its checks fail where a result is wrong."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from descent.perf import gpu_check


def test_without_cuda_it_says_so_and_exits_0(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench/gpu_check.py"), "--out", str(tmp_path / "g.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "CUDA not available" in proc.stdout
    assert not (tmp_path / "g.json").exists()


def test_the_check_runs_its_code_on_the_cpu(tmp_path):
    out = tmp_path / "g.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/gpu_check.py"),
            "--device",
            "cpu",
            "--matmul-sizes",
            "32",
            "--fit-sizes",
            "500",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    rows = json.loads(out.read_text())["rows"]
    assert [r["what"] for r in rows if r["part"] == "matmul"] == ["torch.matmul float32", "torch.matmul float64"]
    fits = {r["what"]: r for r in rows if r["part"] == "fit"}
    assert len(fits) == len(gpu_check.ITERATIVE) + 1
    for row in fits.values():
        assert row["error"] < 1e-4, row  # the same fit on the same device: (almost) the same numbers
    for row in rows:
        if row["part"] == "matmul":
            assert row["error"] <= row["tolerance"] and row["gflops"] > 0


def test_a_wrong_product_fails_the_check(monkeypatch):
    from descent.matmul.products import MatmulMismatchError

    right = gpu_check.torch_runner

    def wrong(A, B, device):  # a backend that returns A + B instead of A @ B
        return dataclasses.replace(right(A, B, device), fn=lambda: torch.from_numpy(A + B))

    monkeypatch.setattr(gpu_check, "torch_runner", wrong)
    with pytest.raises(MatmulMismatchError):
        gpu_check.matmul_rows("cpu", [16], ["float64"])
