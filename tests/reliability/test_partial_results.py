"""`emphysema predict` keeps what it finished: Triton frozen mid-run (SIGSTOP) or predict stopped
by SIGTERM, the output so far is valid table, CSV or JSON, and every unfinished file is named."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.triton, pytest.mark.slow]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CLASS_COLUMNS = ("NT", "CLE", "PSE", "PLE")


def _scan_folder(folder: Path, data: bytes, count: int) -> list[Path]:
    folder.mkdir()
    paths = [folder / f"slice{index:04d}.dcm" for index in range(count)]
    for path in paths:
        path.write_bytes(data)
    return paths


def _start_predict(url: str, folder: Path, output_format: str) -> subprocess.Popen:
    """Start predict with stdout on a pipe (read line by line) and stderr in `folder`.stderr."""
    flags = {"table": [], "csv": ["--csv"], "json": ["--json"]}[output_format]
    with open(folder.with_suffix(".stderr"), "w") as stderr:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emphysema",
                "predict",
                "--url",
                url,
                "--timeout",
                "2",
                "--quiet",
                *flags,
                str(folder),
            ],
            cwd=REPOSITORY_ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def _finish(predict: subprocess.Popen, folder: Path, timeout_s: float) -> tuple[str, str]:
    """The rest of stdout (after what was read already) and all of stderr, once predict exits."""
    rest = predict.stdout.read()
    predict.wait(timeout=timeout_s)
    return rest, folder.with_suffix(".stderr").read_text()


def _finished_files(output_format: str, stdout: str) -> tuple[list[str], list[str] | None]:
    """Parse the output (it must be valid); return the classified files and JSON's unfinished list."""
    if output_format == "json":
        document = json.loads(stdout)
        for item in document["predictions"]:
            assert item["prediction"] in CLASS_COLUMNS and set(item["probabilities"]) == set(CLASS_COLUMNS)
        return [item["file"] for item in document["predictions"]], document["unfinished"]
    if output_format == "csv":
        rows = list(csv.DictReader(io.StringIO(stdout)))
        for row in rows:
            assert None not in row and all(row[name] for name in CLASS_COLUMNS), row  # no cut-off row
        return [row["file"] for row in rows], None
    lines = stdout.splitlines()
    assert lines[0].startswith("model ") and lines[1].split() == ["file", "prediction", *CLASS_COLUMNS]
    rows = [line.split() for line in lines[2:] if not line.startswith("* ")]
    for cells in rows:
        assert len(cells) == 6 and cells[1].rstrip("*") in CLASS_COLUMNS, cells
    return [cells[0] for cells in rows], None


def _named_unfinished(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("not classified ("))
    return [line.strip() for line in lines[start + 1 :] if line.startswith("  ")]


@pytest.mark.parametrize("output_format", ["table", "csv", "json"])
def test_triton_failing_mid_run_keeps_finished_results(own_triton, ct_small_bytes, tmp_path, output_format):
    server = own_triton()
    files = _scan_folder(tmp_path / "scans", ct_small_bytes, 64 * 6)
    predict = _start_predict(server.grpc_url, tmp_path / "scans", output_format)
    try:
        first_line = predict.stdout.readline()  # written together with the first result
        os.kill(server.process.pid, signal.SIGSTOP)
        rest, stderr = _finish(predict, tmp_path / "scans", timeout_s=180)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        if predict.poll() is None:
            predict.kill()
    assert predict.returncode == 1, stderr
    assert "Traceback" not in stderr
    finished, unfinished_in_json = _finished_files(output_format, first_line + rest)
    named = _named_unfinished(stderr)
    assert len(finished) >= 1 and named, stderr
    assert sorted(finished + named) == sorted(map(str, files)), "every file is either finished or named"
    if unfinished_in_json is not None:
        assert unfinished_in_json == named
    assert f"{len(finished)} classified, 0 failed, {len(named)} not classified" in stderr


def test_sigterm_to_predict_closes_the_json_document(triton_server, ct_small_bytes, tmp_path):
    files = _scan_folder(tmp_path / "scans", ct_small_bytes, 64 * 10)
    predict = _start_predict(triton_server.grpc_url, tmp_path / "scans", "json")
    try:
        first_line = predict.stdout.readline()
        predict.send_signal(signal.SIGTERM)
        rest, stderr = _finish(predict, tmp_path / "scans", timeout_s=60)
    finally:
        if predict.poll() is None:
            predict.kill()
    assert predict.returncode == 130, stderr
    finished, unfinished = _finished_files("json", first_line + rest)
    assert not set(finished) & set(unfinished), "a file is both classified and named unfinished"
    assert unfinished and sorted(finished + unfinished) == sorted(map(str, files))
    assert "stopped by SIGTERM" in stderr and _named_unfinished(stderr) == unfinished
