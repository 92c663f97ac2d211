"""Shared fixtures: a tiny served model repository, the real Triton serving it, and a tiny training run.

`tiny_repository` is a model repository laid out exactly like `model_repository/` after an
export (the export stage's GPU config.pbtxt, labels.txt, 1/model.onnx), but the ONNX graph is a tiny
deterministic classifier built with onnx.helper, so no TensorFlow is needed. `triton_server` is
one session-wide embedded Triton (the real binary, python-backend twin, onnxruntime) over it.

`tiny_run` is a real `runs/NAME` folder (trained `model.keras`, settings.json, split.json) with its
data beside it, for the stages that start from a run: export and bench. Its scans are 16-bit PNGs
in HU + 1024 read by the real imaging readers; each class has its own lung attenuation, so the
tiny Keras model learns them in seconds and accuracy checks mean something.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from imaging.contract import CLASS_NAMES  # noqa: E402
from imaging.hounsfield import UNSIGNED_HU_OFFSET  # noqa: E402

TINY_MODEL_NAME = "inceptionv3"  # the default served model name, so clients need no override
TINY_IMAGE_SIZE = 32
TINY_MAX_BATCH_SIZE = 8
# A queue delay lets the dynamic batcher gather concurrent requests even though the tiny model
# answers in microseconds.
TINY_QUEUE_DELAY_US = 10_000


@dataclass(frozen=True)
class TinyRepository:
    """The tiny repository's facts, for tests that need them.

    Attributes:
        path: the repository folder (pass it where `model_repository/` would go).
        model_name: the one model in it.
        image_size: its square input size.
        max_batch_size: its `max_batch_size`.
        onnx_path: the version-1 ONNX file.
    """

    path: Path
    model_name: str
    image_size: int
    max_batch_size: int
    onnx_path: Path


def build_tiny_onnx(image_size: int = TINY_IMAGE_SIZE, seed: int = 0):
    """Return a contract-following ONNX classifier: uint8 `image` [-1,S,S,1] -> fp32 `probabilities` [-1,4].

    Cast -> scale to [0, 1] -> flatten -> dense (fixed random weights) -> tanh -> dense -> softmax.
    The weights are fixed by `seed` and small enough that the softmax does not saturate, so
    different images give visibly different probabilities.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    features, hidden, classes = image_size * image_size, 16, len(CLASS_NAMES)
    initializers = [
        numpy_helper.from_array(np.array(1 / 255, dtype=np.float32), "scale"),
        numpy_helper.from_array((rng.normal(size=(features, hidden)) * 0.1).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(size=hidden).astype(np.float32) * 0.1, "b1"),
        numpy_helper.from_array(rng.normal(size=(hidden, classes)).astype(np.float32), "w2"),
        numpy_helper.from_array(np.zeros(classes, dtype=np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["image_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["image_float", "scale"], ["scaled"]),
        helper.make_node("Flatten", ["scaled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w1", "b1"], ["hidden"]),
        helper.make_node("Tanh", ["hidden"], ["activated"]),
        helper.make_node("Gemm", ["activated", "w2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_emphysema",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", image_size, image_size, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime >= 1.14
    onnx.checker.check_model(model)
    return model


def render_tiny_config(model_name: str, image_size: int, max_batch_size: int) -> str:
    """Render the config.pbtxt `emphysema export` writes (export/triton_config.py) for the tiny graph.

    Written here with Triton's protobuf rather than by calling the export stage, which imports
    TensorFlow (10+ s) and would make every server test pay for it; tests/deploy/test_twin.py
    checks (as a slow test) that both render the same config.
    """
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2 as pb

    config = pb.ModelConfig(name=model_name, backend="onnxruntime", max_batch_size=max_batch_size)
    config.version_policy.latest.num_versions = 1
    config.input.add(name="image", data_type=pb.TYPE_UINT8, dims=[image_size, image_size, 1])
    config.output.add(name="probabilities", data_type=pb.TYPE_FP32, dims=[4], label_filename="labels.txt")
    config.instance_group.add(count=1, kind=pb.ModelInstanceGroup.KIND_GPU)
    config.dynamic_batching.max_queue_delay_microseconds = TINY_QUEUE_DELAY_US
    warmup = config.model_warmup.add(name="image_zeros_batch_1", batch_size=1)
    warmup.inputs["image"].data_type = pb.TYPE_UINT8
    warmup.inputs["image"].dims.extend([image_size, image_size, 1])
    warmup.inputs["image"].zero_data = True
    return text_format.MessageToString(config)


def write_tiny_repository(
    root: Path,
    model_name: str = TINY_MODEL_NAME,
    image_size: int = TINY_IMAGE_SIZE,
    max_batch_size: int = TINY_MAX_BATCH_SIZE,
) -> TinyRepository:
    """Write a one-model repository with the tiny ONNX model under `root`."""
    import onnx

    model_directory = root / model_name
    (model_directory / "1").mkdir(parents=True)
    onnx_path = model_directory / "1" / "model.onnx"
    onnx.save(build_tiny_onnx(image_size), onnx_path)
    (model_directory / "config.pbtxt").write_text(render_tiny_config(model_name, image_size, max_batch_size))
    (model_directory / "labels.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    return TinyRepository(root, model_name, image_size, max_batch_size, onnx_path)


@pytest.fixture(scope="session")
def tiny_repository(tmp_path_factory) -> TinyRepository:
    """A model repository with one tiny contract-following ONNX model (`inceptionv3`, 32x32)."""
    return write_tiny_repository(tmp_path_factory.mktemp("model_repository"))


@pytest.fixture(scope="session")
def triton_server(tiny_repository):
    """The real embedded Triton serving `tiny_repository`, on free loopback ports, for the session.

    Yields a started `deploy.embedded.EmbeddedTriton`: `.grpc_url` ("127.0.0.1:PORT"),
    `.http_url` ("http://127.0.0.1:PORT"), `.metrics_url` ("http://127.0.0.1:PORT/metrics"),
    `.process` (the tritonserver Popen), `.repository` (the ONNX repository), `.admin_key`.
    """
    from deploy.embedded import EmbeddedTriton
    from deploy.settings import ServeSettings

    settings = ServeSettings.on_free_ports(threads=1, exit_timeout_s=10, startup_timeout_s=120)
    with EmbeddedTriton(tiny_repository.path, settings) as server:
        yield server


# The tiny training run: 48 px scans, 4 training and 2 test patients per class, 2 slices each.
SCAN_SIDE = 48
# Mean lung attenuation per class, far apart inside the lung window so the tiny model can learn it.
CLASS_HOUNSFIELD = {"NT": -1200.0, "CLE": -900.0, "PSE": -600.0, "PLE": -300.0}
PATIENTS = {"train": 4, "test": 2}
SLICES_PER_PATIENT = 2


def write_scans(data: Path, seed: int = 0) -> dict[str, list[dict[str, str]]]:
    """Write PNG scans and manifest.csv; return split part -> [{"path", "label"}] (paths relative)."""
    rng = np.random.default_rng(seed)
    split: dict[str, list[dict[str, str]]] = {"train": [], "validation": [], "test": []}
    rows = []
    for part, patients in PATIENTS.items():
        for label in CLASS_NAMES:
            for patient in range(patients):
                patient_id = f"{part}{label}{patient}"
                for slice_index in range(SLICES_PER_PATIENT):
                    hounsfield = CLASS_HOUNSFIELD[label] + rng.normal(0, 60, (SCAN_SIDE, SCAN_SIDE))
                    stored = np.clip(hounsfield + UNSIGNED_HU_OFFSET, 0, 4000).astype(np.uint16)
                    relative = f"{label}/{patient_id}_s{slice_index:02d}.png"
                    (data / label).mkdir(parents=True, exist_ok=True)
                    Image.fromarray(stored).save(data / relative)
                    split[part].append({"path": relative, "label": label})
                    rows.append({"path": relative, "label": label, "patient_id": patient_id, "severity": ""})
    with (data / "manifest.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=["path", "label", "patient_id", "severity"])
        writer.writeheader()
        writer.writerows(rows)
    return split


def build_contract_model(image_size: int = TINY_IMAGE_SIZE, seed: int = 0):
    """The smallest model that follows the contract (uint8 image in, 4 softmax probabilities out)."""
    import keras

    keras.utils.set_random_seed(seed)
    image = keras.Input((image_size, image_size, 1), dtype="uint8", name="image")
    features = keras.layers.Rescaling(1 / 255)(image)
    features = keras.layers.Conv2D(8, 3, activation="relu")(features)
    features = keras.layers.GlobalAveragePooling2D()(features)
    probabilities = keras.layers.Dense(len(CLASS_NAMES), activation="softmax", name="probabilities")(features)
    return keras.Model(image, probabilities, name="tiny_contract")


def write_training_split(path: Path, data: Path, split: dict) -> None:
    """split.json exactly as training writes it (training.runs.save_split: paths, no labels)."""
    from imaging.dataset import read_dataset
    from training.runs import save_split

    samples = read_dataset(data)
    position = {
        sample.path.resolve().relative_to(data.resolve()).as_posix(): i for i, sample in enumerate(samples)
    }
    indices = {part: [position[entry["path"]] for entry in entries] for part, entries in split.items()}
    save_split(path, samples, indices, data)


def make_run(folder: Path, data: Path, split: dict) -> None:
    """Write a trained model.keras, settings.json and split.json like `emphysema train` does."""
    import keras

    from training.run_folder import read_run

    folder.mkdir(parents=True)
    settings = {
        "architecture": "simple_cnn",
        "image_size": TINY_IMAGE_SIZE,
        "data": str(data),
        "seed": 0,
        "window_width": 1500.0,
        "window_level": -600.0,
    }
    (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    write_training_split(folder / "split.json", data, split)
    model = build_contract_model()
    model.save(folder / "model.keras")  # the untrained model first, so read_run accepts the folder
    images, labels = read_run(folder).load_part("train")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=60, batch_size=32, verbose=0)
    model.save(folder / "model.keras")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A trained tiny run folder (runs/NAME layout) with its data folder beside it."""
    root = tmp_path_factory.mktemp("tiny_run")
    split = write_scans(root / "data")
    make_run(root / "runs" / "tiny", root / "data", split)
    return root / "runs" / "tiny"


@pytest.fixture(scope="session", name="build_contract_model")
def build_contract_model_fixture():
    """The contract model builder, for tests that need a Keras model of their own size."""
    return build_contract_model


def huge_shape_body(image_size: int) -> bytes:
    """The 130-byte KServe-v2 JSON request that aborted Triton 2.51 (std::bad_alloc, issue 17)."""
    shape = f"[1,{image_size},{image_size},1000000000000]".encode()
    return b'{"inputs":[{"name":"image","datatype":"UINT8","shape":' + shape + b',"data":[1,2,3]}]}'


def deep_nesting_body(image_size: int, depth: int = 200_000) -> bytes:
    """A ~400 KB request whose `data` is nested `depth` levels deep: it overflowed Triton 2.51's stack."""
    shape = f"[1,{image_size},{image_size},1]".encode()
    return (
        b'{"inputs":[{"name":"image","datatype":"UINT8","shape":'
        + shape
        + b',"data":'
        + b"[" * depth
        + b"1"
        + b"]" * depth
        + b"}]}"
    )


@pytest.fixture(scope="session")
def crash_request_bodies(tiny_repository) -> dict[str, bytes]:
    """The two HTTP inference bodies that crashed the embedded Triton 2.51, for `tiny_repository`."""
    return {
        "huge_declared_shape": huge_shape_body(tiny_repository.image_size),
        "deep_nesting": deep_nesting_body(tiny_repository.image_size),
    }
