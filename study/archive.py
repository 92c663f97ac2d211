"""Unpack a .zip of a DICOM series safely: no path escapes, no zip bombs, streamed to disk.

Members are written under generated names (``00001.dcm``...), so no member name ever becomes a
path; a name that tries to escape (absolute, ``..``, a drive) still refuses the whole archive,
because such an archive was not made by a PACS export. Sizes are checked before extracting
(declared sizes and compression ratios) and again while copying (the real bytes).
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from study.errors import StudyError

CHUNK_BYTES = 1 << 20
# DICOM compresses 2-4x in a zip; a member that claims more than this is a bomb.
MAXIMUM_RATIO = 100.0
RATIO_CHECK_FROM_BYTES = 1 << 20


def _escapes(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0])


def extract_zip(archive_path: Path, target: Path, cap_bytes: int) -> int:
    """Extract the files of ``archive_path`` into the empty folder ``target``; return their count."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise StudyError(f"{archive_path.name} is not a readable zip archive") from error
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        for info in members:
            if _escapes(info.filename):
                raise StudyError(
                    f"{archive_path.name} has a member that points outside the archive ({info.filename!r})"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_CHECK_FROM_BYTES and ratio > MAXIMUM_RATIO:
                raise StudyError(
                    f"{archive_path.name} looks like a zip bomb: a member expands {ratio:.0f}-fold"
                )
        declared = sum(info.file_size for info in members)
        if declared > cap_bytes:
            raise StudyError(
                f"{archive_path.name} expands to {declared / 2**30:.2f} GiB, "
                f"over the cap of {cap_bytes / 2**30:.2f} GiB"
            )
        written = 0
        for number, info in enumerate(members, start=1):
            with archive.open(info) as source, (target / f"{number:05d}.dcm").open("wb") as sink:
                copied = 0
                while chunk := source.read(CHUNK_BYTES):
                    copied += len(chunk)
                    written += len(chunk)
                    if copied > info.file_size or written > cap_bytes:
                        raise StudyError(f"{archive_path.name} expands beyond what it declares; refusing it")
                    sink.write(chunk)
    return len(members)
