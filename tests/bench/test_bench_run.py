"""`emphysema bench --quick` on a tiny exported run: real Keras, onnxruntime, Triton, perf_analyzer."""

from __future__ import annotations

import csv
import json
import math
import shutil

import pytest

from bench import run
from bench.report import render_report
from bench.report_tables import format_figure
from bench.results_json import read_results
from emphysema import cli

pytestmark = [pytest.mark.triton, pytest.mark.slow]

# Sections of results.json that hold measurements; every number inside must be positive and finite.
MEASURED_SECTIONS = ("keras", "onnxruntime", "triton", "ceiling", "achieved", "ratios")
# Fields that are counts or settings echoed next to measurements, not measurements themselves.
# perf_analyzer's latency breakdown is in whole microseconds: a component can measure 0 (>= 0 is checked).
LATENCY_COMPONENTS = {
    "client_send_ms",
    "network_server_send_receive_ms",
    "server_queue_ms",
    "server_compute_input_ms",
    "server_compute_infer_ms",
    "server_compute_output_ms",
    "client_receive_ms",
}
NOT_MEASUREMENTS = {
    "batch_size",
    "concurrency",
    "version",
    "matrix_size",
    "calls",
    "cores",
    "threads",
    "max_batch_size",
    "max_queue_delay_us",
    "stability_percentage",
}


