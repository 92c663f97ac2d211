"""Atomic writes into a Triton model repository: ``<repository>/<model>/{config.pbtxt, labels.txt, N/}``.

The layout itself (file names, version numbers) is `export.model_repository`'s.

Everything is built in a hidden staging folder inside the model folder (Triton ignores names
that are not integers, and the same file system makes ``os.rename`` atomic), then renamed into
the next integer version. Any failure, including Ctrl-C, puts the repository back as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from export.model_repository import next_version
from export.settings import ExportError

STAGING_PREFIX = ".export-"


@dataclasses.dataclass(frozen=True)
class PublishedVersion:
    """Where an export landed."""

    version: int
    folder: Path


def remove_stale_staging(model_folder: Path) -> None:
    """Delete staging folders left by exports that were killed (their process no longer exists)."""
    if not model_folder.is_dir():
        return
    for path in model_folder.glob(f"{STAGING_PREFIX}*"):
        owner = path.name[len(STAGING_PREFIX) :].split("-")[0]
        if owner.isdigit() and not _process_exists(int(owner)):
            shutil.rmtree(path, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish_version(
    repository: Path,
    model_name: str,
    write_version: Callable[[Path, int], None],
    model_files: Mapping[str, str],
) -> PublishedVersion:
    """Add one version to a model, atomically.

    Args:
        repository: the model repository root (created if missing).
        model_name: the model's folder name.
        write_version: writes the version's files (model.onnx, model_card.json, ...) into the
            folder it is given; gets the version number the folder will have.
        model_files: model-level text files (config.pbtxt, labels.txt), replaced in place.

    Returns:
        The new version number and folder.

    Raises:
        ExportError: if the version number was taken meanwhile; any error from ``write_version``
            propagates. In every failure case the repository is left as it was.
    """
    model_folder = Path(repository) / model_name
    created = [folder for folder in (Path(repository), model_folder) if not folder.exists()]
    model_folder.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(model_folder)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=model_folder))
    version = next_version(model_folder)
    target = model_folder / str(version)
    renamed = succeeded = False
    try:
        (staging / "version").mkdir()
        write_version(staging / "version", version)
        for name, text in model_files.items():
            (staging / name).write_text(text, encoding="utf-8")
        if target.exists():
            raise ExportError(
                f"{target}: version {version} appeared during the export (another export "
                "running?); nothing was written"
            )
        os.rename(staging / "version", target)
        renamed = True
        _replace_model_files(model_folder, staging, list(model_files))
        succeeded = True
    finally:
        if renamed and not succeeded:
            os.rename(target, staging / "version")
        shutil.rmtree(staging, ignore_errors=True)
        if not succeeded:
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    folder.rmdir()
    return PublishedVersion(version=version, folder=target)


def _replace_model_files(model_folder: Path, staging: Path, names: list[str]) -> None:
    """Swap each staged model-level file in with os.replace; on failure restore the previous ones."""
    replaced: list[str] = []
    try:
        for name in names:
            target, staged = model_folder / name, staging / name
            if target.is_file() and target.read_bytes() == staged.read_bytes():
                continue  # unchanged: leave its mtime alone so Triton's poller does not reload
            if target.is_file():
                shutil.copy2(target, staging / f"{name}.previous")
            os.replace(staged, target)
            replaced.append(name)
    except BaseException:
        for name in replaced:
            previous = staging / f"{name}.previous"
            if previous.is_file():
                os.replace(previous, model_folder / name)
            else:
                (model_folder / name).unlink(missing_ok=True)
        raise
