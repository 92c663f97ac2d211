"""Wrap the PDF report in a DICOM Encapsulated PDF instance of the source study, for the PACS.

The instance joins the source study (patient and study attributes copied from the source
images, as a PACS needs to file it) in its own DOC series, and lists the source images it was
derived from. The PDF inside carries no patient identifiers unless they were asked for
(``BurnedInAnnotation`` says which).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from analysis.dicom_equipment import MANUFACTURER, MANUFACTURER_MODEL, SERIES_NUMBERS, software_version
from analysis.output_uids import OutputUids
from study.source_series import SourceSeries

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
DOCUMENT_TITLE = "Emphysema pattern analysis (research use only)"
# Copied from the source so the PACS files the report with the study it describes.
PATIENT_AND_STUDY = (
    "SpecificCharacterSet",
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
)
# Type 2 attributes that must be present, empty when the source lacks them.
REQUIRED_EMPTY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime")


def write_encapsulated_pdf(
    path: Path, pdf: bytes, source: SourceSeries, uids: OutputUids, patient_details_shown: bool
) -> pydicom.Dataset:
    """Write ``pdf`` as an Encapsulated PDF instance in the source study; return the dataset."""
    first = source.headers[0]
    dataset = pydicom.Dataset()
    for keyword in PATIENT_AND_STUDY:
        if keyword in first:
            setattr(dataset, keyword, first.data_element(keyword).value)
    for keyword in REQUIRED_EMPTY + ("ReferringPhysicianName", "StudyID", "AccessionNumber"):
        if keyword not in dataset:
            setattr(dataset, keyword, "")
    now = datetime.datetime.now()
    dataset.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    dataset.SOPInstanceUID = uids.instance["report_pdf"]
    dataset.Modality = "DOC"
    dataset.SeriesInstanceUID = uids.series["report_pdf"]
    dataset.SeriesNumber = SERIES_NUMBERS["report_pdf"]
    dataset.SeriesDescription = DOCUMENT_TITLE
    dataset.Manufacturer = MANUFACTURER
    dataset.ManufacturerModelName = MANUFACTURER_MODEL
    dataset.SoftwareVersions = software_version()
    dataset.ConversionType = "WSD"  # made on a workstation, not digitised from film or paper
    dataset.InstanceNumber = 1
    dataset.ContentDate = now.strftime("%Y%m%d")
    dataset.ContentTime = now.strftime("%H%M%S")
    dataset.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    dataset.BurnedInAnnotation = "YES" if patient_details_shown else "NO"
    dataset.DocumentTitle = DOCUMENT_TITLE
    dataset.ConceptNameCodeSequence = []
    references = []
    for header in source.headers:
        reference = pydicom.Dataset()
        reference.ReferencedSOPClassUID = header.SOPClassUID
        reference.ReferencedSOPInstanceUID = header.SOPInstanceUID
        references.append(reference)
    dataset.SourceInstanceSequence = references
    dataset.MIMETypeOfEncapsulatedDocument = "application/pdf"
    # OB values have even length: pad with one zero byte and say how long the document really is.
    dataset.EncapsulatedDocumentLength = len(pdf)
    dataset.EncapsulatedDocument = pdf + b"\x00" * (len(pdf) % 2)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENCAPSULATED_PDF_STORAGE
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta = meta
    dataset.save_as(path, enforce_file_format=True)
    return dataset
