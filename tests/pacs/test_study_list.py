"""`emphysema analyze --dicomweb URL --study-list FILE --shard-index I --shard-count N`, as the pods of
the Kubernetes Indexed Job run it: real Orthanc, real embedded Triton, tiny model."""

from __future__ import annotations

import csv
import json

import pydicom
import pytest

from analysis.pacs_cohort import listed_studies
from emphysema.cli import main as cli_main
from imaging.errors import UsageError
from pacs.dicomweb import connect, store_folder
from study.phantom.command import write_study
from study.phantom.settings import settings_for_size
from tests.pacs.conftest import started_pacs
from tests.triton_support import inference_count


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    with started_pacs(tmp_path_factory.mktemp("pacs_list")) as running:
        yield running


@pytest.fixture(scope="module")
def study_uids(orthanc, tmp_path_factory) -> list[str]:
    """Three small phantom studies stored into the PACS."""
    root, uids = tmp_path_factory.mktemp("list_studies"), []
    client = connect(orthanc.url, orthanc.credentials)
    for pattern, seed in (("CLE+PSE", 101), ("PLE", 202), ("CLE+PSE", 31)):  # seeds whose lungs fit the image
        write_study(root / f"s{seed}", pattern, "severe", seed, settings_for_size("small"), nifti=False)
        store_folder(client, root / f"s{seed}" / "dicom")
        uids.append(pydicom.dcmread(next((root / f"s{seed}" / "dicom").glob("*.dcm"))).StudyInstanceUID)
    return uids


def _rows(out) -> dict[str, dict]:
    with (out / "analysis.csv").open(encoding="utf-8") as handle:
        return {row["study"]: row for row in csv.DictReader(handle)}


def test_the_list_reads_uids_and_refuses_anything_else(tmp_path):
    listing = tmp_path / "studies.txt"
    listing.write_text("# cohort A\n1.2.3.4\n\n1.2.3.5  # second\n", encoding="utf-8")
    assert listed_studies(listing) == [("study-00000", "1.2.3.4"), ("study-00001", "1.2.3.5")]
    listing.write_text("1.2.3.4\nJohn Smith\n", encoding="utf-8")
    with pytest.raises(UsageError, match="line 2 is not a DICOM UID"):
        listed_studies(listing)
    listing.write_text("1.2.3.4\n1.2.3.4\n", encoding="utf-8")
    with pytest.raises(UsageError, match="twice"):
        listed_studies(listing)


@pytest.mark.pacs
@pytest.mark.triton
def test_two_shards_analyse_every_listed_study_once(
    orthanc, study_uids, triton_server, tiny_repository, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("EMPHYSEMA_PACS_USER", orthanc.credentials.user)
    monkeypatch.setenv("EMPHYSEMA_PACS_PASSWORD", orthanc.credentials.password)
    listing = tmp_path / "studies.txt"
    listing.write_text("\n".join(study_uids) + "\n", encoding="utf-8")
    common = ["analyze", "--dicomweb", orthanc.url, "--study-list", str(listing), "--shard-count", "2"]
    common += ["--url", triton_server.grpc_url, "--model", tiny_repository.model_name, "--slice-step", "4"]
    common += ["--quiet", "--settle", "0"]
    before = inference_count(triton_server.grpc_url, tiny_repository.model_name)
    for index in (0, 1):
        out = tmp_path / f"shard-{index}"
        assert cli_main([*common, "--shard-index", str(index), "--out", str(out), "--resume"]) == 0
    served = inference_count(triton_server.grpc_url, tiny_repository.model_name)

    shards = [_rows(tmp_path / f"shard-{index}") for index in (0, 1)]
    assert sorted(shards[0]) == ["study-00000", "study-00002"] and sorted(shards[1]) == ["study-00001"]
    assert all(row["status"] == "done" for shard in shards for row in shard.values())
    tiles = sum(
        json.loads((tmp_path / f"shard-{index}" / name / "report.json").read_text(encoding="utf-8"))["tiles"][
            "count"
        ]
        for index, shard in enumerate(shards)
        for name in shard
    )
    assert served - before == tiles, "every listed study went through Triton exactly once"
    output = capsys.readouterr()
    assert not any(uid in output.out + output.err for uid in study_uids), "UIDs stay out of the output"

    # A pod restarted on its shard: the finished studies are skipped.
    assert cli_main([*common, "--shard-index", "0", "--out", str(tmp_path / "shard-0"), "--resume"]) == 0
    assert "study-00000: done in an earlier run, skipped" in capsys.readouterr().out


def test_a_study_list_needs_the_pacs_and_an_output_folder(tmp_path, capsys):
    listing = tmp_path / "studies.txt"
    listing.write_text("1.2.3.4\n", encoding="utf-8")
    assert cli_main(["analyze", "--study-list", str(listing), "--out", str(tmp_path / "o")]) == 2
    assert "need --dicomweb" in capsys.readouterr().err
    assert (
        cli_main(["analyze", "--dicomweb", "http://127.0.0.1:9/dicom-web", "--study-list", str(listing)]) == 2
    )
    assert "--study-list needs --out" in capsys.readouterr().err
