"""The 8-bit against 7-bit int8 weights measurement runs end to end and writes what it reports."""

from __future__ import annotations

import json

import pytest

from bench.int8_weight_range import main, render_markdown


@pytest.mark.slow
def test_the_measurement_writes_speeds_agreements_and_the_cpu(tmp_path):
    out = tmp_path / "int8"
    arguments = ["--architecture", "simple_cnn", "--image-size", "48", "--images", "8", "--repeats", "1"]
    assert main([*arguments, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["rows"]) == {"fp32", "int8, 8-bit weights", "int8, 7-bit weights"}
    assert all(row["images_per_second"] > 0 for row in results["rows"].values())
    for name in ("int8, 8-bit weights", "int8, 7-bit weights"):
        row = results["rows"][name]
        assert 0 <= row["agreement_with_fp32_here"] <= 1
        assert 0 <= row["agreement_with_fp32_avx2_emulated"] <= 1  # qemu-user comes with make install
        assert row["optimized_operators"]["QLinearConv"] >= 1  # the integer kernels really run
    assert results["cpu"]["instruction_set"]
    assert (out / "results.md").read_text() == render_markdown(results)
