"""A region model (one with a field of view) through the real embedded Triton: `analyze` and `analysis-eval`.

The tiny model's answers mean nothing; these tests check what a user relies on: the field of view
and density reference read from the served config, only tiles with enough lung sent to Triton,
edge cells filled, a denser scan of the same lungs classified alike, and the accuracy document
and its table consistent with what was classified.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from analysis.accuracy_table import render_table
from analysis.density_reference import density_reference_hu
from analysis.pattern_map import build_pattern_map
from bench.study_throughput import RecordingClassifier
from client.settings import TritonSettings
from client.triton import TritonClassifier
from emphysema.cli import main as cli_main
from study.lungs import segment_lungs
from study.reader import read_study
from tests.triton_support import inference_count

pytestmark = pytest.mark.triton
REGION_MODEL = "tiny_roi"
FIELD_OF_VIEW_MM = 40
DENSITY_REFERENCE_HU = -815


@pytest.fixture(scope="module")
def region_server(tiny_repository, tmp_path_factory):
    """A Triton serving the tiny model twice: as is (slice-level) and as a 40 mm region model.

    The region model states a density reference, as `emphysema export` writes it for a model
    trained on `emphysema roi-dataset`'s shifted studies.
    """
    from deploy.embedded import EmbeddedTriton
    from deploy.settings import ServeSettings

    repository = tmp_path_factory.mktemp("region_repository")
    shutil.copytree(
        tiny_repository.path / tiny_repository.model_name, repository / tiny_repository.model_name
    )
    region = repository / REGION_MODEL
    shutil.copytree(tiny_repository.path / tiny_repository.model_name, region)
    config = (region / "config.pbtxt").read_text().replace(tiny_repository.model_name, REGION_MODEL)
    values = {"field_of_view_mm": FIELD_OF_VIEW_MM, "density_reference_hu": DENSITY_REFERENCE_HU}
    template = 'parameters {{ key: "{}" value {{ string_value: "{}" }} }}\n'
    parameters = "".join(template.format(key, value) for key, value in values.items())
    (region / "config.pbtxt").write_text(config + parameters)
    settings = ServeSettings.on_free_ports(threads=1)
    with EmbeddedTriton(repository, settings) as server:
        yield server


def test_a_region_model_classifies_only_tiles_with_enough_lung_and_fills_the_edges(
    region_server, studies, tmp_path
):
    url, out = region_server.grpc_url, tmp_path / "analysis"
    before = inference_count(url, REGION_MODEL)
    arguments = [str(studies["mixed"]), "--out", str(out), "--url", url, "--model", REGION_MODEL]
    assert cli_main(["analyze", *arguments, "--slice-step", "4", "--quiet"]) == 0
    report = json.loads((out / "mixed" / "report.json").read_text(encoding="utf-8"))
    assert (report["model"]["field_of_view_mm"], report["model"]["field_of_view_source"]) == (40.0, "model")
    volume = read_study(studies["mixed"])
    lungs = segment_lungs(volume).labels
    reference = density_reference_hu(volume.hounsfield, lungs)
    assert report["model"]["density_reference_hu"] == DENSITY_REFERENCE_HU
    assert report["tiles"]["density_shift_hu"] == round(DENSITY_REFERENCE_HU - reference)
    assert report["tiles"]["count"] == inference_count(url, REGION_MODEL) - before > 0
    assert report["tiles"]["edge_tiles_filled"] > 0
    saved = np.load(out / "mixed" / "pattern_map.npz")
    labels, analysed = saved["labels"], saved["analysed_slices"]
    assert not labels[lungs == 0].any()
    covered = [index for index in analysed if labels[index][lungs[index] > 0].any()]
    assert len(covered) > len(analysed) / 2
    for index in covered:  # a slice with a classified tile is labelled on every lung voxel
        assert labels[index][lungs[index] > 0].all()


def test_a_denser_scan_of_the_same_lungs_reaches_a_referenced_model_alike(
    region_server, tiny_repository, studies
):
    """A scanner calibrated 30 HU denser: the referenced model's tiles barely change, raw ones do."""
    volume = read_study(studies["mixed"])
    lungs = segment_lungs(volume).labels
    denser = volume.hounsfield + np.int16(30)

    def model_inputs(classifier, hounsfield, model):
        recorder = RecordingClassifier(classifier)
        info = classifier.model_info(model)
        spacing, side = volume.spacing_mm[1], FIELD_OF_VIEW_MM
        pattern_map = build_pattern_map(hounsfield, lungs, spacing, side, side, 4, recorder, info, True)
        return recorder.recorded()[0].astype(np.float32), pattern_map.density_shift_hu

    with TritonClassifier(TritonSettings(url=region_server.grpc_url)) as classifier:
        as_scanned, shift = model_inputs(classifier, volume.hounsfield, REGION_MODEL)
        as_denser, denser_shift = model_inputs(classifier, denser, REGION_MODEL)
        raw, raw_shift = model_inputs(classifier, volume.hounsfield, tiny_repository.model_name)
        raw_denser, _ = model_inputs(classifier, denser, tiny_repository.model_name)
    # The reference moves with the scan, within a few HU: voxels cross the parenchyma range's ends.
    assert abs(denser_shift - (shift - 30)) <= 3 and raw_shift is None
    # 30 HU is 5 grey levels of the lung window; the referenced model sees a fraction of one.
    assert np.abs(as_denser - as_scanned).mean() < 1 < 4 < np.abs(raw_denser - raw).mean()


