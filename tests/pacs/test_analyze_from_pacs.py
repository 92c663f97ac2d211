"""`emphysema analyze --dicomweb`: a real Orthanc, the real embedded Triton and the tiny model.

Each test stores its own phantom study (its own seed, so its own UIDs) into the Orthanc started
for this module, analyses it from the PACS, and checks what a user relies on: the right series
analysed, its results stored once beside the study and listed by the PACS, no identifier in any
log. The failures are in test_analyze_from_pacs_failures.py.
"""

from __future__ import annotations

import json
import logging

import pydicom
import pytest

from analysis.from_pacs import ANALYSED, ArrivalSettings
from analysis.output_files import DICOM_OUTPUTS
from pacs.dicomweb import connect, describe_series, store_folder
from tests.pacs.analysis_support import (
    analyse_served,
    analyze,
    assert_one_clear_line,
    phantom,
    result_modalities,
    secrets_of,
    stored_phantom,
)
from tests.pacs.conftest import started_pacs
from tests.triton_support import inference_count

pytestmark = [pytest.mark.pacs, pytest.mark.triton]


def test_a_study_is_fetched_analysed_and_its_results_stored_beside_it(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys, caplog
):
    caplog.set_level(logging.DEBUG)  # whatever level an application logs at, no identifier shows
    folder, header = phantom(tmp_path, 301)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    store_folder(client, folder)
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    out = tmp_path / "local"
    assert (
        analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--out", str(out))
        == 0
    )
    served = inference_count(triton_server.grpc_url, tiny_repository.model_name) - before
    report = json.loads((out / "study" / "report.json").read_text(encoding="utf-8"))
    assert report["tiles"]["count"] == served > 0
    instances = len(list(folder.glob("*.dcm")))
    printed = capsys.readouterr()
    assert f"({instances} instances" in printed.out
    orthanc_log = pacs_environment.log.read_text(encoding="utf-8", errors="replace")
    for secret in secrets_of(header, pacs_environment):
        assert secret not in printed.out + printed.err + caplog.text + orthanc_log
    assert result_modalities(client, header) == ["CT", "DOC", "SEG", "SR"]
    # What Orthanc holds under the study is what the analysis wrote, in the source study.
    for name in DICOM_OUTPUTS:
        written = pydicom.dcmread(out / "study" / name, stop_before_pixels=True)
        assert written.StudyInstanceUID == header.StudyInstanceUID
        fetched = client.retrieve_instance_metadata(
            header.StudyInstanceUID, written.SeriesInstanceUID, written.SOPInstanceUID
        )
        assert fetched["00080018"]["Value"] == [written.SOPInstanceUID]


def test_a_study_delivered_and_analysed_twice_has_one_set_of_results(
    pacs_environment, triton_server, tiny_repository, tmp_path, capsys
):
    folder, header = stored_phantom(pacs_environment, tmp_path, 311)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID) == 0
    first = {one.series_uid: one.instances for one in describe_series(client, header.StudyInstanceUID)}
    store_folder(client, folder)  # the same study delivered again
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID) == 0
    assert "Already analysed" in capsys.readouterr().out
    assert inference_count(triton_server.grpc_url, tiny_repository.model_name) == before  # nothing classified
    assert analyze(pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--force") == 0
    assert "stored 3 result instances" in capsys.readouterr().out
    assert {
        one.series_uid: one.instances for one in describe_series(client, header.StudyInstanceUID)
    } == first
    assert result_modalities(client, header) == ["CT", "DOC", "SEG", "SR"]
    assert sorted(first.values()) == [1, 1, 1, len(list(folder.glob("*.dcm")))]
    # Other settings are another analysis: stored beside the first, not over it.
    assert (
        analyze(
            pacs_environment, triton_server, tiny_repository, header.StudyInstanceUID, "--stride-mm", "20"
        )
        == 0
    )
    assert result_modalities(client, header) == ["CT", "DOC", "DOC", "SEG", "SEG", "SR", "SR"]


def test_the_largest_ct_series_is_analysed_not_a_scout_or_another_modality(
    pacs_environment, triton_server, tiny_repository, tmp_path
):
    folder, header = stored_phantom(pacs_environment, tmp_path, 302)
    client = connect(pacs_environment.url, pacs_environment.credentials)
    extra = tmp_path / "extra"
    extra.mkdir()
    for index, path in enumerate(sorted(folder.glob("*.dcm"))[::8]):  # a thin "scout" CT series
        dataset = pydicom.dcmread(path)
        dataset.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[header.SeriesInstanceUID, "scout"])
        dataset.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[dataset.SOPInstanceUID, "scout"])
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.save_as(extra / f"scout-{index}.dcm")
    store_folder(client, extra)
    result = analyse_served(
        client, header, triton_server, tiny_repository, tmp_path / "local", ArrivalSettings(settle_s=0.1)
    )
    assert result.status == ANALYSED
    assert result.series_uid == header.SeriesInstanceUID
    assert result.instances == len(list(folder.glob("*.dcm")))
    assert (tmp_path / "local" / "report.json").is_file()


REFUSE_SEGMENTATIONS = """
function ReceivedInstanceFilter(dicom, origin, info)
  return dicom.Modality ~= 'SEG'
end
"""


def test_a_refused_result_is_one_clear_line_and_a_rerun_completes_the_set(
    triton_server, tiny_repository, tmp_path, tmp_path_factory, capsys, monkeypatch
):
    """An Orthanc whose policy drops segmentations (a Lua filter): it answers the store with success
    and keeps the SR and PDF only. The command checks what the PACS lists, so it says so."""
    script = tmp_path / "refuse.lua"
    script.write_text(REFUSE_SEGMENTATIONS)
    with started_pacs(tmp_path_factory.mktemp("refusing"), {"LuaScripts": [str(script)]}) as refusing:
        monkeypatch.setenv("EMPHYSEMA_PACS_USER", refusing.credentials.user)
        monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", refusing.credentials.password)
        _, header = stored_phantom(refusing, tmp_path, 312)
        client = connect(refusing.url, refusing.credentials)
        out = tmp_path / "local"
        code = analyze(refusing, triton_server, tiny_repository, header.StudyInstanceUID, "--out", str(out))
        assert code == 1
        assert_one_clear_line(capsys.readouterr(), header, refusing, "does not list 1 of 3 (SEG)")
        assert not out.exists()
        assert result_modalities(client, header) == ["CT", "DOC", "SR"]
        # Still incomplete, so not "already analysed": a rerun tries again and stores nothing twice.
        assert analyze(refusing, triton_server, tiny_repository, header.StudyInstanceUID) == 1
        assert_one_clear_line(capsys.readouterr(), header, refusing, "does not list 1 of 3 (SEG)")
        assert result_modalities(client, header) == ["CT", "DOC", "SR"]
        orthanc_log = refusing.log.read_text(encoding="utf-8", errors="replace")
        assert not [secret for secret in secrets_of(header, refusing) if secret in orthanc_log]
