"""Unit checks of the bench's measuring parts: timing, FLOP counting, the ceiling, goals, inputs, settings."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench import goals
from bench.baselines import available_gpu_providers, measure_gpu, measure_onnxruntime, open_session
from bench.ceiling import (
    convolution_flop,
    convolution_graph,
    keep_higher_ceiling,
    matmul_flop,
    measure_ceiling,
)
from bench.flops import count_model_flops
from bench.inputs import batch_of, synthetic_inputs
from bench.results import Ceiling, Kernel, Ratio, Term
from bench.results_json import read_results
from bench.settings import BenchError, BenchSettings, quick_settings
from bench.timing import WARMUP_CALLS, time_calls
from imaging.errors import UsageError

COMMITTED = Path(__file__).parents[2] / "bench" / "results"


def test_time_calls_times_the_minimum_calls_after_untimed_warm_ups_and_runs_the_minimum_time():
    calls = []
    timing = time_calls(lambda: calls.append(1), items_per_call=4, minimum_seconds=0.0, minimum_calls=7)
    assert len(timing.call_seconds) == 7
    assert len(calls) == 7 + WARMUP_CALLS  # the warm-up calls are made but not timed
    summary = timing.summary()
    assert summary.batch_size == 4 and summary.calls == 7
    assert summary.throughput == pytest.approx(4 * 7 / sum(timing.call_seconds))
    assert 0 < summary.p50_latency_ms <= summary.p95_latency_ms <= summary.p99_latency_ms
    slow = time_calls(lambda: time.sleep(0.01), items_per_call=1, minimum_seconds=0.05, minimum_calls=1)
    assert sum(slow.call_seconds) >= 0.045  # one call was enough by count: it kept calling for the time


def _graph_with_known_arithmetic() -> onnx.ModelProto:
    """Conv 3x3 (1->8 channels, 16x16 -> 14x14), grouped Conv, flatten, Gemm (1568->10), MatMul (10->4)."""
    rng = np.random.default_rng(0)
    weights = {
        "conv_w": rng.normal(size=(8, 1, 3, 3)),
        "group_w": rng.normal(size=(8, 2, 1, 1)),
        "gemm_w": rng.normal(size=(1568, 10)),
        "matmul_w": rng.normal(size=(10, 4)),
    }
    initializers = [
        numpy_helper.from_array(value.astype(np.float32), name) for name, value in weights.items()
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv_w"], ["conv"]),
        helper.make_node("Conv", ["conv", "group_w"], ["grouped"], group=4),
        helper.make_node("Flatten", ["grouped"], ["flat"]),
        helper.make_node("Gemm", ["flat", "gemm_w"], ["dense"]),
        helper.make_node("MatMul", ["dense", "matmul_w"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "known",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_flops_counts_conv_gemm_and_matmul_at_batch_one(tmp_path):
    path = tmp_path / "known.onnx"
    onnx.save(_graph_with_known_arithmetic(), path)
    flops = count_model_flops(path)
    conv = 8 * 14 * 14 * (1 * 3 * 3)
    grouped = 8 * 14 * 14 * (2 * 1 * 1)  # each output channel sees in_channels / group = 2 inputs
    assert flops.macs_by_op == {"Conv": conv + grouped, "Gemm": 1568 * 10, "MatMul": 10 * 4}
    assert flops.counted_nodes == 4
    assert flops.macs == conv + grouped + 15680 + 40


def test_flops_refuses_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"not a protobuf at all")
    with pytest.raises(ValueError, match="model.onnx"):
        count_model_flops(path)


def test_ceiling_is_the_fastest_of_three_dense_kernels():
    ceiling = measure_ceiling(size=256, threads=1, minimum_seconds=0.1)
    assert matmul_flop(256) == 2 * 256**3
    assert convolution_flop(batch=1, channels=2, size=3, kernel=3) == 2 * 1 * 2 * 2 * 9 * 9
    assert set(ceiling.kernels) == {"numpy_matmul", "onnxruntime_matmul", "onnxruntime_convolution"}
    for kernel in ceiling.kernels.values():
        assert kernel.gflops_per_second > 0
        assert kernel.calls >= 5
        assert kernel.gflops_per_second == pytest.approx(kernel.flop_per_call / kernel.median_seconds / 1e9)
    fastest = max(ceiling.kernels.values(), key=lambda kernel: kernel.gflops_per_second)
    assert (ceiling.gflops_per_second, ceiling.source) == (fastest.gflops_per_second, fastest.kernel)
    assert ceiling.measurements == (fastest.gflops_per_second,)


def test_the_ceiling_convolution_computes_a_same_padded_conv():
    graph = convolution_graph(batch=1, channels=2, size=5, kernel=3)
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    features = np.zeros((1, 2, 5, 5), dtype=np.float32)
    features[0, 0, 2, 2] = 1.0  # an impulse reproduces the (flipped) kernel around it
    (output,) = session.run(None, {"features": features})
    weights = numpy_helper.to_array(graph.graph.initializer[0])
    assert output.shape == (1, 2, 5, 5)
    np.testing.assert_allclose(output[0, :, 1:4, 1:4], weights[:, 0, ::-1, ::-1], rtol=1e-6)


def _ceiling_of(numpy_gflops: float, convolution_gflops: float) -> Ceiling:
    speeds = {
        "numpy_matmul": numpy_gflops,
        "onnxruntime_matmul": 50.0,
        "onnxruntime_convolution": convolution_gflops,
    }
    kernels = {name: Kernel(name, 10**9, 5, 1.0, speed, speed) for name, speed in speeds.items()}
    return Ceiling(kernels, 256, {}, 2, (max(speeds.values()),))


def test_a_ceiling_measured_twice_keeps_the_higher_of_each_kernel():
    # Load at the start slowed numpy; load at the end slowed the convolution.
    merged = keep_higher_ceiling(_ceiling_of(100.0, 180.0), _ceiling_of(200.0, 90.0))
    assert merged.kernels["numpy_matmul"].gflops_per_second == 200.0
    assert merged.kernels["onnxruntime_convolution"].gflops_per_second == 180.0
    assert (merged.gflops_per_second, merged.source) == (200.0, "numpy_matmul")
    assert merged.measurements == (180.0, 200.0)


@pytest.mark.parametrize(("ratio", "verdict"), [(0.85, True), (0.5, False), (2.1, None)])
def test_a_model_far_above_the_ceiling_is_not_judged_against_it(ratio, verdict):
    # The committed run's measurements, with the served model's share of the ceiling replaced.
    results = read_results(COMMITTED / "results.json")
    served = Ratio(ratio, Term("served", ratio), Term("ceiling", 1.0), "test")
    goal = goals.assess_goal("achieved_vs_ceiling", served, results)
    assert goal.met is verdict
    if verdict is None:  # the ceiling was measured under load: saying "met" would be a false claim
        assert "not judged" in goal.why and "228, 230 GFLOP/s" in goal.why
    if verdict is False:  # a missed goal says why, quoting the run's own figures, and what would help
        assert "94%" in goal.why and goal.what_would_close_it


def test_a_missed_goal_is_explained_with_the_runs_measurements():
    results = read_results(COMMITTED / "results.json")
    for name in goals.GOALS:
        slow = Ratio(0.01, Term("slow", 0.01), Term("fast", 1.0), "test")
        goal = goals.assess_goal(name, slow, results)
        assert goal.met is False and goal.margin == pytest.approx(0.01 / goals.GOALS[name][0] - 1)
        assert any(character.isdigit() for character in goal.why), goal.why
        assert goal.what_would_close_it


def test_a_file_that_is_not_bench_results_is_named_in_the_error(tmp_path):
    broken = tmp_path / "results.json"
    broken.write_text("{not json")
    with pytest.raises(BenchError, match="results.json: not the results.json of `emphysema bench`"):
        read_results(broken)
    broken.write_text('{"command": "emphysema bench"}')  # JSON, but not a run's results
    with pytest.raises(BenchError, match="not the results.json"):
        read_results(broken)
    with pytest.raises(BenchError, match="absent.json: cannot be read"):
        read_results(tmp_path / "absent.json")


def test_synthetic_inputs_follow_the_contract_and_are_reproducible():
    images = synthetic_inputs(5, 40, seed=3)
    assert images.shape == (5, 40, 40, 1) and images.dtype == np.uint8
    assert np.array_equal(images, synthetic_inputs(5, 40, seed=3))
    assert len({image.tobytes() for image in images}) == 5  # distinct scans, not one repeated
    assert np.array_equal(batch_of(images, 7)[5:], images[:2])


def test_onnxruntime_baseline_and_gpu_path_on_the_cpu(tiny_repository):
    onnx_path = tiny_repository.onnx_path
    images = synthetic_inputs(3, 32)
    measured = measure_onnxruntime(open_session(onnx_path, threads=1), images, (1, 4), minimum_seconds=0.1)
    assert [entry.batch_size for entry in measured.batches] == [1, 4]
    assert measured.best.throughput == max(entry.throughput for entry in measured.batches)
    assert measured.batch_1.batch_size == 1 and measured.provider == "CPUExecutionProvider"


def test_gpu_measurement_skips_cleanly_without_a_gpu(tiny_repository):
    if available_gpu_providers():
        pytest.skip("this machine has a GPU provider; the gpu-marked test measures it")
    result = measure_gpu(
        tiny_repository.onnx_path,
        synthetic_inputs(2, 32),
        (1, 2),
        threads=1,
        minimum_seconds=0.1,
    )
    assert result.providers == {}
    assert "CPUExecutionProvider" in result.skipped


@pytest.mark.gpu
def test_gpu_measurement_on_a_real_gpu(tiny_repository):
    if not available_gpu_providers():
        pytest.skip("no CUDA/TensorRT execution provider in this onnxruntime")
    result = measure_gpu(
        tiny_repository.onnx_path,
        synthetic_inputs(4, 32),
        (1, 8, 64),
        threads=1,
        minimum_seconds=0.5,
    )
    assert result.providers, result.skipped
    for entry in result.providers.values():
        assert [batch.batch_size for batch in entry.batches] == [1, 8, 64]
        assert all(batch.throughput > 0 for batch in entry.batches)


def test_settings_reject_bad_values_and_quick_mode_keeps_the_comparison_level():
    quick = quick_settings()
    assert quick.quick and quick.comparison_concurrency in quick.concurrency_levels
    assert BenchSettings().concurrency_levels == tuple(range(1, 17))
    with pytest.raises(UsageError, match="comparison_concurrency"):
        BenchSettings(concurrency_start=1, concurrency_end=4)
    with pytest.raises(UsageError, match="threads"):
        BenchSettings(threads=0)
    with pytest.raises(UsageError, match="batch_sizes"):
        BenchSettings(batch_sizes=())


@pytest.mark.slow
def test_version_selection_reads_the_model_cards(bench_repository, tmp_path):
    from bench.model_source import select_versions

    fp32, int8 = select_versions(bench_repository, "inceptionv3", None)
    assert (fp32.version, fp32.precision, int8.version, int8.precision) == (1, "fp32", 2, "int8")
    assert fp32.keras_path is not None and fp32.keras_path.name == "model.keras" and fp32.keras_path.is_file()
    assert "accuracy_change" in int8.accuracy_change
    with pytest.raises(BenchError, match="version 2 is exported at int8"):
        select_versions(bench_repository, "inceptionv3", 2)
    with pytest.raises(BenchError, match="version 9 is not exported"):
        select_versions(bench_repository, "inceptionv3", 9)
    with pytest.raises(BenchError, match="resnet50/config.pbtxt: not found"):
        select_versions(bench_repository, "resnet50", None)


def test_instruction_set_names_the_three_kinds_of_x86_cpu():
    from emphysema.versions import instruction_set

    assert instruction_set(["avx2", "fma", "avx512f", "avx512_vnni"]) == "AVX-512 with VNNI"
    assert instruction_set(["avx2", "fma"]) == "AVX2 without VNNI"
    assert instruction_set(["avx2", "avx_vnni"]) == "AVX2 with VNNI"
    assert instruction_set([]) == "no AVX2"
