"""STOW-RS, QIDO-RS and WADO-RS against the real Orthanc, and their failures as clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from deploy.ports import free_ports
from pacs.credentials import Credentials
from pacs.dicomweb import connect, fetch_series, list_series, list_studies, store_folder
from pacs.errors import PacsError
from study.series import read_dicom_folder

pytestmark = pytest.mark.pacs


@pytest.fixture(scope="module")
def stored(pacs, synthetic_study):
    client = connect(pacs.settings.dicomweb_url, pacs.credentials)
    count = store_folder(client, synthetic_study)
    return client, count


def test_a_stored_series_is_found_fetched_and_read_with_identical_pixels(stored, synthetic_study, tmp_path):
    client, count = stored
    assert count == len(list(synthetic_study.glob("*.dcm")))
    studies = list_studies(client)
    assert len(studies) == 1 and "CT" in studies[0].modalities
    series = list_series(client, studies[0].study_uid)
    assert [modality for _, modality in series] == ["CT"]
    fetched = tmp_path / "fetched"
    assert fetch_series(client, studies[0].study_uid, series[0][0], fetched) == count
    original, copy = read_dicom_folder(synthetic_study), read_dicom_folder(fetched)
    np.testing.assert_array_equal(copy.hounsfield, original.hounsfield)
    assert copy.spacing_mm == original.spacing_mm


def test_no_patient_data_or_password_reaches_orthancs_log(stored, pacs, synthetic_study):
    import pydicom

    header = pydicom.dcmread(next(synthetic_study.glob("*.dcm")), stop_before_pixels=True)
    log = pacs.log.read_text(encoding="utf-8", errors="replace")
    assert "Orthanc version" in log, "Orthanc wrote no log"
    for secret in (str(header.PatientID), str(header.PatientName), pacs.credentials.password):
        assert secret not in log


def test_storing_twice_keeps_one_copy(stored, synthetic_study):
    client, count = stored
    assert store_folder(client, synthetic_study) == count
    assert len(list_studies(client)) == 1


def test_listing_pages_through_every_study(stored):
    client, _ = stored
    assert list_studies(client, page_size=1) == list_studies(client)


def test_a_wrong_password_is_a_clear_error(pacs):
    client = connect(pacs.settings.dicomweb_url, Credentials(pacs.credentials.user, "wrong-password"))
    with pytest.raises(PacsError, match="refused the user name or password") as caught:
        list_studies(client)
    assert "wrong-password" not in str(caught.value)


def test_a_pacs_that_is_down_is_a_clear_error():
    url = f"http://127.0.0.1:{free_ports(1)[0]}/dicom-web"
    with pytest.raises(PacsError, match="cannot reach the PACS.*is it running"):
        list_studies(connect(url, Credentials("u", "any-password")))


def test_a_refused_store_is_a_clear_error(pacs, synthetic_study, tmp_path):
    import pydicom

    broken = pydicom.dcmread(next(synthetic_study.glob("*.dcm")))
    del broken.SOPInstanceUID  # Orthanc cannot index an instance without one
    (tmp_path / "bad").mkdir()
    broken.save_as(tmp_path / "bad" / "one.dcm")
    with pytest.raises(PacsError, match="storing: the PACS .* refused") as caught:
        store_folder(connect(pacs.settings.dicomweb_url, pacs.credentials), tmp_path / "bad")
    assert str(broken.PatientID) not in str(caught.value)


def test_fetching_into_a_non_empty_folder_is_refused(stored, tmp_path):
    client, _ = stored
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(PacsError, match="not empty"):
        fetch_series(client, "1.2.3", "1.2.3.4", tmp_path / "full")