@pytest.fixture(scope="module")
def quick_run(bench_repository, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results"
    status = run.main(["--repository", str(bench_repository), "--out", str(out), "--quick"])
    assert status == 0
    return out, json.loads((out / "results.json").read_text())


def _numbers(value, path=""):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{path}[{index}]")


def test_quick_run_writes_every_artefact_within_two_minutes(quick_run):
    out, results = quick_run
    for name in (
        "results.json",
        "report.md",
        "throughput_latency.png",
        "bench_settings.json",
        "raw/perf_fp32_dynamic_batching.csv",
        "raw/perf_fp32_no_batching.csv",
        "raw/perf_int8_dynamic_batching.csv",
        "raw/perf_fp32_dynamic_batching.log",
    ):
        assert (out / name).is_file(), name
    assert (out / "throughput_latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["duration_seconds"] < 120
    assert results["command"].startswith("emphysema bench --repository")
    assert json.loads((out / "bench_settings.json").read_text())["quick"] is True
    assert not list(out.parent.glob(".results-partial-*"))  # the staging folder was moved in, not left


def test_every_figure_is_a_positive_measured_number(quick_run):
    _, results = quick_run
    checked = 0
    for section in MEASURED_SECTIONS:
        for path, number in _numbers(results[section], section):
            name = path.rsplit(".", 1)[-1]
            if name in NOT_MEASUREMENTS or ".levels[" in path and path.endswith("_count"):
                continue
            if name in LATENCY_COMPONENTS:
                assert math.isfinite(number) and number >= 0, f"{path} = {number}"
            else:
                assert math.isfinite(number) and number > 0, f"{path} = {number}"
            checked += 1
    assert checked > 100
    assert results["model"]["fp32"]["macs_per_image"] > 0 and results["model"]["int8"]["macs_per_image"] > 0
    assert results["model"]["keras_onnx_max_abs_difference"] < 1e-4  # Keras and ONNX are the same model


def test_triton_figures_are_the_perf_analyzer_csv_rows(quick_run):
    out, results = quick_run
    for key, variant in results["triton"]["variants"].items():
        with (out / "raw" / f"perf_{key}.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        assert [int(row["Concurrency"]) for row in rows] == [1, 8]
        for row, level in zip(rows, variant["levels"], strict=True):
            assert level["throughput"] == pytest.approx(float(row["Inferences/Second"]))
            assert level["p99_latency_ms"] == pytest.approx(float(row["p99 latency"]) / 1000)
            assert level["p50_latency_ms"] == pytest.approx(float(row["p50 latency"]) / 1000)
        assert variant["best"]["throughput"] == max(float(row["Inferences/Second"]) for row in rows)


def test_dynamic_batching_on_forms_batches_and_off_does_not(quick_run):
    _, results = quick_run
    variants = results["triton"]["variants"]
    on = next(level for level in variants["fp32_dynamic_batching"]["levels"] if level["concurrency"] == 8)
    off = next(level for level in variants["fp32_no_batching"]["levels"] if level["concurrency"] == 8)
    assert on["mean_batch_size"] > 1.5  # Triton's own statistics: several requests per execution
    assert off["mean_batch_size"] == 1.0
    assert variants["fp32_no_batching"]["dynamic_batching"] is False
    assert variants["fp32_dynamic_batching"]["max_queue_delay_us"] == 2000  # from the committed config


def test_ratios_are_quotients_of_the_reported_measurements(quick_run):
    _, results = quick_run
    ratios, variants = results["ratios"], results["triton"]["variants"]
    served_best = variants["fp32_dynamic_batching"]["best"]["throughput"]
    assert ratios["serving_overhead"]["value"] == pytest.approx(
        served_best / results["onnxruntime"]["fp32"]["best"]["throughput"]
    )
    assert ratios["triton_vs_keras"]["value"] == pytest.approx(served_best / results["keras"]["throughput"])
    assert ratios["int8_vs_fp32"]["value"] == pytest.approx(
        variants["int8_dynamic_batching"]["best"]["throughput"] / served_best
    )
    first = variants["fp32_dynamic_batching"]["levels"][0]
    assert ratios["p99_over_p50_at_concurrency_1"]["value"] == pytest.approx(
        first["p99_latency_ms"] / first["p50_latency_ms"]
    )
    assert ratios["achieved_vs_ceiling"]["value"] == pytest.approx(
        served_best * results["model"]["fp32"]["gflop_per_image"] / results["ceiling"]["gflops_per_second"]
    )


def test_goals_say_met_or_missed_by_how_much_and_why(quick_run):
    out, results = quick_run
    goals = {goal["name"]: goal for goal in results["goals"]}
    assert set(goals) == {
        "serving_overhead",
        "triton_vs_keras",
        "dynamic_batching_on_off",
        "achieved_vs_ceiling",
        "int8_vs_fp32",
    }
    for name, goal in goals.items():
        assert goal["measured"] == pytest.approx(results["ratios"][name]["value"])
        assert goal["met"] == (goal["measured"] >= goal["target"])
        assert goal["margin"] == pytest.approx(goal["measured"] / goal["target"] - 1)
        if not goal["met"]:
            assert goal["why"] and goal["what_would_close_it"]
    # A tiny model costs microseconds, so gRPC and the python backend dominate: served << in-process.
    assert goals["serving_overhead"]["met"] is False
    report = (out / "report.md").read_text()
    for heading in (
        "## The ratios",
        "## Goals",
        "## Triton over gRPC",
        "## In process",
        "## Compute",
        "## int8",
        "## GPU",
        "## Environment",
    ):
        assert heading in report
    assert "serving_overhead** missed by" in report
    for name, ratio in results["ratios"].items():
        assert f"| {name.replace('_', ' ')} | **{format_figure(ratio['value'])}** |" in report


def test_the_report_is_its_results_json_read_back_and_rendered(quick_run):
    out, document = quick_run
    results = read_results(out / "results.json")
    assert render_report(results) == (out / "report.md").read_text()
    assert results.goals[0].name == document["goals"][0]["name"]
    assert results.triton.variants["int8_dynamic_batching"].best.throughput == pytest.approx(
        document["triton"]["variants"]["int8_dynamic_batching"]["best"]["throughput"]
    )


def test_int8_accuracy_change_comes_from_its_model_card(quick_run, bench_repository):
    _, results = quick_run
    card = json.loads((bench_repository / "inceptionv3" / "2" / "model_card.json").read_text())
    assert results["model"]["int8"]["accuracy_change"] == card["checks"]["evaluation"]
    assert results["model"]["int8"]["version"] == 2 and results["model"]["fp32"]["version"] == 1


def test_a_failed_run_leaves_the_previous_results_alone(quick_run, tmp_path, capsys):
    out, _ = quick_run
    before = (out / "results.json").read_bytes()
    status = cli.main(["bench", "--repository", str(tmp_path / "nowhere"), "--out", str(out), "--quick"])
    assert status == 1
    assert "nowhere" in capsys.readouterr().err
    assert (out / "results.json").read_bytes() == before
    assert not list(out.parent.glob(".results-partial-*"))


def test_a_missing_keras_source_run_is_a_clear_error(bench_repository, tmp_path, capsys):
    copy = tmp_path / "repository"
    shutil.copytree(bench_repository, copy)
    card_path = copy / "inceptionv3" / "1" / "model_card.json"
    card = json.loads(card_path.read_text())
    card["source_run"]["folder"] = str(tmp_path / "deleted_run")
    card_path.write_text(json.dumps(card))
    assert cli.main(["bench", "--repository", str(copy), "--out", str(tmp_path / "out"), "--quick"]) == 1
    error = capsys.readouterr().err
    assert "model_card.json" in error and "model.keras" in error
    assert not (tmp_path / "out").exists()
