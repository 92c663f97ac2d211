import numpy as np
import pytest

from imaging.classes import class_index
from imaging.contract import CLASS_NAMES
from imaging.hounsfield import LungWindow, hounsfield_window
from imaging.scan import Scan, resize_image, to_model_input


def test_class_order_is_the_databases_numbering():
    assert CLASS_NAMES == ("NT", "CLE", "PSE", "PLE")
    assert class_index("ple") == 3
    with pytest.raises(ValueError, match="unknown class label 'XYZ'"):
        class_index("XYZ")


def test_lung_window_maps_its_bounds_to_black_and_white():
    window = LungWindow()
    assert (window.lower, window.upper) == (-1350.0, 150.0)
    hounsfield = np.array([-3000.0, -1350.0, -600.0, 150.0, 1000.0, np.nan])
    assert hounsfield_window(hounsfield, window).tolist() == [0, 0, 128, 255, 255, 0]


def test_a_narrower_window_spreads_emphysema_and_normal_lung_further_apart():
    hounsfield = np.array([-950.0, -850.0])
    default_gap = np.diff(hounsfield_window(hounsfield).astype(int))[0]
    narrow_gap = np.diff(hounsfield_window(hounsfield, LungWindow(width=400, level=-850)).astype(int))[0]
    assert narrow_gap > default_gap > 0


def test_window_width_must_be_positive():
    with pytest.raises(ValueError, match="width must be positive"):
        LungWindow(width=0)


def test_model_input_has_the_contract_shape_and_dtype():
    scan = Scan(pixels=np.full((100, 80), -850.0, dtype=np.float32), is_hounsfield=True, source="a.dcm")
    tensor = to_model_input(scan, image_size=64)
    assert tensor.shape == (64, 64, 1) and tensor.dtype == np.uint8
    assert np.all(tensor == hounsfield_window(np.array([-850.0]))[0])


def test_already_windowed_scans_pass_through_unchanged():
    grey = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8)
    scan = Scan(pixels=grey, is_hounsfield=False, source="a.png")
    assert np.array_equal(to_model_input(scan, image_size=64)[:, :, 0], grey)


def test_resize_refuses_what_it_cannot_resize():
    with pytest.raises(ValueError, match="2-D uint8"):
        resize_image(np.zeros((4, 4, 3), dtype=np.uint8), 32)
    with pytest.raises(ValueError, match="at least 8"):
        resize_image(np.zeros((4, 4), dtype=np.uint8), 4)
