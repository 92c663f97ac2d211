"""A failed or interrupted export leaves the model repository exactly as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emphysema import cli
from export import model_repository, publishing
from export.publishing import STAGING_PREFIX


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file and folder under root (hidden ones too) with file contents."""
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): (path.read_bytes() if path.is_file() else b"<dir>")
        for path in sorted(root.rglob("*"))
    }


def run_export(run, repository_root) -> int:
    return cli.main(["export", "--run", str(run), "--repository", str(repository_root), "--model", "tiny"])


@pytest.fixture
def repository_with_version_1(tiny_run, tmp_path) -> Path:
    root = tmp_path / "repo"
    assert run_export(tiny_run, root) == 0
    return root


def fail(*_args, **_kwargs):
    raise RuntimeError("injected failure")


def test_failing_parity_check_writes_nothing(tiny_run, repository_with_version_1, monkeypatch, capsys):
    from export import parity

    before = snapshot(repository_with_version_1)
    monkeypatch.setattr(parity, "measure_parity", lambda *args: 3e-3)
    assert run_export(tiny_run, repository_with_version_1) == 1
    assert "parity check failed: max |Keras - onnxruntime| = 0.003 > 0.0001" in capsys.readouterr().err
    assert snapshot(repository_with_version_1) == before


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_writer_failing_midway_leaves_no_version_and_no_staging(
    error, tiny_run, repository_with_version_1, monkeypatch
):
    import export.model_card

    before = snapshot(repository_with_version_1)

    def fail_after_model_written(*args, **kwargs):
        # model.onnx is already in the staging folder at this point: a real half-done export.
        assert any(repository_with_version_1.glob(f"tiny/{STAGING_PREFIX}*/version/model.onnx"))
        raise error("injected")

    monkeypatch.setattr(export.model_card, "build_model_card", fail_after_model_written)
    with pytest.raises(error, match="injected"):
        run_export(tiny_run, repository_with_version_1)
    assert snapshot(repository_with_version_1) == before
    assert not list(repository_with_version_1.glob(f"tiny/{STAGING_PREFIX}*"))


def test_failure_after_the_version_rename_is_rolled_back(tiny_run, repository_with_version_1, monkeypatch):
    """The model-level files are swapped after the version folder appears; a failure there undoes both."""
    real_replace = os.replace
    calls = []

    def replace_then_fail(source, target):
        calls.append(Path(target).name)
        if Path(target).name == "labels.txt":
            raise OSError("injected: disk full")
        return real_replace(source, target)

    monkeypatch.setattr(publishing.os, "replace", replace_then_fail)
    # A different batch size changes config.pbtxt, so it really is replaced before labels.txt fails.
    (repository_with_version_1 / "tiny" / "labels.txt").write_text("old\n")
    before = snapshot(repository_with_version_1)
    argv = [
        "export",
        "--run",
        str(tiny_run),
        "--repository",
        str(repository_with_version_1),
        "--model",
        "tiny",
        "--max-batch-size",
        "4",
    ]
    assert cli.main(argv) == 1
    assert "config.pbtxt" in calls  # the config had been swapped in, then restored
    assert snapshot(repository_with_version_1) == before


def test_export_into_a_new_repository_that_fails_leaves_no_folders(tiny_run, tmp_path, monkeypatch):
    import export.model_card

    monkeypatch.setattr(export.model_card, "build_model_card", fail)
    with pytest.raises(RuntimeError):
        run_export(tiny_run, tmp_path / "new_repo")
    assert not (tmp_path / "new_repo").exists()


def test_staging_left_by_a_killed_export_is_cleaned_and_ignored(tiny_run, repository_with_version_1):
    model_folder = repository_with_version_1 / "tiny"
    dead = model_folder / f"{STAGING_PREFIX}999999999-abc"  # no such process id
    (dead / "version").mkdir(parents=True)
    assert model_repository.version_numbers(model_folder) == [1]  # hidden, non-integer: not a version
    assert run_export(tiny_run, repository_with_version_1) == 0
    assert not dead.exists()
    assert model_repository.version_numbers(model_folder) == [1, 2]


def test_next_version_counts_only_integer_folders(tmp_path):
    for name in ("1", "7", "07", "trt_cache", ".export-1-x"):
        (tmp_path / name).mkdir()
    (tmp_path / "9").write_text("a file, not a version")
    assert model_repository.next_version(tmp_path) == 8
