"""`emphysema predict` on a folder of good and bad files, through the real embedded Triton."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pydicom.data
import pytest

from client import predict
from client.report import DISCLAIMER
from deploy.ports import free_ports
from imaging.lung_likeness import NOT_LUNG_WARNING
from imaging.readers import read_scan


@pytest.fixture
def scan_folder(tmp_path, scans):
    folder = tmp_path / "scans"
    (folder / "patient_a").mkdir(parents=True)
    dicom = scans.dicom_bytes(scans.phantom_hounsfield("CLE", 64, 1))
    (folder / "patient_a" / "slice1.dcm").write_bytes(dicom)
    (folder / "slice2.png").write_bytes(scans.png16_bytes(scans.phantom_hounsfield("PLE", 64, 2)))
    (folder / "notes.dcm").write_text("not an image\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "manifest.csv").write_text("path,label\n")  # not a scan suffix: skipped in folders
    (folder / ".hidden.png").write_bytes(b"junk")  # hidden: skipped
    return folder


def _expected(tiny_repository, scans, folder) -> dict[str, str]:
    return {
        str(path): scans.onnx_prediction(
            tiny_repository.onnx_path, read_scan(path), tiny_repository.image_size
        )[0]
        for path in (folder / "patient_a" / "slice1.dcm", folder / "slice2.png")
    }


@pytest.mark.triton
def test_table_lists_good_files_and_each_bad_file_gets_one_line(
    triton_server, tiny_repository, scans, scan_folder, capsys
):
    code = predict.main(["--url", triton_server.grpc_url, str(scan_folder)])
    output = capsys.readouterr()
    assert code == 1  # some files failed
    expected = _expected(tiny_repository, scans, scan_folder)
    lines = output.out.splitlines()
    assert lines[0] == f"model {tiny_repository.model_name}, version 1, slice-level (no field of view)"
    assert lines[1].split() == ["file", "prediction", "NT", "CLE", "PSE", "PLE"]
    rows = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert rows == expected
    for line in lines[2:]:  # the same 4 decimals as JSON and CSV
        assert all(len(cell.split(".")[1]) == 4 for cell in line.split()[2:]), line
    errors = [line for line in output.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert any(str(scan_folder / "notes.dcm") in line and "text file" in line for line in errors)
    assert any(str(scan_folder / "empty.png") in line and "empty" in line for line in errors)
    assert "Traceback" not in output.err
    assert f"2 classified, 2 failed. {DISCLAIMER}" in output.err


@pytest.mark.triton
def test_json_and_csv_carry_the_same_probabilities(
    triton_server, tiny_repository, scans, scan_folder, capsys
):
    good = [str(scan_folder / "patient_a" / "slice1.dcm"), str(scan_folder / "slice2.png")]
    assert predict.main(["--url", triton_server.grpc_url, "--json", *good]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["errors"] == [] and document["disclaimer"] == DISCLAIMER
    name = tiny_repository.model_name
    assert document["model"] == {"name": name, "version": "1", "field_of_view_mm": None}
    assert predict.main(["--url", triton_server.grpc_url, "--csv", *good]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = _expected(tiny_repository, scans, scan_folder)
    assert [item["prediction"] for item in document["predictions"]] == [expected[path] for path in good]
    assert [row["prediction"] for row in rows] == [expected[path] for path in good]
    for item, row in zip(document["predictions"], rows, strict=True):
        assert item["file"] == row["file"]
        assert (row["model"], row["model_version"], row["field_of_view_mm"]) == (name, "1", "")
        # The same figures to the same 4 decimals, not merely close.
        assert [item["probabilities"][label] for label in ("NT", "CLE", "PSE", "PLE")] == [
            float(row[label]) for label in ("NT", "CLE", "PSE", "PLE")
        ]
        assert all(len(row[label].split(".")[-1]) <= 4 for label in ("NT", "CLE", "PSE", "PLE"))
        assert sum(item["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_unreachable_triton_is_one_clear_line_and_exit_2(scan_folder, capsys):
    url = f"127.0.0.1:{free_ports(1)[0]}"
    assert predict.main(["--url", url, "--timeout", "2", str(scan_folder)]) == 2
    error = capsys.readouterr().err
    assert f"Triton at {url} is not reachable — start it with `emphysema serve`" in error
    assert "Traceback" not in error


def test_missing_paths_and_empty_folders_exit_2(tmp_path, capsys):
    assert predict.main([str(tmp_path / "nowhere")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert predict.main([str(tmp_path)]) == 2
    assert "no scan files found" in capsys.readouterr().err


@pytest.mark.triton
def test_an_image_that_is_not_lung_is_flagged_in_table_json_and_csv(
    triton_server, scans, scan_folder, tmp_path, capsys
):
    ct_small = tmp_path / "ct_small.dcm"
    ct_small.write_bytes(Path(pydicom.data.get_testdata_file("CT_small.dcm")).read_bytes())
    lung = scan_folder / "slice2.png"
    files = [str(ct_small), str(lung)]

    assert predict.main(["--url", triton_server.grpc_url, *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    predicted = {line.split()[0]: line.split()[1] for line in lines[2:4]}
    assert predicted[str(ct_small)].endswith("*") and not predicted[str(lung)].endswith("*")
    assert lines[4] == f"* 1 image(s): {NOT_LUNG_WARNING}"

    assert predict.main(["--url", triton_server.grpc_url, "--json", *files]) == 0
    items = {item["file"]: item for item in json.loads(capsys.readouterr().out)["predictions"]}
    assert items[str(ct_small)]["looks_like_lung"] is False
    assert items[str(ct_small)]["warning"].startswith(NOT_LUNG_WARNING)
    assert items[str(lung)]["looks_like_lung"] is True and items[str(lung)]["warning"] == ""

    assert predict.main(["--url", triton_server.grpc_url, "--csv", *files]) == 0
    rows = {row["file"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows[str(ct_small)]["looks_like_lung"] == "False" and rows[str(ct_small)]["warning"]
    assert rows[str(lung)]["looks_like_lung"] == "True"


@pytest.fixture(scope="module")
def simple_cnn_only(tiny_repository, tmp_path_factory):
    """The embedded Triton serving one model, named simple_cnn (the README's own --quick export)."""
    from deploy.embedded import EmbeddedTriton
    from deploy.settings import ServeSettings

    root = tmp_path_factory.mktemp("simple_cnn_repository")
    shutil.copytree(tiny_repository.path / tiny_repository.model_name, root / "simple_cnn")
    config = root / "simple_cnn" / "config.pbtxt"
    config.write_text(config.read_text().replace(f'"{tiny_repository.model_name}"', '"simple_cnn"'))
    settings = ServeSettings.on_free_ports(threads=1, exit_timeout_s=10, startup_timeout_s=120)
    with EmbeddedTriton(root, settings) as server:
        yield server


@pytest.mark.triton
def test_predict_without_model_classifies_with_the_only_served_model(simple_cnn_only, scan_folder, capsys):
    good = [str(scan_folder / "patient_a" / "slice1.dcm"), str(scan_folder / "slice2.png")]
    assert predict.main(["--url", simple_cnn_only.grpc_url, "--quiet", *good]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model simple_cnn, version 1, slice-level (no field of view)"
    assert [line.split()[0] for line in lines[2:]] == good


@pytest.mark.triton
def test_a_model_that_is_not_served_is_named_with_the_served_ones(simple_cnn_only, scan_folder, capsys):
    arguments = ["--url", simple_cnn_only.grpc_url, "--model", "inceptionv3", str(scan_folder)]
    assert predict.main(arguments) == 2
    output = capsys.readouterr()
    assert output.out == ""
    assert "model 'inceptionv3' is not served by Triton at" in output.err
    assert "it serves simple_cnn (choose with --model)" in output.err