def test_analysis_eval_writes_consistent_figures_for_each_model(
    region_server, tiny_repository, studies, tmp_path
):
    url, out = region_server.grpc_url, tmp_path / "accuracy"
    before = inference_count(url, REGION_MODEL)
    models = [REGION_MODEL, tiny_repository.model_name]
    arguments = [str(studies["mixed"].parent), "--out", str(out), "--url", url, "--model", *models]
    assert cli_main(["analysis-eval", *arguments, "--slice-step", "4", "--quiet"]) == 0
    document = json.loads((out / "accuracy.json").read_text(encoding="utf-8"))
    assert (out / "accuracy.md").read_text(encoding="utf-8") == render_table(document)
    assert [model["name"] for model in document["models"]] == models
    region, slice_level = document["models"]
    assert (region["field_of_view_mm"], slice_level["field_of_view_source"]) == (40.0, "slice-level")
    assert region["density_reference_hu"] == DENSITY_REFERENCE_HU
    assert slice_level["density_reference_hu"] is None
    assert all(isinstance(record["density_shift_hu"], int) for record in region["studies"])
    assert (
        sum(record["tiles"]["classified"] for record in region["studies"])
        == inference_count(url, REGION_MODEL) - before
    )
    for model in document["models"]:
        assert {record["study"] for record in model["studies"]} == {"mixed", "panlobular"}
        for record in model["studies"]:
            assert np.sum(record["confusion"]) == record["tiles"]["judged"] <= record["tiles"]["classified"]
            assert sum(record["truth"]["pattern_percent"].values()) == pytest.approx(100.0, abs=0.01)
            assert record["severity"] == "severe" and record["voxel_truth_percent"]
        judged = sum(record["tiles"]["judged"] for record in model["studies"])
        correct = sum(record["tiles"]["correct"] for record in model["studies"])
        assert model["summary"]["overall"]["roi_accuracy"]["value"] == pytest.approx(
            correct / judged, abs=1e-4
        )


def test_analysis_eval_refuses_an_unknown_model_and_writes_nothing(region_server, studies, tmp_path, capsys):
    out = tmp_path / "accuracy"
    arguments = [
        str(studies["mixed"]),
        "--out",
        str(out),
        "--url",
        region_server.grpc_url,
        "--model",
        "absent",
    ]
    assert cli_main(["analysis-eval", *arguments, "--quiet"]) == 1
    assert "absent" in capsys.readouterr().err and not out.exists()
