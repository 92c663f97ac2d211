"""Read a folder of DICOM files as one axial CT series, refusing what cannot be a sound volume.

The rules follow the research notes: choose series by Modality, ImageType and orientation (never
by description); sort slices by their position along the slice normal ``n = row x column``
(never by InstanceNumber); measure every gap, not the first two; refuse duplicates, missing
slices, uneven spacing, gantry tilt, mixed sizes or spacing, multi-frame objects and series over
the memory cap, each with one sentence naming the problem. pydicom does the decoding: it is
already the imaging layer's DICOM library, and SimpleITK would add a 50 MB wheel for the same job.
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from study.errors import StudyError
from study.series_geometry import SeriesGeometry, check_geometry
from study.source_series import SourceSeries
from study.volume import HU_DTYPE, Volume, to_hounsfield_int16

# A series needs at least this many slices to have a slice interval worth checking.
MINIMUM_SLICES = 3
AXIAL_COSINE = 0.99


@dataclasses.dataclass(frozen=True)
class ReadSettings:
    """How strict the reader is and how much it may hold in memory."""

    memory_cap_bytes: int = 4 * 2**30
    spacing_tolerance: float = 0.01
    series_uid: str | None = None


def _header(path: Path) -> pydicom.Dataset | None:
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError):
        return None
    return dataset if "SeriesInstanceUID" in dataset else None


def _describe(uid: str, headers: list[pydicom.Dataset]) -> str:
    first = headers[0]
    description = str(first.get("SeriesDescription", "") or "no description")
    return f"series {first.get('SeriesNumber', '?')} '{description}' ({len(headers)} images, UID {uid})"


def _rejection(headers: list[pydicom.Dataset]) -> str | None:
    """Why a series is not an axial CT series, or None when it is one."""
    first = headers[0]
    modality = str(first.get("Modality", "unknown"))
    if modality != "CT":
        return f"modality {modality}, not CT"
    if any(
        "LOCALIZER" in [str(value).upper() for value in header.get("ImageType", [])] for header in headers
    ):
        return "a localizer (scout)"
    orientation = first.get("ImageOrientationPatient")
    if orientation is None or len(orientation) != 6:
        return "no ImageOrientationPatient"
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    if abs(normal[2]) < AXIAL_COSINE:
        return f"not axial (slice normal {np.round(normal, 2).tolist()})"
    return None


def choose_series(
    folder: Path, settings: ReadSettings
) -> tuple[list[tuple[Path, pydicom.Dataset]], list[str]]:
    """Return the chosen series' ``(path, header)`` pairs and notes about everything skipped."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if not files:
        raise StudyError(f"{folder.name or folder} is empty: there are no files to read")
    series: dict[str, list[tuple[Path, pydicom.Dataset]]] = collections.defaultdict(list)
    unreadable = []
    for path in files:
        header = _header(path)
        if header is None:
            unreadable.append(path.name)
        else:
            series[str(header.SeriesInstanceUID)].append((path, header))
    notes = (
        [f"skipped {len(unreadable)} file(s) that are not DICOM images: {', '.join(unreadable[:3])}"]
        if unreadable
        else []
    )
    if not series:
        raise StudyError(f"{folder.name or folder} holds no DICOM images ({len(unreadable)} other files)")
    candidates, rejected = {}, []
    for uid, members in series.items():
        reason = _rejection([header for _, header in members])
        description = _describe(uid, [header for _, header in members])
        if reason is None:
            candidates[uid] = (members, description)
        else:
            rejected.append(f"{description} is {reason}")
    notes += [f"skipped {text}" for text in rejected]
    if settings.series_uid is not None:
        if settings.series_uid not in candidates:
            raise StudyError(f"no axial CT series with UID {settings.series_uid} in {folder.name}")
        return candidates[settings.series_uid][0], notes
    if not candidates:
        raise StudyError(f"no axial CT series to quantify: {'; '.join(rejected)}")
    if len(candidates) > 1:
        choices = "; ".join(description for _, description in candidates.values())
        raise StudyError(
            f"the folder holds {len(candidates)} axial CT series, choose one with --series UID: {choices}"
        )
    return next(iter(candidates.values()))[0], notes


def read_dicom_folder(folder: Path, settings: ReadSettings = ReadSettings()) -> Volume:
    """Read the one axial CT series in ``folder`` (searched recursively) into a Volume."""
    members, notes = choose_series(folder, settings)
    if len(members) < MINIMUM_SLICES:
        raise StudyError(f"the CT series has only {len(members)} image(s); a study needs a stack of slices")
    if any(int(header.get("NumberOfFrames", 1) or 1) > 1 for _, header in members):
        raise StudyError("enhanced multi-frame CT is not supported; export the series as one file per slice")
    geometry = check_geometry([header for _, header in members], settings.spacing_tolerance)
    rows, columns = geometry.size
    needed = rows * columns * len(members) * np.dtype(HU_DTYPE).itemsize
    if needed > settings.memory_cap_bytes:
        raise StudyError(
            f"the series needs {needed / 2**30:.2f} GiB as int16 HU, over the memory cap of "
            f"{settings.memory_cap_bytes / 2**30:.2f} GiB"
        )
    hounsfield = np.empty((len(members), rows, columns), dtype=HU_DTYPE)
    for slot, index in enumerate(geometry.order):
        hounsfield[slot] = _read_pixels(members[index][0], slot, len(members))
    return _canonical(hounsfield, geometry, [members[index][1] for index in geometry.order], notes)


def _read_pixels(path: Path, slot: int, count: int) -> np.ndarray:
    try:
        dataset = pydicom.dcmread(path)
        stored = dataset.pixel_array
    except Exception as error:  # pydicom raises many types for damaged pixel data
        raise StudyError(
            f"slice {slot + 1} of {count} ({path.name}) cannot be decoded: {error.__class__.__name__}"
        ) from error
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    values = stored.astype(np.float32) * slope + intercept
    padding = dataset.get("PixelPaddingValue")
    if padding is not None:
        values[stored == padding] = -1024.0  # outside the field of view: treat as air
    return to_hounsfield_int16(values)


def _canonical(
    hounsfield: np.ndarray, geometry: SeriesGeometry, headers: list[pydicom.Dataset], notes: list[str]
) -> Volume:
    """Flip the stack so columns run to the patient's left, rows to the back, slices upwards.

    ``headers`` are in the stack's order; they are kept in the volume's slice order, with the
    in-plane flips, so results can be written back onto the right source pixels.
    """
    row_direction, column_direction, normal = geometry.directions
    first = headers[0]
    if row_direction[0] < 0:
        hounsfield = hounsfield[:, :, ::-1]
    if column_direction[1] < 0:
        hounsfield = hounsfield[:, ::-1, :]
    if normal[2] < 0:
        hounsfield = hounsfield[::-1]
        headers = headers[::-1]
    source = SourceSeries(tuple(headers), bool(column_direction[1] < 0), bool(row_direction[0] < 0))
    kernel = first.get("ConvolutionKernel")
    if kernel is not None and not isinstance(kernel, str):
        kernel = "\\".join(str(value) for value in kernel)
    thickness = first.get("SliceThickness")
    return Volume(
        hounsfield=np.ascontiguousarray(hounsfield),
        spacing_mm=(geometry.interval, *geometry.pixel_spacing),
        origin_mm=geometry.origin,
        kernel=str(kernel) if kernel else None,
        slice_thickness_mm=float(thickness) if thickness not in (None, "") else None,
        source="dicom",
        series_uid=str(first.SeriesInstanceUID),
        notes=tuple(notes),
        source_series=source,
    )
