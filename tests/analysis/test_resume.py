"""Resumable cohorts and shards: a rerun skips finished studies, retries failed ones, and a run
killed at any moment leaves only whole study folders behind."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.cohort import select_shard
from analysis.cohort_run import CSV_NAME, SETTINGS_NAME, CohortRecord, prepare_resume
from emphysema.cli import main as cli_main
from imaging.errors import UsageError
from tests.triton_support import inference_count

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
RECORD = {"model": "inceptionv3", "settings": {"stride_mm": 10.0}}


def _rows(out: Path) -> dict[str, dict]:
    with (out / CSV_NAME).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len({row["study"] for row in rows}) == len(rows), "a study has two rows"
    return {row["study"]: row for row in rows}


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_cover_every_study_exactly_once(count):
    studies = [f"study-{index:03d}" for index in range(10)]
    shards = [select_shard(studies, index, count) for index in range(count)]
    assert sorted(name for shard in shards for name in shard) == studies
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


@pytest.mark.parametrize("index, count", [(2, 2), (-1, 2), (0, 0)])
def test_an_impossible_shard_is_a_usage_error(index, count):
    with pytest.raises(UsageError, match="--shard"):
        select_shard(["a", "b"], index, count)


def test_a_finished_study_whose_row_was_lost_is_restored_from_its_report(tmp_path):
    prepare_resume(tmp_path / "out", RECORD)
    record = CohortRecord(tmp_path / "out", RECORD)
    report = {
        "tiles": {"count": 120},
        "patterns": {
            "regions": {
                "WholeLung": {
                    "dominant": "CLE",
                    "dominant_emphysema": "CLE",
                    "pattern_percent": {"CLE": 60.0, "NT": 40.0},
                }
            },
            "zones": {"predominance": "upper"},
        },
        "quantification": {"regions": {"WholeLung": {"volume_ml": 4100.0, "laa950_percent": 12.5}}},
    }
    (tmp_path / "out" / "finished").mkdir()
    (tmp_path / "out" / "finished" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (tmp_path / "out" / "half").mkdir()  # a folder without its report is not a finished study
    assert record.is_done("finished")
    assert not record.is_done("half") and not (tmp_path / "out" / "half").exists()
    assert _rows(tmp_path / "out")["finished"]["status"] == "done"
    assert (
        _rows(tmp_path / "out")["finished"]["dominant"]
        == report["patterns"]["regions"]["WholeLung"]["dominant"]
    )


def test_resume_refuses_other_settings_and_foreign_folders(tmp_path):
    out = tmp_path / "out"
    prepare_resume(out, RECORD)
    CohortRecord(out, RECORD)
    assert json.loads((out / SETTINGS_NAME).read_text(encoding="utf-8")) == RECORD
    with pytest.raises(UsageError, match="other settings .*model"):
        prepare_resume(out, {**RECORD, "model": "simple_cnn"})
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="no earlier"):
        prepare_resume(tmp_path / "foreign", RECORD)


def test_resume_removes_what_a_killed_study_left(tmp_path):
    out = tmp_path / "out"
    prepare_resume(out, RECORD)
    (out / ".mixed.partial-abc123").mkdir()
    (out / ".mixed.partial-abc123" / "overlay.png").write_bytes(b"half")
    prepare_resume(out, RECORD)
    assert not list(out.glob(".*partial*"))


def test_resume_and_overwrite_exclude_each_other(tmp_path, capsys):
    status = cli_main(["analyze", str(tmp_path), "--out", str(tmp_path / "out"), "--resume", "--overwrite"])
    assert status == 2 and "choose one" in capsys.readouterr().err


# Through the real embedded Triton with the tiny model.


def _options(triton_server, tiny_repository) -> list[str]:
    return [
        "--url",
        triton_server.grpc_url,
        "--model",
        tiny_repository.model_name,
        "--slice-step",
        "4",
        "--quiet",
    ]


@pytest.mark.triton
def test_a_resumed_cohort_skips_finished_studies_and_retries_failed_ones(
    triton_server, tiny_repository, studies, tmp_path
):
    cohort, out = tmp_path / "cohort", tmp_path / "analysis"
    cohort.mkdir()
    (cohort / "good").symlink_to(studies["panlobular"], target_is_directory=True)
    (cohort / "late").mkdir()
    (cohort / "late" / "IM-0001.dcm").write_bytes(b"not dicom yet")
    options = _options(triton_server, tiny_repository)
    assert cli_main(["analyze", str(cohort), "--out", str(out), "--resume", *options]) == 1
    assert _rows(out)["late"]["status"] == "failed"
    finished = (out / "good" / "report.json").stat()

    (cohort / "late").rename(tmp_path / "broken")
    (cohort / "late").symlink_to(studies["mixed"], target_is_directory=True)
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    assert cli_main(["analyze", str(cohort), "--out", str(out), "--resume", *options]) == 0
    served = inference_count(triton_server.grpc_url, tiny_repository.model_name) - before

    rows = _rows(out)
    assert {name: row["status"] for name, row in rows.items()} == {"good": "done", "late": "done"}
    late = json.loads((out / "late" / "report.json").read_text(encoding="utf-8"))
    assert served == late["tiles"]["count"], "only the retried study went through Triton"
    again = (out / "good" / "report.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (finished.st_ino, finished.st_mtime_ns)


@pytest.mark.triton
def test_a_cohort_killed_mid_study_resumes_without_half_written_or_repeated_studies(
    triton_server, tiny_repository, studies, tmp_path
):
    cohort, out = tmp_path / "cohort", tmp_path / "analysis"
    cohort.mkdir()
    for name in ("a", "b", "c"):
        source = studies["mixed"] if name != "b" else studies["panlobular"]
        (cohort / name).symlink_to(source, target_is_directory=True)
    command = [sys.executable, "-m", "emphysema", "analyze", str(cohort), "--out", str(out), "--resume"]
    command += _options(triton_server, tiny_repository)
    log = tmp_path / "first.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(command, cwd=REPOSITORY_ROOT, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while "a: " not in log.read_text(encoding="utf-8", errors="replace"):  # study a is finished
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    time.sleep(0.3)  # into study b's analysis
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    visible = [path for path in out.iterdir() if path.is_dir() and not path.name.startswith(".")]
    assert all((path / "report.json").is_file() for path in visible), "a half-written study is visible"
    assert "a" in [path.name for path in visible] and "c" not in [path.name for path in visible]
    first = (out / "a" / "report.json").stat()

    result = subprocess.run(
        command, cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "a: done in an earlier run, skipped" in result.stdout
    assert {name: row["status"] for name, row in _rows(out).items()} == dict.fromkeys("abc", "done")
    assert not list(out.glob(".*partial*"))
    again = (out / "a" / "report.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
