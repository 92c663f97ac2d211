"""The goals of both bench modes and what the reports claim: achieved GFLOP/s, the ratios, the verdicts.

Every figure is computed from the run's measurements. A goal the run missed is explained with
the measurements that explain it, and the knob that would close it (`explain_missed_goal`).
"""

from __future__ import annotations

import dataclasses

from bench.results import Achieved, BenchResults, GoalVerdict, Ratio, Term
from bench.served_results import FP32_BATCHING, FP32_NO_BATCHING, INT8_BATCHING
from bench.study_results import StudyBenchResults

# The goals for the committed CPU results: ratio name -> (target, what it means).
GOALS: dict[str, tuple[float, str]] = {
    "serving_overhead": (0.9, "Triton best throughput >= 0.9 x in-process onnxruntime best throughput"),
    "triton_vs_keras": (3.0, "Triton >= 3 x the paper-style Keras single-image predict throughput"),
    "dynamic_batching_on_off": (1.15, "dynamic batching on >= 1.15 x off at the comparison concurrency"),
    "achieved_vs_ceiling": (0.8, "served model GFLOP/s >= 0.8 x the compute ceiling (fastest dense kernel)"),
    "int8_vs_fp32": (1.5, "int8 served by Triton >= 1.5 x the fp32 throughput"),
}
# The study benchmark's goals: name -> (target, whether the target is a maximum, what it means).
STUDY_GOALS: dict[str, tuple[float, bool, str]] = {
    "end_to_end_seconds": (60.0, True, "a full-size study end to end <= 60 s on 2 cores, default ROI model"),
    "other_steps_share": (0.3, True, "share of the wall time outside inference <= 0.3: inference dominates"),
    "served_vs_in_process": (0.9, False, "served >= 0.9 x in-process ROIs/s at the model's max_batch_size"),
}
# No model beats the fastest dense kernel by much: one more than 10 % above the ceiling means the
# ceiling was measured while other work slowed the cores, and the goal is not judged.
CEILING_EXCEEDED_LIMIT = 1.10


def achieved_compute(results: BenchResults) -> dict[str, Achieved]:
    """Throughput x the model's FLOPs per image, and its fraction of the compute ceiling, per path."""
    fp32 = results.onnxruntime["fp32"]
    paths = {
        "keras": results.keras.throughput,
        "onnxruntime_batch_1": fp32.batch_1.throughput,
        "onnxruntime_best": fp32.best.throughput,
    }
    for key, variant in results.triton.variants.items():
        paths[f"triton_{key}"] = variant.best.throughput
    if "int8" in results.onnxruntime:
        paths["onnxruntime_int8_best"] = results.onnxruntime["int8"].best.throughput
    gflop, ceiling = results.model.fp32.gflop_per_image, results.ceiling.gflops_per_second
    return {
        name: Achieved(throughput, throughput * gflop, throughput * gflop / ceiling)
        for name, throughput in paths.items()
    }


def _ratio(numerator: Term, denominator: Term, meaning: str) -> Ratio:
    return Ratio(numerator.value / denominator.value, numerator, denominator, meaning)


def compute_ratios(results: BenchResults, achieved: dict[str, Achieved]) -> dict[str, Ratio]:
    """The report's explicit ratios, each with its numerator and denominator."""
    variants, concurrency = results.triton.variants, results.settings.comparison_concurrency
    served, in_process = variants[FP32_BATCHING].best, results.onnxruntime["fp32"].best
    first = min(variants[FP32_BATCHING].levels, key=lambda level: level.concurrency)
    on, off = (variants[key].at(concurrency).throughput for key in (FP32_BATCHING, FP32_NO_BATCHING))
    ceiling, source = results.ceiling, results.ceiling.source.replace("_", " ")
    ratios = {
        "serving_overhead": _ratio(
            Term(f"Triton best throughput (concurrency {served.concurrency})", served.throughput),
            Term(f"onnxruntime in process, best batch ({in_process.batch_size})", in_process.throughput),
            "served / in-process throughput (1.0 = serving costs nothing)",
        ),
        "triton_vs_keras": _ratio(
            Term("Triton best throughput", served.throughput),
            Term("Keras model.predict, one image per call", results.keras.throughput),
            "speed-up a user gets over the paper's way of running the model",
        ),
        "dynamic_batching_on_off": _ratio(
            Term(f"dynamic batching on, concurrency {concurrency}", on),
            Term(f"dynamic batching off, concurrency {concurrency}", off),
            "what merging concurrent requests into one batch buys",
        ),
        "achieved_vs_ceiling": _ratio(
            Term("Triton best, model GFLOP/s", achieved[f"triton_{FP32_BATCHING}"].gflops_per_second),
            Term(f"dense float32 kernel ceiling ({source})", ceiling.gflops_per_second),
            "distance to the hardware limit (1.0 = as efficient as the fastest dense kernel)",
        ),
        "p99_over_p50_at_concurrency_1": _ratio(
            Term(f"p99 latency at concurrency {first.concurrency}", first.p99_latency_ms),
            Term(f"p50 latency at concurrency {first.concurrency}", first.p50_latency_ms),
            "tail latency spread of a lone client (1.0 = perfectly steady)",
        ),
    }
    if INT8_BATCHING in variants:
        ratios["int8_vs_fp32"] = _ratio(
            Term("Triton int8 best throughput", variants[INT8_BATCHING].best.throughput),
            Term("Triton fp32 best throughput", served.throughput),
            "what int8 quantisation buys when served",
        )
    return ratios


