"""Turn an uploaded series (many DICOM files, or one .zip of them) into a de-identified series folder.

Every DICOM file is de-identified (`client.uploads.read_deidentified_dicom`, PS3.15 basic profile,
one session salt so the series keeps one series UID) before it is written, under a generated name,
into the private folder the analysis reads. A zip is unpacked by the study layer's safe extractor
into a private folder beside it, read member by member, and that folder is deleted at once.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import warnings
from pathlib import Path

from client.uploads import read_deidentified_dicom
from imaging.errors import ScanReadError
from study.archive import extract_zip
from study.errors import StudyError
from study.series import ReadSettings

ZIP_SIGNATURE = b"PK\x03\x04"
# A zip member is a slice; the per-file limit of the app applies to uploads, the series cap to zips.
MAXIMUM_MEMBER_BYTES = 64 * 2**20


@dataclasses.dataclass(frozen=True)
class SeriesImport:
    """What an upload gave: the de-identified files written and one note per file left out."""

    files: int
    skipped: tuple[str, ...]


def _write(dataset, folder: Path, number: int) -> None:
    with warnings.catch_warnings():  # pydicom's warnings can quote header values
        warnings.simplefilter("ignore")
        dataset.save_as(folder / f"{number:05d}.dcm", enforce_file_format=True)


def import_series(uploads: list[tuple[str, bytes]], folder: Path, uid_salt: bytes) -> SeriesImport:
    """Write the de-identified DICOM files of ``uploads`` (name, bytes) into the empty ``folder``.

    Raises:
        StudyError: a zip is unsafe or unreadable, or no file of the upload is a DICOM image.
    """
    written, skipped = 0, []

    def add(data: bytes, name: str, limit: int) -> None:
        nonlocal written
        try:
            dataset = read_deidentified_dicom(data, name, uid_salt, limit)
        except ScanReadError as error:
            skipped.append(str(error))
            return
        written += 1
        _write(dataset, folder, written)

    for name, data in uploads:
        if not data.startswith(ZIP_SIGNATURE):
            add(data, name, len(data))  # the web server already capped each upload's size
            continue
        raw = Path(tempfile.mkdtemp(prefix="emphysema-zip-", dir=folder.parent))
        try:
            archive = raw / "upload.zip"
            archive.write_bytes(data)
            extracted = raw / "members"
            extracted.mkdir()
            try:
                extract_zip(archive, extracted, ReadSettings().memory_cap_bytes)
            except StudyError as error:
                raise StudyError(str(error).replace(archive.name, name)) from None
            archive.unlink()  # the identified bytes go as soon as they are unpacked
            for member in sorted(extracted.iterdir()):
                add(member.read_bytes(), f"{name}/{member.name}", MAXIMUM_MEMBER_BYTES)
                member.unlink()
        finally:
            shutil.rmtree(raw, ignore_errors=True)
    if not written:
        reasons = "; ".join(skipped[:3]) or "nothing was uploaded"
        raise StudyError(f"the upload holds no DICOM image to analyse ({reasons})")
    return SeriesImport(written, tuple(skipped))
