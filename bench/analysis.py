"""From measurements to the report's claims: achieved GFLOP/s, the explicit ratios, and the goals.

Every figure here is computed from measured numbers in the results; the "why" of a missed goal
is stated with the measurements that explain it, and the "what would close it" with the knob.
"""

from __future__ import annotations

from typing import Any

from bench.ceiling import CEILING_EXCEEDED_LIMIT
from bench.explanations import (
    FP32_BATCHING,
    FP32_NO_BATCHING,
    INT8_BATCHING,
    explain_missed_goal,
    level_at,
)

# The goals for the committed CPU results: ratio name -> (target, what it means).
GOALS: dict[str, tuple[float, str]] = {
    "serving_overhead": (0.9, "Triton best throughput >= 0.9 x in-process onnxruntime best throughput"),
    "triton_vs_keras": (3.0, "Triton >= 3 x the paper-style Keras single-image predict throughput"),
    "dynamic_batching_on_off": (1.15, "dynamic batching on >= 1.15 x off at the comparison concurrency"),
    "achieved_vs_ceiling": (0.8, "served model GFLOP/s >= 0.8 x the compute ceiling (fastest dense kernel)"),
    "int8_vs_fp32": (1.5, "int8 served by Triton >= 1.5 x the fp32 throughput"),
}


def achieved_compute(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Throughput x the model's FLOPs per image, and its fraction of the compute ceiling, per path."""
    gflop = results["model"]["fp32"]["gflop_per_image"]
    ceiling = results["ceiling"]["gflops_per_second"]
    paths = {
        "keras": results["keras"]["throughput"],
        "onnxruntime_batch_1": results["onnxruntime"]["fp32"]["batch_1"]["throughput"],
        "onnxruntime_best": results["onnxruntime"]["fp32"]["best"]["throughput"],
    }
    for key, variant in results["triton"]["variants"].items():
        paths[f"triton_{key}"] = variant["best"]["throughput"]
    if results["onnxruntime"].get("int8"):
        paths["onnxruntime_int8_best"] = results["onnxruntime"]["int8"]["best"]["throughput"]
    return {
        name: {
            "throughput": throughput,
            "gflops_per_second": throughput * gflop,
            "fraction_of_ceiling": throughput * gflop / ceiling,
        }
        for name, throughput in paths.items()
    }


def _ratio(
    numerator_label: str, numerator: float, denominator_label: str, denominator: float, meaning: str
) -> dict[str, Any]:
    return {
        "value": numerator / denominator,
        "numerator": {"label": numerator_label, "value": numerator},
        "denominator": {"label": denominator_label, "value": denominator},
        "meaning": meaning,
    }


def compute_ratios(results: dict[str, Any], comparison_concurrency: int) -> dict[str, dict[str, Any]]:
    """The report's explicit ratios, each with its numerator and denominator."""
    variants = results["triton"]["variants"]
    served = variants[FP32_BATCHING]
    onnxruntime_best = results["onnxruntime"]["fp32"]["best"]
    achieved = results["achieved"]
    on, off = (
        level_at(served, comparison_concurrency),
        level_at(variants[FP32_NO_BATCHING], comparison_concurrency),
    )
    first = level_at(served, min(level["concurrency"] for level in served["levels"]))
    ratios = {
        "serving_overhead": _ratio(
            f"Triton best throughput (concurrency {served['best']['concurrency']})",
            served["best"]["throughput"],
            f"onnxruntime in process, best batch ({onnxruntime_best['batch_size']})",
            onnxruntime_best["throughput"],
            "served / in-process throughput (1.0 = serving costs nothing)",
        ),
        "triton_vs_keras": _ratio(
            "Triton best throughput",
            served["best"]["throughput"],
            "Keras model.predict, one image per call",
            results["keras"]["throughput"],
            "speed-up a user gets over the paper's way of running the model",
        ),
        "dynamic_batching_on_off": _ratio(
            f"dynamic batching on, concurrency {comparison_concurrency}",
            on["throughput"],
            f"dynamic batching off, concurrency {comparison_concurrency}",
            off["throughput"],
            "what merging concurrent requests into one batch buys",
        ),
        "achieved_vs_ceiling": _ratio(
            "Triton best, model GFLOP/s",
            achieved[f"triton_{FP32_BATCHING}"]["gflops_per_second"],
            f"dense float32 kernel ceiling ({results['ceiling']['source'].replace('_', ' ')})",
            results["ceiling"]["gflops_per_second"],
            "distance to the hardware limit (1.0 = as efficient as the fastest dense kernel)",
        ),
        "p99_over_p50_at_concurrency_1": _ratio(
            f"p99 latency at concurrency {first['concurrency']}",
            first["p99_latency_ms"],
            f"p50 latency at concurrency {first['concurrency']}",
            first["p50_latency_ms"],
            "tail latency spread of a lone client (1.0 = perfectly steady)",
        ),
    }
    if INT8_BATCHING in variants:
        ratios["int8_vs_fp32"] = _ratio(
            "Triton int8 best throughput",
            variants[INT8_BATCHING]["best"]["throughput"],
            "Triton fp32 best throughput",
            served["best"]["throughput"],
            "what int8 quantisation buys when served",
        )
    return ratios


def assess_goals(results: dict[str, Any], ratios: dict[str, Any], concurrency: int) -> list[dict[str, Any]]:
    """Each goal with target, measured ratio, met or missed, by how much, and (if missed) why and the fix."""
    assessed = []
    for name, (target, statement) in GOALS.items():
        entry: dict[str, Any] = {"name": name, "goal": statement, "target": target}
        if name not in ratios:
            skipped = not results["settings"].get("include_int8", True)
            why = (
                "skipped (--skip-int8)"
                if skipped
                else "no int8 export in the repository (`emphysema export --precision int8`)"
            )
            entry.update({"measured": None, "met": None, "why": why})
            assessed.append(entry)
            continue
        measured = ratios[name]["value"]
        if name == "achieved_vs_ceiling" and measured > CEILING_EXCEEDED_LIMIT:
            entry.update({"measured": measured, "met": None, "why": _spoiled_ceiling(results, measured)})
            assessed.append(entry)
            continue
        # margin +0.10: 10 % above the target; -0.25: 25 % short of it.
        entry.update({"measured": measured, "met": measured >= target, "margin": measured / target - 1})
        if not entry["met"]:
            entry["why"], entry["what_would_close_it"] = explain_missed_goal(name, results, concurrency)
        assessed.append(entry)
    return assessed


def _spoiled_ceiling(results: dict[str, Any], measured: float) -> str:
    measurements = results["ceiling"].get("measurements", [results["ceiling"]["gflops_per_second"]])
    return (
        f"not judged: the served model ran at {measured:.2f}x the compute ceiling, which no model "
        f"does; the ceiling ({', '.join(f'{value:.0f}' for value in measurements)} GFLOP/s) was measured "
        "while other work slowed the cores; re-run the bench on a quiet machine"
    )