def assess_goal(name: str, ratio: Ratio | None, results: BenchResults) -> GoalVerdict:
    """One goal: met or missed by how much and, if missed, why and what would close it."""
    target, statement = GOALS[name]
    if ratio is None:  # only int8 can be absent
        why = "no int8 export in the repository (`emphysema export --precision int8`)"
        why = why if results.settings.include_int8 else "skipped (--skip-int8)"
        return GoalVerdict(name, statement, target, None, None, why=why)
    measured = ratio.value
    if name == "achieved_vs_ceiling" and measured > CEILING_EXCEEDED_LIMIT:
        figures = ", ".join(f"{value:.0f}" for value in results.ceiling.measurements)
        why = (
            f"not judged: the served model ran at {measured:.2f}x the compute ceiling, which no model "
            f"does; the ceiling ({figures} GFLOP/s) was measured while other work slowed the cores; "
            "re-run the bench on a quiet machine"
        )
        return GoalVerdict(name, statement, target, measured, None, why=why)
    verdict = judge_figure(name, statement, target, measured)
    if verdict.met:
        return verdict
    why, fix = explain_missed_goal(name, results)
    return dataclasses.replace(verdict, why=why, what_would_close_it=fix)


def judge_figure(name: str, goal: str, target: float, measured: float, at_most: bool = False) -> GoalVerdict:
    """A goal met or missed, and by what margin of its target (positive when met)."""
    if at_most:
        return GoalVerdict(name, goal, target, measured, measured <= target, 1 - measured / target)
    return GoalVerdict(name, goal, target, measured, measured >= target, measured / target - 1)


def judge(results: BenchResults) -> BenchResults:
    """Return ``results`` with the achieved compute, the ratios and the goals' verdicts filled in."""
    achieved = achieved_compute(results)
    # The explanations quote achieved compute and ratios, so they see the results with them.
    results = dataclasses.replace(results, achieved=achieved, ratios=compute_ratios(results, achieved))
    goals = tuple(assess_goal(name, results.ratios.get(name), results) for name in GOALS)
    return dataclasses.replace(results, goals=goals)


def judge_study(results: StudyBenchResults) -> StudyBenchResults:
    """Return the study bench's ``results`` with its goals' verdicts.

    A small study or a slice model is no evidence for the full-size goals: they are not judged.
    """
    end_to_end, comparison, size = results.end_to_end, results.comparison, results.study.size
    measured = {
        "end_to_end_seconds": end_to_end.wall_seconds,
        "other_steps_share": round(1 - end_to_end.steps["inference"] / end_to_end.wall_seconds, 3),
        "served_vs_in_process": comparison.at(comparison.max_batch_size).served_ratio,
    }
    why = None
    if size != "full":
        why = f"a {size} study, not a full-size one"
    elif end_to_end.model["field_of_view_source"] != "model":
        why = "the model has no field_of_view_mm: not an ROI model"
    goals = [
        GoalVerdict(name, statement, target, measured[name], None, why=why)
        if why and name != "served_vs_in_process"
        else judge_figure(name, statement, target, measured[name], at_most)
        for name, (target, at_most, statement) in STUDY_GOALS.items()
    ]
    return dataclasses.replace(results, goals=tuple(goals))


SERVING_FIX = (
    "raise max_queue_delay_microseconds so served batches approach the in-process best batch, or run the "
    "client on other cores"
)


def explain_missed_goal(name: str, results: BenchResults) -> tuple[str, str]:
    """(why, what would close it) for the missed goal ``name``, quoting the run's own measurements."""
    onnxruntime, served = results.onnxruntime["fp32"], results.triton.variants[FP32_BATCHING]
    if name == "serving_overhead":
        best, batch = served.best, served.best.mean_batch_size or 1.0
        share = onnxruntime.nearest(batch).throughput / onnxruntime.best.throughput
        return (
            f"Triton's best level formed batches of {batch:.1f}, at which onnxruntime runs {share:.0%} of "
            f"its best in process; a request spent {best.server_queue_ms:.1f} ms queued and "
            f"{best.network_server_send_receive_ms:.1f} ms in transport"
        ), SERVING_FIX
    if name == "triton_vs_keras":
        in_process = onnxruntime.best.throughput / results.keras.throughput
        why = (
            f"in process onnxruntime at its best is {in_process:.2f}x Keras; Triton cannot beat what it wraps"
        )
        fix = "int8 on a CPU with VNNI, fewer FLOPs per image, or a GPU" if in_process < 3 else SERVING_FIX
        return why, fix
    if name == "dynamic_batching_on_off":
        concurrency = results.settings.comparison_concurrency
        batch = served.at(concurrency).mean_batch_size or 1.0
        gain = onnxruntime.nearest(batch).throughput / onnxruntime.batch_1.throughput
        return (
            f"at concurrency {concurrency} batches averaged {batch:.1f} images, and onnxruntime gains only "
            f"{gain:.2f}x from batch 1 to {round(batch)} in process on {results.environment.cpu['cores']} "
            "cores"
        ), "a GPU, where a batch is much cheaper per image; on a CPU, one model instance per core"
    if name == "achieved_vs_ceiling":
        in_process = results.achieved["onnxruntime_best"].fraction_of_ceiling
        why = f"onnxruntime reaches {in_process:.0%} of the ceiling even in process; serving adds overhead"
        return why, "an offline-optimised graph, the most efficient batch size, or int8 with VNNI"
    int8 = results.onnxruntime.get("int8")
    gain = int8.best.throughput / onnxruntime.best.throughput if int8 else float("nan")
    features = [flag for flag in results.environment.cpu["flags"] if "vnni" in flag or "amx" in flag]
    why = f"in process int8 runs {gain:.2f}x fp32; CPU int8 features: {', '.join(features) or 'none'}"
    return why, "export with `--int8-activations uint8`, which onnxruntime fuses into integer convolutions"
