"""A region model's field of view and density reference reach the served config and model card.

Slice-level models carry neither.

Each kind gets its own default ``max_batch_size`` (a study sends thousands of small ROIs), saved
resolved next to the export.
"""

from __future__ import annotations

import json
import shutil

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from client.triton import number_parameter
from emphysema import cli
from export.settings import SLICE_MAX_BATCH_SIZE, ExportSettings


def export_tiny(run, repository) -> model_config_pb2.ModelConfig:
    assert cli.main(["export", "--run", str(run), "--repository", str(repository), "--model", "tiny"]) == 0
    text = (repository / "tiny" / "config.pbtxt").read_text()
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def as_served_json(config: model_config_pb2.ModelConfig) -> dict:
    """The config as Triton hands it to a client (get_model_config(as_json=True))."""
    return json_format.MessageToDict(config, preserving_proto_field_name=True)


def test_a_region_run_exports_its_field_of_view_for_clients(tiny_run, tmp_path):
    region_run = tmp_path / "region_run"
    shutil.copytree(tiny_run, region_run)
    settings = json.loads((region_run / "settings.json").read_text())
    region = {**settings, "field_of_view_mm": 32.5, "density_reference_hu": -815.0}
    (region_run / "settings.json").write_text(json.dumps(region))

    config = export_tiny(region_run, tmp_path / "repo")

    assert config.parameters["field_of_view_mm"].string_value == "32.5"
    served = as_served_json(config)  # what the client reads from Triton
    assert number_parameter(served, "field_of_view_mm") == 32.5
    assert number_parameter(served, "density_reference_hu") == -815.0
    card = json.loads((tmp_path / "repo" / "tiny" / "1" / "model_card.json").read_text())
    assert (card["field_of_view_mm"], card["density_reference_hu"]) == (32.5, -815.0)
    header = (tmp_path / "repo" / "tiny" / "config.pbtxt").read_text().splitlines()[2]
    assert "field of view" in header
    assert config.max_batch_size == ExportSettings().region_max_batch_size == 128
    saved = json.loads((tmp_path / "repo" / "tiny" / "1" / "export_settings.json").read_text())
    assert saved["max_batch_size"] == 128


def test_a_slice_level_run_exports_no_field_of_view(tiny_run, tmp_path):
    config = export_tiny(tiny_run, tmp_path / "repo")
    assert not config.parameters
    assert number_parameter(as_served_json(config), "field_of_view_mm") is None
    card = json.loads((tmp_path / "repo" / "tiny" / "1" / "model_card.json").read_text())
    assert card["field_of_view_mm"] is None and card["density_reference_hu"] is None
    assert config.max_batch_size == SLICE_MAX_BATCH_SIZE == 32


def test_an_explicit_max_batch_size_wins_for_either_kind():
    assert ExportSettings(max_batch_size=16).resolved_for(32.0).max_batch_size == 16
    assert ExportSettings(max_batch_size=16).resolved_for(None).max_batch_size == 16
    assert ExportSettings(region_max_batch_size=64).resolved_for(32.0).max_batch_size == 64
