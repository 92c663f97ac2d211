"""perf_analyzer: the install script, locating it, its input data and its CSV."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import perf_analyzer
from bench.perf_csv import merge_perf_csv, parse_perf_csv
from bench.settings import BenchError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "install_perf_analyzer.sh"


def test_install_script_is_idempotent_when_perf_analyzer_works():
    venv = Path(sys.executable).parent.parent
    assert (venv / "bin" / "perf_analyzer").is_file(), "perf_analyzer is missing: run `make install`"
    before = (venv / "bin" / "perf_analyzer").stat().st_mtime_ns
    completed = subprocess.run(["bash", str(SCRIPT), str(venv)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "downloading" not in completed.stdout  # a working binary is kept, nothing fetched
    assert (venv / "bin" / "perf_analyzer").stat().st_mtime_ns == before


def test_install_script_explains_a_missing_virtual_environment(tmp_path):
    completed = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "no-venv")], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 1
    assert "no Python at" in completed.stderr and "no-venv" in completed.stderr


def test_locate_reports_a_missing_binary_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BenchError, match="make install"):
        perf_analyzer.locate_perf_analyzer()


def test_locate_finds_a_working_perf_analyzer():
    binary = Path(sys.executable).parent / "perf_analyzer"
    assert binary.is_file(), "perf_analyzer is missing: run `make install`"
    located = perf_analyzer.locate_perf_analyzer()
    assert "Perf Analyzer" in located.version
    assert str(perf_analyzer.cuda_runtime_library_folder()) in located.environment["LD_LIBRARY_PATH"]
    assert (perf_analyzer.cuda_runtime_library_folder() / "libcudart.so.12").is_file()


def test_input_data_holds_every_image_byte_for_byte(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    path = perf_analyzer.write_input_data(images, "image", tmp_path / "input.json")
    entries = json.loads(path.read_text())["data"]
    assert len(entries) == 3
    for image, entry in zip(images, entries, strict=True):
        assert entry["image"]["shape"] == [8, 8, 1]
        assert base64.b64decode(entry["image"]["b64"]) == image.tobytes()
    with pytest.raises(BenchError, match="uint8"):
        perf_analyzer.write_input_data(images.astype(np.float32), "image", tmp_path / "bad.json")


def test_csv_parser_names_the_file_it_cannot_use(tmp_path):
    with pytest.raises(BenchError, match="wrote no CSV"):
        parse_perf_csv(tmp_path / "absent.csv")
    screen = tmp_path / "screen.csv"
    screen.write_text("Request concurrency: 1\n  Client:\n")
    with pytest.raises(BenchError, match="screen.csv.*missing columns"):
        parse_perf_csv(screen)


def test_measurement_windows_grow_with_concurrency_and_loosen_on_retry():
    from bench.settings import BenchSettings
    from bench.triton_load import measurement_attempts

    settings = BenchSettings(measurement_interval_ms=2000, stability_percentage=15)
    assert measurement_attempts(settings, 1, 10.0) == [(2000, 15), (4000, 30), (4000, 1000)]
    # 16 clients of a 100 ms model: each window must hold about 4 answers per client.
    assert measurement_attempts(settings, 16, 100.0)[0] == (6400, 15)
    assert os.path.basename(perf_analyzer.BINARY_NAME) == "perf_analyzer"


def test_merged_csv_keeps_one_header_and_every_level_row_without_the_extra_sections(tmp_path):
    header = "Concurrency,Inferences/Second\n"
    first, second = tmp_path / "c01.csv", tmp_path / "c02.csv"
    first.write_text(header + "1,30.5\n\nServer metrics\nx,y\n")
    second.write_text(header + "2,31.0\n")
    merged = merge_perf_csv([first, second], tmp_path / "merged.csv")
    assert merged.read_text() == header + "1,30.5\n2,31.0\n"
    second.write_text("Concurrency,Throughput\n2,31.0\n")
    with pytest.raises(BenchError, match="c02.csv: its CSV header differs"):
        merge_perf_csv([first, second], tmp_path / "merged.csv")
