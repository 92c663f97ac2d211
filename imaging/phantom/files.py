"""Writing phantom slices to disk: 16-bit PNG, CT DICOM, and the contact sheet.

Both image formats store ``HU + 1024`` as unsigned 16-bit values (``UNSIGNED_HU_OFFSET``); the
PNG says so in a ``hounsfield_offset`` text chunk, the DICOM through RescaleIntercept -1024.
Nothing here reads a clock, so the same slice always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from imaging.classes import SEVERITIES
from imaging.contract import CLASS_NAMES
from imaging.hounsfield import UNSIGNED_HU_OFFSET, LungWindow

HOUNSFIELD_OFFSET_KEY = "hounsfield_offset"
# Fixed DICOM dates and times: the phantom has no acquisition time, and bytes must not vary.
SYNTHETIC_DATE = "20000101"
SYNTHETIC_TIME = "000000"
SYNTHETIC_MANUFACTURER = "emphysema-hrct synthetic phantom"
SYNTHETIC_KVP = "120"
CONTACT_SHEET_DPI = 100
CONTACT_SHEET_CELL_INCHES = 2.6


def to_stored_values(hounsfield: np.ndarray) -> np.ndarray:
    """Round HU to integers and add the 16-bit offset: uint16 ``HU + 1024``."""
    stored = np.rint(np.asarray(hounsfield, dtype=np.float64)) + UNSIGNED_HU_OFFSET
    return np.clip(stored, 0, np.iinfo(np.uint16).max).astype(np.uint16)


def encode_png(hounsfield: np.ndarray) -> bytes:
    """Encode HU as a 16-bit greyscale PNG holding ``HU + 1024`` with a ``hounsfield_offset`` chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text(HOUNSFIELD_OFFSET_KEY, str(UNSIGNED_HU_OFFSET))
    buffer = io.BytesIO()
    Image.fromarray(to_stored_values(hounsfield)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _decimal(value: float) -> str:
    """Format a number for a DICOM DS element (at most 16 characters)."""
    return f"{value:.6g}"


def encode_dicom(hounsfield: np.ndarray, identity: Mapping[str, object]) -> bytes:
    """Encode HU as a CT Image Storage DICOM file, explicit VR little endian.

    Args:
        hounsfield: float ``(rows, columns)`` HU.
        identity: ``patient_id``, ``seed``, ``slice_index``, ``pixel_spacing_mm``,
            ``slice_thickness_mm``, ``slice_interval_mm`` and ``kernel``. UIDs are derived from
            the seed, patient and slice, so they are unique per slice and stable per run.
    """
    import pydicom  # the imaging layer's DICOM dependency; imported here to keep start-up light
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    patient_id, seed, slice_index = (
        str(identity["patient_id"]),
        identity["seed"],
        int(identity["slice_index"]),
    )
    study_uid = generate_uid(entropy_srcs=["emphysema-synth", str(seed), patient_id, "study"])
    series_uid = generate_uid(entropy_srcs=["emphysema-synth", str(seed), patient_id, "series"])
    instance_uid = generate_uid(entropy_srcs=["emphysema-synth", str(seed), patient_id, str(slice_index)])
    stored = to_stored_values(hounsfield)
    rows, columns = stored.shape
    spacing = float(identity["pixel_spacing_mm"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = CTImageStorage, instance_uid
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid, series_uid
    dataset.FrameOfReferenceUID = generate_uid(
        entropy_srcs=["emphysema-synth", str(seed), patient_id, "frame"]
    )
    dataset.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    dataset.Modality, dataset.BodyPartExamined = "CT", "CHEST"
    dataset.Manufacturer = SYNTHETIC_MANUFACTURER
    dataset.PatientName, dataset.PatientID = f"SYNTHETIC^{patient_id}", patient_id
    dataset.PatientBirthDate, dataset.PatientSex = "", "O"
    dataset.StudyDate = dataset.SeriesDate = dataset.ContentDate = SYNTHETIC_DATE
    dataset.StudyTime = dataset.SeriesTime = dataset.ContentTime = SYNTHETIC_TIME
    dataset.StudyID, dataset.AccessionNumber, dataset.ReferringPhysicianName = "1", "", ""
    dataset.StudyDescription = "Synthetic HRCT phantom (research use only)"
    dataset.SeriesNumber, dataset.InstanceNumber = 1, slice_index + 1
    dataset.KVP, dataset.ConvolutionKernel = SYNTHETIC_KVP, str(identity["kernel"])
    dataset.SliceThickness = _decimal(float(identity["slice_thickness_mm"]))
    position = slice_index * float(identity["slice_interval_mm"])
    dataset.SliceLocation = _decimal(position)
    dataset.ImagePositionPatient = [
        _decimal(-columns * spacing / 2),
        _decimal(-rows * spacing / 2),
        _decimal(position),
    ]
    dataset.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    dataset.PixelSpacing = [_decimal(spacing), _decimal(spacing)]
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.Rows, dataset.Columns = rows, columns
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
    dataset.RescaleIntercept, dataset.RescaleSlope, dataset.RescaleType = str(-UNSIGNED_HU_OFFSET), "1", "HU"
    window = LungWindow()
    dataset.WindowCenter, dataset.WindowWidth = _decimal(window.level), _decimal(window.width)
    dataset.BurnedInAnnotation = "NO"
    dataset.PixelData = stored.astype("<u2").tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_contact_sheet(
    path: Path, examples: Mapping[tuple[str, str | None], tuple[np.ndarray, str]]
) -> None:
    """Save a grid of example slices in the lung window: rows are classes, columns severities.

    Args:
        path: the PNG to write.
        examples: ``(label, severity) -> (HU slice, caption)``; NT has no severity, so its row
            shows up to four NT patients under the keys ``("NT", severity column name)``.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    window = LungWindow()
    size = CONTACT_SHEET_CELL_INCHES
    figure, axes = pyplot.subplots(
        len(CLASS_NAMES), len(SEVERITIES), figsize=(size * len(SEVERITIES), size * len(CLASS_NAMES) + 0.6)
    )
    for row, label in enumerate(CLASS_NAMES):
        for column, severity in enumerate(SEVERITIES):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            example = examples.get((label, severity))
            if example is None:
                axis.set_facecolor("0.9")
                axis.text(
                    0.5, 0.5, "none in\nthis data set", ha="center", va="center", transform=axis.transAxes
                )
            else:
                axis.imshow(
                    example[0], cmap="gray", vmin=window.lower, vmax=window.upper, interpolation="nearest"
                )
                axis.set_title(example[1], fontsize=8)
            if column == 0:
                axis.set_ylabel(label, fontsize=12, fontweight="bold")
    figure.suptitle(
        f"Synthetic HRCT phantom, lung window W{window.width:.0f}/L{window.level:.0f}: "
        "rows = class, columns = severity (NT: different patients)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=CONTACT_SHEET_DPI, metadata={"Software": None})
    pyplot.close(figure)
