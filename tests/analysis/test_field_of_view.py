"""The field of view a study is tiled at: the model config parameter, a setting, or the slice-level one."""

from __future__ import annotations

import pytest

from analysis.errors import AnalysisError
from analysis.field_of_view import resolve_field_of_view
from client.contract import ModelInfo
from client.triton import number_parameter


def _model(field_of_view_mm: float | None) -> ModelInfo:
    return ModelInfo("roi_model", ("1",), 64, 16, field_of_view_mm)


def test_the_parameter_is_read_from_the_model_config():
    config = {"max_batch_size": 16, "parameters": {"field_of_view_mm": {"string_value": "40"}}}
    assert number_parameter(config, "field_of_view_mm") == 40.0
    assert number_parameter({"max_batch_size": 16}, "field_of_view_mm") is None


@pytest.mark.parametrize("millimetres", [0.0, -5.0])
def test_an_impossible_model_field_of_view_is_refused(millimetres):
    with pytest.raises(AnalysisError, match="not a usable field of view"):
        resolve_field_of_view(_model(millimetres), None, 0.7)


def test_the_models_field_of_view_is_used_unless_overridden_nearby():
    assert resolve_field_of_view(_model(40.0), None, 0.7).millimetres == 40.0
    assert resolve_field_of_view(_model(40.0), 45.0, 0.7).source == "setting"
    with pytest.raises(AnalysisError, match="far from the 40 mm"):
        resolve_field_of_view(_model(40.0), 80.0, 0.7)


def test_a_slice_level_model_tiles_at_its_input_size_and_says_so():
    field = resolve_field_of_view(_model(None), None, 0.5)
    assert (field.millimetres, field.source) == (32.0, "slice-level")
    assert "no field_of_view_mm parameter" in field.warning
