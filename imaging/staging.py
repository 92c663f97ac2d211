"""Write a whole output folder or nothing: build it beside the target, then rename it into place.

Every command that writes a folder (synth, synth-study, train, quantify, external evaluation) goes
through here, so an interrupted or failed run never leaves a half-written folder behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from imaging.errors import UsageError


def current_umask() -> int:
    """The process's file-creation mask (reading it means setting it; it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_folder(out: Path, overwrite: bool, what: str = "") -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder without ``overwrite``.

    Args:
        out: the folder a command will write.
        overwrite: whether an existing, non-empty folder may be replaced.
        what: how the message names the folder (``"run folder"``); empty names only the path.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        found = f"{what} already exists" if what else "is not empty"
        raise UsageError(f"{out}: {found}; choose another --out or add --overwrite")


def write_text_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` in one step: the old file or the new one, never half of it.

    Written beside it, flushed to disk, renamed, and the rename flushed too, so a reader or a run
    after a crash sees one or the other. ``mode`` defaults to what the umask gives a new file.
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(temporary, mode if mode is not None else 0o666 & ~current_umask())
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield an empty staging folder next to ``out``; on success it replaces ``out`` atomically.

    The old ``out``, if any, is only removed once the new one is complete.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; the result should not be
    try:
        yield staging
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, retired / out.name)
            os.replace(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_files(out: Path) -> Iterator[Path]:
    """Yield an empty folder beside ``out``; when the block ends, its entries replace those in ``out``.

    Unlike `staged_folder`, what else ``out`` holds stays (a results folder shared by several
    commands); a failed or interrupted run leaves the previous files as they were.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-partial-", dir=out.parent) as staging:
        yield Path(staging)
        out.mkdir(parents=True, exist_ok=True)
        for entry in Path(staging).iterdir():
            target = out / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
