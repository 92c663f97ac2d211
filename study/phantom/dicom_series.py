"""Write a study as a CT DICOM series: one file per slice, explicit VR little endian.

UIDs derive from the seed, so the same study always gets the same UIDs and bytes; series and
instance UIDs also from the kernel, so two reconstructions of one scan are two series of one study. Instance
numbers count from the head down, as scanners usually number them, so a reader that sorts by
InstanceNumber instead of position along the slice normal gets the order wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging.hounsfield import LungWindow
from imaging.phantom.files import SYNTHETIC_DATE, SYNTHETIC_KVP, SYNTHETIC_MANUFACTURER, SYNTHETIC_TIME

# Stored values are signed HU (intercept 0) would be simplest; real scanners store HU + 1024
# unsigned with RescaleIntercept -1024, so the phantom does the same.
STORED_OFFSET = 1024


def _decimal(value: float) -> str:
    return f"{value:.10g}"  # at most 16 characters (DS), precise to micrometres


def study_uids(seed_text: str, kernel: str) -> dict[str, str]:
    """The study, series and frame-of-reference UIDs of one synthetic study on one kernel."""
    return {
        "study": generate_uid(entropy_srcs=["emphysema-synth-study", seed_text, "study"]),
        "series": generate_uid(entropy_srcs=["emphysema-synth-study", seed_text, kernel, "series"]),
        "frame": generate_uid(entropy_srcs=["emphysema-synth-study", seed_text, "frame"]),
    }


def _template(patient_id: str, uids: dict[str, str], details: dict) -> pydicom.Dataset:
    dataset = pydicom.Dataset()
    dataset.SOPClassUID = CTImageStorage
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = uids["study"], uids["series"]
    dataset.FrameOfReferenceUID = uids["frame"]
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    dataset.Modality, dataset.BodyPartExamined = "CT", "CHEST"
    dataset.Manufacturer = SYNTHETIC_MANUFACTURER
    dataset.PatientName, dataset.PatientID = f"SYNTHETIC^{patient_id}", patient_id
    dataset.PatientBirthDate, dataset.PatientSex, dataset.PatientPosition = "", "O", "HFS"
    dataset.StudyDate = dataset.SeriesDate = dataset.ContentDate = SYNTHETIC_DATE
    dataset.StudyTime = dataset.SeriesTime = dataset.ContentTime = SYNTHETIC_TIME
    dataset.StudyID, dataset.AccessionNumber, dataset.ReferringPhysicianName = "1", "", ""
    dataset.StudyDescription = "Synthetic chest CT phantom (research use only)"
    dataset.SeriesDescription = f"Chest {details['kernel']} {details['thickness']:.3g} mm"
    dataset.SeriesNumber = 2
    dataset.KVP, dataset.ConvolutionKernel = SYNTHETIC_KVP, details["kernel"]
    dataset.SliceThickness = _decimal(details["thickness"])
    dataset.SpacingBetweenSlices = _decimal(details["interval"])
    dataset.GantryDetectorTilt = "0"
    dataset.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    dataset.PixelSpacing = [_decimal(details["spacing"])] * 2
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
    dataset.RescaleIntercept, dataset.RescaleSlope, dataset.RescaleType = str(-STORED_OFFSET), "1", "HU"
    window = LungWindow()
    dataset.WindowCenter, dataset.WindowWidth = _decimal(window.level), _decimal(window.width)
    dataset.BurnedInAnnotation = "NO"
    return dataset


def write_series(
    folder: Path,
    hounsfield: np.ndarray,
    origin_xy: tuple[float, float],
    positions: np.ndarray,
    patient_id: str,
    seed_text: str,
    details: dict,
) -> dict[str, str]:
    """Write ``hounsfield`` (slices lowest first) as ``IM-NNNN.dcm`` files; return the UIDs.

    Args:
        folder: where the files go.
        hounsfield: int16 ``(slices, rows, columns)``.
        origin_xy: ``(x, y)`` of the first pixel's centre in mm.
        positions: z of every slice in mm.
        patient_id: the synthetic patient id.
        seed_text: what the UIDs derive from.
        details: ``kernel``, ``thickness`` (mm), ``interval`` (mm) and ``spacing`` (mm).
    """
    folder.mkdir(parents=True, exist_ok=True)
    uids = study_uids(seed_text, details["kernel"])
    dataset = _template(patient_id, uids, details)
    slices, rows, columns = hounsfield.shape
    dataset.Rows, dataset.Columns = rows, columns
    for index in range(slices):
        number = slices - index  # head first: the top slice is instance 1
        instance_uid = generate_uid(
            entropy_srcs=["emphysema-synth-study", seed_text, details["kernel"], str(index)]
        )
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = instance_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dataset.file_meta = meta
        dataset.SOPInstanceUID, dataset.InstanceNumber = instance_uid, number
        z = float(positions[index])
        dataset.ImagePositionPatient = [_decimal(origin_xy[0]), _decimal(origin_xy[1]), _decimal(z)]
        dataset.SliceLocation = _decimal(z)
        stored = hounsfield[index].astype(np.int32) + STORED_OFFSET
        dataset.PixelData = np.clip(stored, 0, 65535).astype("<u2").tobytes()
        dataset.save_as(folder / f"IM-{number:04d}.dcm", enforce_file_format=True)
    return uids
