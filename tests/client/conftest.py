"""Client test helpers: synthetic scans written as real DICOM / 16-bit PNG bytes, and the model's own answer.

Tests run with --import-mode=importlib, so the helpers reach them through the `scans` fixture.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pydicom.data
import pytest
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging.hounsfield import UNSIGNED_HU_OFFSET
from imaging.phantom import PhantomSettings, draw_patient_traits, generate_slice
from imaging.scan import Scan, to_model_input

SYNTHETIC_PATIENT_NAME = "Testpatient^Synthetic"
SYNTHETIC_PATIENT_ID = "SYN-7731"
# What pydicom's real CT_small.dcm says about its patient: none of it may survive the client.
CT_SMALL_IDENTIFIERS = (
    "CompressedSamples",
    "1CT1",
    "ABCD1234",
    "1234ABCD",
    "JFK IMAGING CENTER",
    "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
)


def phantom_hounsfield(label: str = "CLE", size: int = 64, seed: int = 0) -> np.ndarray:
    """One synthetic HRCT slice, float32 HU ``(size, size)``, from the project's phantom."""
    settings = PhantomSettings().with_image_size(size)
    rng = np.random.default_rng(seed)
    return generate_slice(label, "moderate", draw_patient_traits(rng, settings), rng, settings)


def dicom_bytes(
    hounsfield: np.ndarray, patient_name: str = SYNTHETIC_PATIENT_NAME, patient_id: str = SYNTHETIC_PATIENT_ID
) -> bytes:
    """A single-frame CT DICOM file (int16 stored values, RescaleIntercept -1024) holding ``hounsfield``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.Modality = "CT"
    dataset.PatientName, dataset.PatientID, dataset.PatientBirthDate = patient_name, patient_id, "19500101"
    dataset.InstitutionName = "Synthetic Hospital"
    dataset.Rows, dataset.Columns = hounsfield.shape
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 1
    dataset.RescaleIntercept, dataset.RescaleSlope = -1024, 1
    dataset.PixelSpacing = [0.7, 0.7]
    dataset.PixelData = (np.rint(hounsfield) + 1024).astype(np.int16).tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def png16_bytes(hounsfield: np.ndarray) -> bytes:
    """A 16-bit grey PNG storing HU + 1024 (the project's convention)."""
    stored = np.clip(np.rint(hounsfield) + UNSIGNED_HU_OFFSET, 0, 65535).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, format="PNG")
    return buffer.getvalue()


def onnx_prediction(onnx_path: Path, scan: Scan, image_size: int) -> tuple[str, np.ndarray]:
    """The class and probabilities onnxruntime gives in-process for the same preprocessed input."""
    import onnxruntime

    from imaging.contract import CLASS_NAMES

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    image = to_model_input(scan, image_size)[np.newaxis]
    probabilities = session.run(["probabilities"], {"image": image})[0][0]
    return CLASS_NAMES[int(np.argmax(probabilities))], probabilities


@pytest.fixture(scope="session")
def ct_small_bytes() -> bytes:
    """pydicom's real CT slice, with a patient name and ids to de-identify."""
    return Path(pydicom.data.get_testdata_file("CT_small.dcm")).read_bytes()


@pytest.fixture(scope="session")
def scans() -> SimpleNamespace:
    """The helpers above and the identifying strings tests look for."""
    return SimpleNamespace(
        phantom_hounsfield=phantom_hounsfield,
        dicom_bytes=dicom_bytes,
        png16_bytes=png16_bytes,
        onnx_prediction=onnx_prediction,
        ct_small_identifiers=CT_SMALL_IDENTIFIERS,
        synthetic_identifiers=(SYNTHETIC_PATIENT_NAME, SYNTHETIC_PATIENT_ID),
    )
