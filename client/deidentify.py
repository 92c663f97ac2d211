"""De-identify a DICOM dataset in memory: PS3.15 Annex E, Basic Application Level Confidentiality Profile.

The app calls :func:`deidentify` on every uploaded DICOM before anything else reads it. The
rules below follow Table E.1-1's actions, applied to whole classes of attributes so that
attributes the table lists but this code does not name are still covered:

- person names (VR PN) anywhere, the patient's identifiers and the study's ids and dates are
  emptied (action Z: they are Type 2, so they stay present but empty);
- every other free-text attribute (LO, SH, LT, ST, UT, UC, AE, UR, AS) is removed (action X),
  except a short allow-list of scanner facts the model may need (kernel, manufacturer);
- every date and time (DA, DT, TM) is emptied;
- every UID except the standard's own (SOP class, transfer syntax) is replaced by a new UID
  (action U), consistently within one call with the same ``uid_salt``, so references still match;
- private tags, curves (50xx), overlays (60xx) and trailing padding are removed;
- PatientIdentityRemoved=YES and DeidentificationMethod(CodeSequence) record what was done.

It keeps pixel data and the attributes needed to turn it into Hounsfield units.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

EMPTIED_KEYWORDS = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyID",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyDate",
        "StudyTime",
        "ContentDate",
        "ContentTime",
    }
)
REMOVED_KEYWORDS = frozenset(
    {
        "OtherPatientIDsSequence",
        "ReferencedPatientSequence",
        "RequestAttributesSequence",
        "PatientBirthTime",
        "PatientWeight",
        "PatientSize",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "EthnicGroup",
        "MilitaryRank",
        "BranchOfService",
        "PregnancyStatus",
        "PatientReligiousPreference",
        "InstitutionCodeSequence",
        "PhysiciansOfRecordIdentificationSequence",
        "ReferencedPerformedProcedureStepSequence",
        "DataSetTrailingPadding",
    }
)
# Free text kept because it describes the scanner, not the person, and the model may need it.
KEPT_TEXT_KEYWORDS = frozenset(
    {
        "SpecificCharacterSet",
        "Manufacturer",
        "ManufacturerModelName",
        "ConvolutionKernel",
        "SoftwareVersions",
        "FilterType",
        "BodyPartExamined",
        "PhotometricInterpretation",
    }
)
# UIDs defined by the standard itself (what the object is, how it is encoded): never patient data.
KEPT_UID_KEYWORDS = frozenset(
    {
        "SOPClassUID",
        "ReferencedSOPClassUID",
        "MediaStorageSOPClassUID",
        "TransferSyntaxUID",
        "ImplementationClassUID",
        "CodingSchemeUID",
        "ContextGroupExtensionCreatorUID",
        "MappingResource",
        "AffectedSOPClassUID",
        "RequestedSOPClassUID",
    }
)
FILE_META_REMOVED_KEYWORDS = (
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "PrivateInformation",
    "PrivateInformationCreatorUID",
)
FREE_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC", "AE", "UR", "AS"})
DATE_TIME_VRS = frozenset({"DA", "DT", "TM"})
# PS3.16 CID 7050 "De-identification Method": the Basic Application Confidentiality Profile.
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
DEIDENTIFICATION_METHOD = "PS3.15 Annex E basic profile, in memory (emphysema-hrct)"


def _is_curve_or_overlay(element: DataElement) -> bool:
    return 0x5000 <= element.tag.group <= 0x50FF or 0x6000 <= element.tag.group <= 0x60FF


def _clean(dataset: Dataset, replace_uid: Callable[[str], str]) -> None:
    """Apply the profile to one dataset level, then to every sequence item below it."""
    for element in list(dataset):
        keyword = element.keyword
        if keyword in REMOVED_KEYWORDS or _is_curve_or_overlay(element):
            del dataset[element.tag]
        elif element.VR == "SQ":
            for item in element.value:
                _clean(item, replace_uid)
        elif keyword in EMPTIED_KEYWORDS or element.VR == "PN" or element.VR in DATE_TIME_VRS:
            element.value = None
        elif element.VR in FREE_TEXT_VRS and keyword not in KEPT_TEXT_KEYWORDS:
            del dataset[element.tag]
        elif element.VR == "UI" and keyword not in KEPT_UID_KEYWORDS and element.value:
            element.value = (
                [replace_uid(str(uid)) for uid in element.value]
                if element.VM > 1
                else replace_uid(str(element.value))
            )


def deidentify(dataset: Dataset, uid_salt: bytes | None = None) -> Dataset:
    """De-identify ``dataset`` in place (and return it) with the PS3.15 basic profile.

    Args:
        dataset: a dataset as read by pydicom; its file meta is cleaned as well.
        uid_salt: secret bytes mixed into the new UIDs. The same salt maps the same old UID to
            the same new one (so a series stays a series); the default is random per call.

    Returns:
        The same dataset object, de-identified.
    """
    salt = uid_salt if uid_salt is not None else os.urandom(16)
    # generate_uid hashes its entropy sources with SHA-512: the old UID cannot be recovered.
    new_uids: dict[str, str] = {}

    def replace_uid(old: str) -> str:
        if old not in new_uids:
            new_uids[old] = str(generate_uid(entropy_srcs=[salt.hex(), old]))
        return new_uids[old]

    dataset.remove_private_tags()
    _clean(dataset, replace_uid)
    file_meta = getattr(dataset, "file_meta", None)
    if file_meta is not None:
        if "MediaStorageSOPInstanceUID" in file_meta:
            file_meta.MediaStorageSOPInstanceUID = replace_uid(str(file_meta.MediaStorageSOPInstanceUID))
        for keyword in FILE_META_REMOVED_KEYWORDS:
            if keyword in file_meta:
                delattr(file_meta, keyword)
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = DEIDENTIFICATION_METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
    dataset.DeidentificationMethodCodeSequence = Sequence([code])
    return dataset
