"""`staged_files`: a results folder several commands share gets their files all at once or not at all."""

from __future__ import annotations

import pytest

from imaging.staging import staged_files


def test_written_files_replace_theirs_and_the_others_stay(tmp_path):
    out = tmp_path / "results"
    (out / "other_mode").mkdir(parents=True)
    (out / "other_mode" / "results.json").write_text("kept", encoding="utf-8")
    (out / "results.json").write_text("old", encoding="utf-8")
    with staged_files(out) as staging:
        (staging / "results.json").write_text("new", encoding="utf-8")
        (staging / "report.md").write_text("report", encoding="utf-8")
        assert (out / "results.json").read_text(encoding="utf-8") == "old"  # nothing moved in yet
    assert (out / "results.json").read_text(encoding="utf-8") == "new"
    assert (out / "report.md").read_text(encoding="utf-8") == "report"
    assert (out / "other_mode" / "results.json").read_text(encoding="utf-8") == "kept"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results"]  # no staging folder left


def test_a_failure_leaves_the_previous_files_as_they_were(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "results.json").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), staged_files(out) as staging:
        (staging / "results.json").write_text("half", encoding="utf-8")
        raise RuntimeError("the measurement failed")
    assert [path.name for path in out.iterdir()] == ["results.json"]
    assert (out / "results.json").read_text(encoding="utf-8") == "old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results"]
