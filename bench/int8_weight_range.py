"""Measure what 7-bit int8 weights (the export default) cost against 8-bit ones, on this CPU.

`emphysema export` quantizes weights to 7 bits so that onnxruntime's integer kernels cannot
saturate on x86 CPUs without VNNI (docs/export.md). This measures, side by side in one process,
fp32, int8 with 8-bit weights and int8 with 7-bit weights (uint8 activations, the CPU serving
layout) on an untrained architecture: speed does not depend on what the weights learnt. It also
reports how often each int8 graph agrees with fp32 on phantom slices here, and, under QEMU, on an
emulated AVX2-only CPU.

    python -m bench.int8_weight_range --architecture simple_cnn --image-size 96 \
        --out bench/results/int8_weight_range/simple_cnn_96
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.inputs import synthetic_inputs
from emphysema.versions import cpu_facts, package_versions
from imaging.contract import INPUT_NAME


def optimized_operators(graph) -> dict[str, int]:
    """The operators onnxruntime runs after its graph optimizations (what decides the kernels)."""
    import collections
    import tempfile

    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.optimized_model_filepath = str(Path(folder) / "optimized.onnx")
        onnxruntime.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        counts = collections.Counter(
            node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node
        )
    return dict(counts.most_common())


def images_per_second(graph, images: np.ndarray, repeats: int) -> float:
    """Best of ``repeats`` timed passes over the images in batches of 8."""
    from export import parity

    session = parity.create_session(graph)
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(images), 8):
            session.run(None, {INPUT_NAME: images[start : start + 8]})
        best = max(best, len(images) / (time.perf_counter() - started))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and write ``results.json`` and ``results.md`` to ``--out``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.int8_weight_range", description=__doc__.split("\n")[0]
    )
    options = {
        "--architecture": (str, "simple_cnn", "architecture"),
        "--image-size": (int, 96, "input side in pixels"),
        "--images": (int, 64, "phantom slices timed and compared"),
        "--repeats": (int, 5, "timed passes, best kept"),
    }
    for option, (kind, default, meaning) in options.items():
        parser.add_argument(option, type=kind, default=default, help=f"{meaning} (default %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    arguments = parser.parse_args(argv)

    # TensorFlow and the exporter load here, so that reading results (render_markdown) needs neither.
    import keras

    from export import emulated_cpu, onnx_graph, parity, precision
    from training.models import build_model

    keras.utils.set_random_seed(0)  # the same untrained weights on every run
    model = build_model(arguments.architecture, arguments.image_size, None)
    reference = onnx_graph.convert_keras_to_onnx(model, arguments.image_size, 17)
    calibration = synthetic_inputs(32, arguments.image_size, seed=1)
    images = synthetic_inputs(arguments.images, arguments.image_size, seed=2)
    graphs = {"fp32": reference}
    for bits, reduce_range in ((8, False), (7, True)):
        quantized = precision.quantize_to_int8(reference, calibration, "uint8", reduce_range=reduce_range)
        graphs[f"int8, {bits}-bit weights"] = quantized
    # Two rounds, alternating, so a load change hits every variant alike; the faster round counts.
    rounds = [
        {name: images_per_second(graph, images, arguments.repeats) for name, graph in graphs.items()}
        for _ in range(2)
    ]
    rows = {name: {"images_per_second": round(max(speeds[name] for speeds in rounds), 1)} for name in graphs}
    reference_classes = parity.predict_onnx(reference, images).argmax(axis=1)

    def agreement(probabilities: np.ndarray) -> float:
        return round(float(np.mean(probabilities.argmax(axis=1) == reference_classes)), 3)

    for name, graph in graphs.items():
        rows[name]["optimized_operators"] = optimized_operators(graph)
        if name != "fp32":
            rows[name]["agreement_with_fp32_here"] = agreement(parity.predict_onnx(graph, images))
            if emulated_cpu.emulation_unavailable_reason() is None:
                emulated = emulated_cpu.predict_on_emulated_cpu(graph, images, "Haswell")
                rows[name]["agreement_with_fp32_avx2_emulated"] = agreement(emulated)
    fp32_speed = rows["fp32"]["images_per_second"]
    for row in rows.values():
        row["speed_vs_fp32"] = round(row["images_per_second"] / fp32_speed, 2)
    results = {
        "command": " ".join(["python -m bench.int8_weight_range", *(sys.argv[1:] if argv is None else argv)]),
        "architecture": arguments.architecture,
        "image_size": arguments.image_size,
        "images": arguments.images,
        "weights": "untrained (speed does not depend on them; agreement is with fp32 of the same graph)",
        "cpu": cpu_facts(),
        "packages": package_versions(["onnxruntime", "onnx", "numpy"]),
        "rows": rows,
    }
    arguments.out.mkdir(parents=True, exist_ok=True)
    (arguments.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (arguments.out / "results.md").write_text(render_markdown(results), encoding="utf-8")
    print(render_markdown(results))
    return 0


def render_markdown(results: dict) -> str:
    """The table of results.json, for people."""
    cpu = results["cpu"]
    lines = [
        f"# int8 weights: 8-bit against 7-bit ({results['architecture']}, {results['image_size']} px)",
        "",
        f"CPU: {cpu['model']}, {cpu['cores']} cores, {cpu['instruction_set']}.",
        f"Made by `{results['command']}`; {results['images']} phantom slices, weights {results['weights']}.",
        "",
        "| graph | images/s | vs fp32 | agrees with fp32 here | agrees with fp32 on emulated AVX2 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in results["rows"].items():
        here = row.get("agreement_with_fp32_here", "")
        emulated = row.get("agreement_with_fp32_avx2_emulated", "")
        lines.append(
            f"| {name} | {row['images_per_second']} | {row['speed_vs_fp32']} | {here} | {emulated} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
