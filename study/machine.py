"""Describe the machine a figure was measured on: CPU model, flags, cores, load, library versions."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import scipy


def describe_machine() -> dict:
    """Return the CPU model and flags (from /proc/cpuinfo), core count, load and versions."""
    model, flags = platform.processor() or "unknown", []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("unknown", "x86_64", ""):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = value.split()
    simd = [flag for flag in flags if flag.startswith(("avx", "sse4", "fma", "amx"))]
    return {
        "cpu_model": model,
        "cpu_flags_simd": simd,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1_5_15": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
