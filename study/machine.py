"""Describe the machine a figure was measured on: CPU model, flags, cores, load, library versions."""

from __future__ import annotations

import os

from emphysema.versions import cpu_facts, package_versions


def describe_machine() -> dict:
    """Return the CPU model, its instruction set and flags, core counts, load and versions."""
    cpu = cpu_facts()
    return {
        "cpu_model": cpu["model"],
        "instruction_set": cpu["instruction_set"],
        "cpu_flags_simd": cpu["flags"],
        "logical_cpus": os.cpu_count(),
        "usable_cpus": cpu["cores"],
        "load_average_1_5_15": [round(value, 2) for value in os.getloadavg()],
        **package_versions(["numpy", "scipy"]),
    }
