"""Record what produced an artefact (model cards, benchmark results): package versions and the CPU."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# CPU features that decide how fast float32 and int8 convolutions run, and how int8 rounds: without
# VNNI, onnxruntime's x86 u8 x s8 kernels add pairs of products in int16, which can saturate.
RECORDED_CPU_FLAGS: tuple[str, ...] = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "avx512_bf16",
)


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Return Python's version and those of ``names`` that are installed (the rest are left out)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def instruction_set(flags: Iterable[str]) -> str:
    """Name the vector instruction set in the words the README uses: AVX2, AVX-512, with or without VNNI."""
    present = set(flags)
    if "avx512f" in present:
        name = "AVX-512"
    elif "avx2" in present:
        name = "AVX2"
    else:
        return "no AVX2"
    vnni = "avx512_vnni" in present or "avx_vnni" in present
    return f"{name} {'with' if vnni else 'without'} VNNI"


def cpu_facts(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """CPU model, usable cores and the vector features that matter here (Linux; best effort elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    recorded = [flag for flag in RECORDED_CPU_FLAGS if flag in flags]
    return {
        "model": model,
        "cores": cores,
        "machine": platform.machine(),
        "flags": recorded,
        "instruction_set": instruction_set(recorded),
    }
