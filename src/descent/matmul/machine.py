"""Facts about the machine a benchmark ran on, and an estimate of its peak floating-point rate.

Everything here is read, never assumed silently: each number of the peak estimate carries the
source it came from (``/proc/cpuinfo``, CPU flags, a table by CPU family, a datasheet table by
GPU name, or the configuration), so a reader can check and correct it.

CPU peak (GFLOP/s) = cores × FMA units per core × SIMD lanes × 2 (one FMA = 2 flops) × clock (GHz),
where the lanes are the vector width the hardware executes at full rate (the narrower of the
widest ISA extension and the FMA unit's datapath) divided by the element width (32 or 64 bits).

Heavy libraries (torch, threadpoolctl) are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

#: Bits per element of each benchmarked dtype.
DTYPE_BITS: dict[str, int] = {"float32": 32, "float64": 64}

#: Environment variables that change how the BLAS libraries behave (recorded, never changed).
BLAS_ENV_PREFIXES: tuple[str, ...] = ("OPENBLAS_", "GOTO", "OMP_", "MKL_", "BLIS_", "KMP_", "NVPL_")

#: OpenBLAS core types (as threadpoolctl's ``architecture`` reports them, lower-cased) → the vector
#: width in bits of their GEMM kernels. Unknown types are reported without a ceiling.
OPENBLAS_KERNEL_BITS: dict[str, int] = {
    "prescott": 128,
    "core2": 128,
    "penryn": 128,
    "dunnington": 128,
    "nehalem": 128,
    "atom": 128,
    "opteron": 128,
    "barcelona": 128,
    "bobcat": 128,
    "sandybridge": 256,
    "bulldozer": 256,
    "piledriver": 256,
    "steamroller": 256,
    "excavator": 256,
    "haswell": 256,
    "zen": 256,
    "skylakex": 512,
    "cooperlake": 512,
    "sapphirerapids": 512,
    "neoversen1": 128,
    "armv8": 128,
    "cortexa57": 128,
    "cortexa72": 128,
    "thunderx2t99": 128,
}

#: Datasheet peak (TFLOP/s, dense, boost clock) of NVIDIA GPUs for what ``torch.matmul`` runs with
#: ``float32_matmul_precision("highest")``: float32 on the CUDA cores (no TF32), float64 on the
#: FP64 tensor cores where the GPU has them (cuBLAS DGEMM uses them). A key matches
#: ``torch.cuda.get_device_name()`` when its words appear there as whole words, in order (words split
#: at spaces and hyphens, case ignored: "H200" does not match "NVIDIA GH200 480GB"); of several
#: matching keys the most specific (most words, then longest) wins, whatever the order below.
GPU_PEAK_TFLOPS: tuple[tuple[str, dict[str, float], str], ...] = (
    ("H200", {"float32": 67.0, "float64": 67.0}, "NVIDIA H200 datasheet: FP32 67, FP64 Tensor Core 67 TFLOPS"),
    ("H200 NVL", {"float32": 60.0, "float64": 60.0}, "NVIDIA H200 NVL datasheet: FP32 60, FP64 Tensor Core 60 TFLOPS"),
    ("GH200", {"float32": 67.0, "float64": 67.0}, "NVIDIA GH200 datasheet: FP32 67, FP64 Tensor Core 67 TFLOPS"),
    (
        "H100 PCIe",
        {"float32": 51.0, "float64": 51.0},
        "NVIDIA H100 PCIe datasheet: FP32 51, FP64 Tensor Core 51 TFLOPS",
    ),
    ("H100 NVL", {"float32": 60.0, "float64": 60.0}, "NVIDIA H100 NVL datasheet: FP32 60, FP64 Tensor Core 60 TFLOPS"),
    ("H100", {"float32": 67.0, "float64": 67.0}, "NVIDIA H100 SXM datasheet: FP32 67, FP64 Tensor Core 67 TFLOPS"),
    ("A100", {"float32": 19.5, "float64": 19.5}, "NVIDIA A100 datasheet: FP32 19.5, FP64 Tensor Core 19.5 TFLOPS"),
    ("V100-PCIE", {"float32": 14.0, "float64": 7.0}, "NVIDIA V100 PCIe datasheet: FP32 14, FP64 7 TFLOPS"),
    ("V100", {"float32": 15.7, "float64": 7.8}, "NVIDIA V100 SXM2 datasheet: FP32 15.7, FP64 7.8 TFLOPS"),
    ("T4", {"float32": 8.1, "float64": 0.25}, "NVIDIA T4 datasheet: FP32 8.1 TFLOPS, FP64 1/32 rate"),
)


# --------------------------------------------------------------------------------------------
# CPU facts
# --------------------------------------------------------------------------------------------


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The ``key: value`` pairs of the first processor block of ``/proc/cpuinfo`` text.

    >>> parse_cpuinfo("processor\\t: 0\\nmodel name\\t: X\\n\\nprocessor\\t: 1\\n")["model name"]
    'X'
    """
    facts: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if facts:
                break
            continue
        key, _, value = line.partition(":")
        facts[key.strip()] = value.strip()
    return facts


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def cpu_facts() -> dict[str, Any]:
    """Facts about this process's CPU: model, vendor, family, flags, cores, clock (with sources)."""
    info = parse_cpuinfo(_read("/proc/cpuinfo") or "")
    flags = set((info.get("flags") or info.get("Features") or "").split())
    logical = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    siblings, cores_per_socket = info.get("siblings"), info.get("cpu cores")
    threads_per_core = 1
    if siblings and cores_per_socket and int(cores_per_socket) > 0:
        threads_per_core = max(1, int(siblings) // int(cores_per_socket))
    max_khz = _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    return {
        "model": info.get("model name") or platform.processor() or platform.machine(),
        "vendor": info.get("vendor_id") or info.get("CPU implementer"),
        "family": _int_or_none(info.get("cpu family")),
        "model_number": _int_or_none(info.get("model")),
        "machine": platform.machine(),
        "logical_cpus": logical,
        "usable_cpus": usable,
        "threads_per_core": threads_per_core,
        "physical_cores_usable": max(1, usable // threads_per_core),
        "cpuinfo_mhz": _float_or_none(info.get("cpu MHz")),
        "max_freq_mhz": float(max_khz) / 1000 if max_khz and max_khz.strip().isdigit() else None,
        "simd_flags": sorted(flags & {"sse2", "avx", "avx2", "fma", "avx512f", "asimd", "sve", "sve2"}),
        "cache": {key: info[key] for key in ("cache size",) if key in info},
    }


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value, 0) if value is not None else None
    except ValueError:
        return None


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def vector_bits(flags: list[str] | set[str]) -> tuple[int | None, str]:
    """Widest SIMD width (bits) the CPU's flags announce, and which flag said so."""
    for flag, bits in (("avx512f", 512), ("avx2", 256), ("avx", 256), ("asimd", 128), ("sse2", 128)):
        if flag in flags:
            return bits, f"CPU flag '{flag}'"
    return None, "no known SIMD flag in /proc/cpuinfo"


def fma_units(cpu: dict[str, Any]) -> tuple[int | None, int | None, str]:
    """FMA units per core, their datapath width in bits, and the source of both.

    Not discoverable from flags: a small table by vendor and family. Without an ``fma`` flag on
    x86, one add and one multiply per cycle are counted as one FMA-equivalent unit.
    """
    vendor, family, model = cpu.get("vendor"), cpu.get("family"), cpu.get("model_number")
    flags = set(cpu.get("simd_flags", []))
    if vendor == "AuthenticAMD" and family is not None:
        if family == 0x17:
            width = 128 if (model or 0) < 0x30 else 256
            name = "Zen/Zen+" if width == 128 else "Zen 2"
            return 2, width, f"table: AMD family 0x17 model {model:#x} ({name}): 2 FMA pipes, {width}-bit datapath"
        if family == 0x19:
            name = "Zen 4 (AVX-512 double-pumped)" if "avx512f" in flags else "Zen 3"
            return 2, 256, f"table: AMD family 0x19 model {model:#x} ({name}): 2 FMA pipes, 256-bit datapath"
        if family == 0x1A:
            full = model is not None and (model < 0x20 or 0x40 <= model < 0x50)
            width = 512 if full else 256
            kind = "server/desktop, full 512-bit" if full else "mobile, 256-bit (assumed)"
            return (
                2,
                width,
                f"table: AMD family 0x1a model {model:#x} (Zen 5 {kind}): 2 FMA pipes, {width}-bit datapath",
            )
    if vendor == "GenuineIntel" and family == 6:
        if "avx512f" in flags:
            return (
                2,
                512,
                (
                    "table: Intel with AVX-512: 2 FMA units of 512 bits (Xeon Gold 6xxx/Platinum and "
                    "later; some Silver/Bronze/Gold 5xxx have 1, which halves the peak)"
                ),
            )
        if "fma" in flags:
            return 2, 256, "table: Intel with AVX2+FMA (Haswell and later): 2 FMA units of 256 bits"
        if "avx" in flags:
            return 1, 256, "table: Intel AVX without FMA (Sandy/Ivy Bridge): 1 add + 1 mul per cycle"
    if cpu.get("machine") in ("aarch64", "arm64") and "asimd" in flags:
        return 2, 128, "assumed: 2 NEON FMA pipes of 128 bits (Neoverse N1-like; V1/V2 and Apple cores have more)"
    return None, None, f"unknown CPU (vendor {vendor}, family {family}, model {model}): no FMA table entry"


def cpu_clock_ghz(cpu: dict[str, Any], override: float | None = None) -> tuple[float | None, str]:
    """The clock used for the peak: the configuration's override, else the maximum (boost)
    frequency from cpufreq, else the current ``cpu MHz`` of ``/proc/cpuinfo``."""
    if override is not None:
        return float(override), "configuration benchmark.cpu_clock_ghz"
    if cpu.get("max_freq_mhz"):
        return cpu["max_freq_mhz"] / 1000, "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq (boost)"
    if cpu.get("cpuinfo_mhz"):
        return cpu["cpuinfo_mhz"] / 1000, (
            "/proc/cpuinfo 'cpu MHz' (no cpufreq: in a VM this is the nominal/TSC "
            "clock and may be below the boost clock the cores actually run at)"
        )
    return None, "no clock found"


def cpu_peak(cpu: dict[str, Any], cores: int, dtype: str, clock_override: float | None = None) -> dict[str, Any]:
    """Estimated peak GFLOP/s of ``cores`` cores for ``dtype``, with every factor and its source.

    Returns a dict with ``gflops`` (``None`` when a factor is unknown), ``formula`` and the
    factors ``cores``, ``fma_units``, ``vector_bits``, ``datapath_bits``, ``lanes``,
    ``flops_per_cycle_per_core``, ``clock_ghz``, each with a ``*_source``.
    """
    bits, bits_source = vector_bits(cpu.get("simd_flags", []))
    units, datapath, units_source = fma_units(cpu)
    clock, clock_source = cpu_clock_ghz(cpu, clock_override)
    lanes = None
    if bits is not None:
        lanes = min(bits, datapath or bits) // DTYPE_BITS[dtype]
    per_cycle = 2 * units * lanes if units is not None and lanes is not None else None
    gflops = cores * per_cycle * clock if per_cycle is not None and clock is not None else None
    return {
        "gflops": gflops,
        "formula": "cores x fma_units x lanes x 2 flops/FMA x clock_ghz",
        "cores": cores,
        "cores_source": "threads given to the job, capped at the usable physical cores (sched_getaffinity / threads per core)",
        "fma_units": units,
        "fma_units_source": units_source,
        "vector_bits": bits,
        "vector_bits_source": bits_source,
        "datapath_bits": datapath,
        "lanes": lanes,
        "flops_per_cycle_per_core": per_cycle,
        "clock_ghz": clock,
        "clock_source": clock_source,
    }


# --------------------------------------------------------------------------------------------
# BLAS and library facts
# --------------------------------------------------------------------------------------------


def blas_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables that steer BLAS/OpenMP libraries (``OPENBLAS_*``, ``OMP_*``, …)."""
    environ = dict(os.environ if environ is None else environ)
    return {k: v for k, v in sorted(environ.items()) if k.startswith(BLAS_ENV_PREFIXES)}


def threadpool_facts() -> list[dict[str, Any]]:
    """Native thread pools loaded in this process, as threadpoolctl reports them (BLAS, OpenMP)."""
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def blas_kernel_bits(pools: list[dict[str, Any]]) -> tuple[int | None, str | None]:
    """Vector width of NumPy's BLAS GEMM kernel (OpenBLAS core type), and the core type name."""
    for pool in pools:
        if pool.get("user_api") == "blas" and pool.get("internal_api") == "openblas":
            arch = str(pool.get("architecture") or "")
            return OPENBLAS_KERNEL_BITS.get(arch.lower()), arch or None
    return None, None


def mkl_verbose_header() -> str | None:
    """The first line oneMKL prints in verbose mode for a torch matmul (it names the code path,
    e.g. 'AVX2 enabled processors'), captured from file descriptor 1; ``None`` if unavailable."""
    try:
        import torch

        if not torch.backends.mkl.is_available():
            return None
        sys.stdout.flush()
        saved = os.dup(1)
        with tempfile.TemporaryFile(mode="w+b") as capture:
            os.dup2(capture.fileno(), 1)
            try:
                with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
                    a = torch.ones(8, 8)
                    torch.matmul(a, a)
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
                os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
    except Exception:  # purely informative: any failure just means "unknown"
        return None
    for line in text.splitlines():
        if line.startswith("MKL_VERBOSE") and "(" not in line.split()[1]:
            return line.removeprefix("MKL_VERBOSE").strip()
    return None


def library_versions() -> dict[str, str | None]:
    """Versions of Python, NumPy and torch (``None`` when torch is not installed).

    torch's is read from its installed metadata (the same string as ``torch.__version__``), not
    by importing it: a NumPy or pure-Python backend's job would spend a second on the import."""
    from importlib import metadata

    import numpy

    try:
        torch_version: str | None = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    return {"python": platform.python_version(), "numpy": numpy.__version__, "torch": torch_version}


def torch_cpu_facts() -> dict[str, Any]:
    """torch's CPU build facts: BLAS it was built with, ATen CPU capability, MKL code path, threads."""
    import torch

    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    return {
        "blas": blas.group(1) if blas else None,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl_available": torch.backends.mkl.is_available(),
        "mkl_code_path": mkl_verbose_header(),
        "num_threads": torch.get_num_threads(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


# --------------------------------------------------------------------------------------------
# GPU facts
# --------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    """Lower-case words of a GPU name, split at spaces, hyphens, underscores and slashes."""
    return tuple(w for w in re.split(r"[\s\-_/]+", text.lower()) if w)


def gpu_entry(name: str | None) -> tuple[str, dict[str, float], str] | None:
    """The :data:`GPU_PEAK_TFLOPS` entry of a GPU name: the most specific key whose words occur in
    the name as consecutive whole words (:func:`_words`), or ``None``.

    >>> gpu_entry("NVIDIA GH200 480GB")[0], gpu_entry("NVIDIA H100 PCIe")[0], gpu_entry("NVIDIA H100 80GB HBM3")[0]
    ('GH200', 'H100 PCIe', 'H100')
    """
    if not name:
        return None
    words = _words(name)
    matches = []
    for entry in GPU_PEAK_TFLOPS:
        key = _words(entry[0])
        if any(words[i : i + len(key)] == key for i in range(len(words) - len(key) + 1)):
            matches.append(entry)
    return max(matches, key=lambda e: (len(_words(e[0])), len(e[0])), default=None)


def gpu_peak(name: str | None, dtype: str) -> tuple[float | None, str]:
    """Datasheet peak GFLOP/s of a GPU (by ``torch.cuda.get_device_name``) for ``dtype``, and its
    source (:func:`gpu_entry` picks the entry).

    >>> gpu_peak("NVIDIA H100 80GB HBM3", "float64")[0]
    67000.0
    >>> gpu_peak("Mystery GPU", "float32")
    (None, "no datasheet entry for 'Mystery GPU'")
    """
    entry = gpu_entry(name)
    if entry is None:
        return None, f"no datasheet entry for {name!r}"
    _, peaks, source = entry
    return peaks[dtype] * 1000.0, source


def cuda_facts() -> dict[str, Any]:
    """Whether CUDA is usable by torch and, if so, the device's name, capability and memory."""
    import torch

    facts: dict[str, Any] = {
        "cuda_available": bool(torch.cuda.is_available()),
        "torch_cuda_version": torch.version.cuda,
        "gpu_name": None,
    }
    if not facts["cuda_available"]:
        facts["reason"] = (
            "torch is a CPU-only build (torch.version.cuda is None)"
            if torch.version.cuda is None
            else "torch.cuda.is_available() is False (no visible GPU or driver)"
        )
        return facts
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    facts.update(
        gpu_name=torch.cuda.get_device_name(index),
        device_index=index,
        device_count=torch.cuda.device_count(),
        capability=list(torch.cuda.get_device_capability(index)),
        total_memory_gib=props.total_memory / 2**30,
        multiprocessors=props.multi_processor_count,
        cudnn_version=torch.backends.cudnn.version(),
        allow_tf32=bool(torch.backends.cuda.matmul.allow_tf32),
        visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
    )
    return facts


def host_facts() -> dict[str, Any]:
    """Host name, OS and Python executable of the job."""
    return {"hostname": platform.node(), "os": platform.platform(), "python_executable": sys.executable}
