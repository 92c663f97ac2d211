"""`emphysema export` end to end on a tiny trained run: versions, config vs graph, parity, precisions."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from emphysema import cli
from export import exporter
from export.emulated_cpu import emulation_unavailable_reason, predict_on_emulated_cpu
from export.settings import ExportSettings
from imaging.contract import CLASS_NAMES
from imaging.errors import UsageError
from training.run_folder import read_run

# Triton data types and the onnxruntime type strings they must correspond to (independent of
# the exporter's own mapping).
ORT_TYPE_OF = {"TYPE_UINT8": "tensor(uint8)", "TYPE_FP32": "tensor(float)"}


def run_export(run, repository, *extra: str) -> int:
    return cli.main(["export", "--run", str(run), "--repository", str(repository), "--model", "tiny", *extra])


def read_config(model_folder) -> model_config_pb2.ModelConfig:
    return text_format.Parse((model_folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())


def test_export_writes_a_version_whose_graph_matches_config(tiny_run, tmp_path, capsys):
    assert run_export(tiny_run, tmp_path / "repo") == 0
    model_folder = tmp_path / "repo" / "tiny"
    assert sorted(path.name for path in model_folder.iterdir()) == ["1", "config.pbtxt", "labels.txt"]
    assert (model_folder / "labels.txt").read_text().split() == list(CLASS_NAMES)

    graph = onnx.load(str(model_folder / "1" / "model.onnx"))
    onnx.checker.check_model(graph, full_check=True)
    assert {entry.version for entry in graph.opset_import if entry.domain in ("", "ai.onnx")} == {17}
    session = onnxruntime.InferenceSession(str(model_folder / "1" / "model.onnx"))
    config = read_config(model_folder)
    assert config.name == "tiny" and config.backend == "onnxruntime" and config.max_batch_size == 32
    for tensors, configured in ((session.get_inputs(), config.input), (session.get_outputs(), config.output)):
        assert len(tensors) == len(configured) == 1
        tensor, entry = tensors[0], configured[0]
        assert tensor.name == entry.name
        assert tensor.type == ORT_TYPE_OF[model_config_pb2.DataType.Name(entry.data_type)]
        assert tensor.shape == ["batch", *entry.dims]  # named dynamic batch, then Triton's dims
    assert (config.input[0].name, list(config.input[0].dims)) == ("image", [32, 32, 1])
    assert (config.output[0].name, list(config.output[0].dims)) == ("probabilities", [4])
    assert config.output[0].label_filename == "labels.txt"
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert config.model_warmup[0].batch_size == 1 and config.model_warmup[0].inputs["image"].zero_data

    # Parity, measured again here independently of the exporter: Keras vs the written file.
    import keras

    images, labels = read_run(tiny_run).load_part("test")
    keras_probabilities = keras.saving.load_model(tiny_run / "model.keras").predict(images, verbose=0)
    onnx_probabilities = session.run(None, {"image": images})[0]
    difference = float(np.max(np.abs(keras_probabilities - onnx_probabilities)))
    assert difference <= 1e-4
    card = json.loads((model_folder / "1" / "model_card.json").read_text())
    assert card["checks"]["parity"]["max_abs_difference"] <= 1e-4
    assert card["checks"]["parity"]["samples"] == len(images)
    assert card["checks"]["evaluation"]["fp32_accuracy"] == pytest.approx(
        np.mean(onnx_probabilities.argmax(axis=1) == labels)
    )
    assert card["source_run"]["folder"] == str(tiny_run.resolve())
    assert card["source_run"]["split"] == "patient"  # the default: its metrics are on unseen patients
    assert card["onnx"]["size_bytes"] == (model_folder / "1" / "model.onnx").stat().st_size
    assert {"keras", "tf2onnx", "onnx", "onnxruntime"} <= set(card["versions"])
    assert card["interface"]["input"] == {"name": "image", "type": "UINT8", "dims": [-1, 32, 32, 1]}
    print(
        f"\nparity fp32: exporter {card['checks']['parity']['max_abs_difference']:.2e}, "
        f"test {difference:.2e}; export {card['export_seconds']} s"
    )
    assert "parity max |Keras - onnxruntime|" in capsys.readouterr().out


def test_second_export_adds_version_2_and_keeps_version_1(tiny_run, tmp_path):
    repository = tmp_path / "repo"
    assert run_export(tiny_run, repository) == 0
    first_model = (repository / "tiny" / "1" / "model.onnx").read_bytes()
    first_config = (repository / "tiny" / "config.pbtxt").read_text()
    assert run_export(tiny_run, repository) == 0
    model_folder = repository / "tiny"
    assert sorted(path.name for path in model_folder.iterdir()) == ["1", "2", "config.pbtxt", "labels.txt"]
    assert (model_folder / "1" / "model.onnx").read_bytes() == first_model
    assert json.loads((model_folder / "2" / "model_card.json").read_text())["version"] == 2
    assert (model_folder / "config.pbtxt").read_text() == first_config


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_exports_are_valid_and_report_accuracy_change(
    precision, tiny_run, tiny_run_accuracy, tmp_path, capsys
):
    assert tiny_run_accuracy >= 0.9, "the tiny model must have learned its classes for this test to mean much"
    assert run_export(tiny_run, tmp_path / "repo", "--precision", precision) == 0
    path = tmp_path / "repo" / "tiny" / "1" / "model.onnx"
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph, full_check=True)
    operators = {node.op_type for node in graph.graph.node}
    if precision == "int8":
        assert {"QuantizeLinear", "DequantizeLinear"} <= operators
        assert any(initializer.data_type == onnx.TensorProto.INT8 for initializer in graph.graph.initializer)
    else:
        assert any(
            initializer.data_type == onnx.TensorProto.FLOAT16 for initializer in graph.graph.initializer
        )
    # The interface is unchanged: uint8 image in, fp32 probabilities out, as config.pbtxt says.
    session = onnxruntime.InferenceSession(str(path))
    config = read_config(tmp_path / "repo" / "tiny")
    assert [(tensor.name, tensor.type) for tensor in session.get_inputs()] == [("image", "tensor(uint8)")]
    assert [(tensor.name, tensor.type) for tensor in session.get_outputs()] == [
        ("probabilities", "tensor(float)")
    ]
    assert config.output[0].data_type == model_config_pb2.TYPE_FP32

    images, labels = read_run(tiny_run).load_part("test")
    accuracy = float(np.mean(session.run(None, {"image": images})[0].argmax(axis=1) == labels))
    evaluation = json.loads(path.with_name("model_card.json").read_text())["checks"]["evaluation"]
    assert evaluation["accuracy"] == pytest.approx(accuracy)
    assert evaluation["accuracy_change"] == pytest.approx(accuracy - evaluation["fp32_accuracy"])
    assert evaluation["accuracy_change"] >= -0.01
    assert evaluation["instruction_set"].startswith(("AVX2", "AVX-512"))
    output = capsys.readouterr().out
    assert f"{precision} accuracy" in output
    if precision == "int8":
        # Whatever this machine's CPU, the int8 graph must also be right on one without VNNI, whose
        # integer kernels can saturate: run the written file on an emulated AVX2-only CPU.
        emulated = predict_on_emulated_cpu(graph, images, "Haswell")
        assert float(np.mean(emulated.argmax(axis=1) == labels)) >= evaluation["fp32_accuracy"] - 0.01
        recorded = json.loads(path.with_name("model_card.json").read_text())["checks"][
            "evaluation_emulated_cpu"
        ]
        assert recorded["instruction_set"] == "AVX2 without VNNI"
        assert recorded["accuracy"] == pytest.approx(float(np.mean(emulated.argmax(axis=1) == labels)))
    print(
        f"\n{precision}: accuracy {evaluation['fp32_accuracy']:.3f} -> {accuracy:.3f}, "
        f"max |fp32 - {precision}| {evaluation['max_abs_difference_to_fp32']:.2e}"
    )


def permuted_classes(graph_model: onnx.ModelProto, *_unused) -> onnx.ModelProto:
    """A 'reduced' graph that swaps the classes around: same interface, accuracy destroyed."""
    from export.onnx_graph import rename_tensor

    broken = onnx.ModelProto()
    broken.CopyFrom(graph_model)
    rename_tensor(broken.graph, "probabilities", "unpermuted")
    broken.graph.output[0].name = "probabilities"
    broken.graph.initializer.append(onnx.numpy_helper.from_array(np.array([1, 2, 3, 0]), "permutation"))
    broken.graph.node.append(
        onnx.helper.make_node("Gather", ["unpermuted", "permutation"], ["probabilities"], axis=1)
    )
    return broken


def test_accuracy_drop_past_tolerance_is_refused_unless_forced(tiny_run, tmp_path, monkeypatch, capsys):
    from export import precision

    monkeypatch.setattr(precision, "reduce_precision", permuted_classes)
    repository = tmp_path / "repo"
    assert run_export(tiny_run, repository, "--precision", "int8") == 1
    assert "int8 export refused" in capsys.readouterr().err
    assert not repository.exists()

    assert run_export(tiny_run, repository, "--precision", "int8", "--force") == 0
    evaluation = json.loads((repository / "tiny" / "1" / "model_card.json").read_text())["checks"][
        "evaluation"
    ]
    assert evaluation["forced"] is True and evaluation["accuracy_change"] < -0.5


def test_name_defaults_to_the_runs_architecture(tiny_run, tmp_path):
    assert exporter.main(["--run", str(tiny_run), "--repository", str(tmp_path / "repo")]) == 0
    assert read_config(tmp_path / "repo" / "simple_cnn").name == "simple_cnn"
    card = json.loads((tmp_path / "repo" / "simple_cnn" / "1" / "model_card.json").read_text())
    assert card["architecture"] == "simple_cnn" and card["model_name"] == "simple_cnn"


def test_another_architectures_name_is_refused_unless_forced(tiny_run, tmp_path, capsys):
    repository = tmp_path / "repo"
    argv = ["export", "--run", str(tiny_run), "--repository", str(repository), "--model", "inceptionv3"]
    assert cli.main(argv) == 2  # a simple_cnn must not pass for an InceptionV3 silently
    error = capsys.readouterr().err
    assert "this run trained simple_cnn" in error and "--model simple_cnn" in error and "--force" in error
    assert not repository.exists()
    assert cli.main([*argv, "--force"]) == 0
    card = json.loads((repository / "inceptionv3" / "1" / "model_card.json").read_text())
    assert (card["model_name"], card["architecture"]) == ("inceptionv3", "simple_cnn")


def test_the_old_name_option_still_names_the_model(tiny_run, tmp_path):
    argv = ["--run", str(tiny_run), "--repository", str(tmp_path / "repo"), "--name", "renamed"]
    assert exporter.main(argv) == 0
    assert read_config(tmp_path / "repo" / "renamed").name == "renamed"


def test_missing_run_folder_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["export", "--run", str(tmp_path / "nope"), "--repository", str(tmp_path / "repo")]) == 1
    assert f"{tmp_path / 'nope'}: run folder not found" in capsys.readouterr().err
    assert not (tmp_path / "repo").exists()


def test_uint8_activations_quantize_activations_unsigned_and_keep_accuracy(tiny_run, tmp_path):
    assert run_export(tiny_run, tmp_path / "repo", "--precision", "int8", "--int8-activations", "uint8") == 0
    graph = onnx.load(str(tmp_path / "repo" / "tiny" / "1" / "model.onnx"))
    initializers = {initializer.name: initializer for initializer in graph.graph.initializer}
    zero_point_types = {
        initializers[node.input[2]].data_type for node in graph.graph.node if node.op_type == "QuantizeLinear"
    }
    # Activations are quantized at run time (QuantizeLinear); weights are stored as int8 already.
    assert zero_point_types == {onnx.TensorProto.UINT8}
    assert any(initializer.data_type == onnx.TensorProto.INT8 for initializer in graph.graph.initializer)
    card = json.loads((tmp_path / "repo" / "tiny" / "1" / "model_card.json").read_text())
    assert card["checks"]["evaluation"]["accuracy_change"] >= -0.01


@pytest.mark.parametrize("activations", ["int8", "uint8"])
def test_int8_with_full_range_weights_is_refused_for_cpus_without_vnni(
    activations, tiny_run, tmp_path, capsys
):
    # 8-bit weights saturate the u8 x s8 kernels of x86 CPUs without VNNI (16-bit pair sums): the
    # graph is exact on an AVX-512 VNNI machine and loses a class on an AVX2 one. The gate must see
    # that on any machine, through the emulated CPU, and write nothing.
    repository = tmp_path / "repo"
    arguments = ("--precision", "int8", "--int8-activations", activations, "--no-int8-reduce-range")
    assert run_export(tiny_run, repository, *arguments) == 1
    error = capsys.readouterr().err
    # On an AVX2-only machine the gate refuses on this CPU already; elsewhere on the emulated one.
    assert "int8 export refused" in error and "AVX2 without VNNI" in error
    assert not repository.exists()


def test_emulated_check_is_required_by_the_test_suite():
    # `make install` installs qemu-user; without it the int8 tests above would prove nothing about
    # CPUs without VNNI, so this fails instead of skipping.
    assert emulation_unavailable_reason() is None, emulation_unavailable_reason()


def test_tensorrt_refuses_unsigned_int8_activations():
    with pytest.raises(UsageError, match="TensorRT takes only signed"):
        ExportSettings(precision="int8", int8_activations="uint8", tensorrt=True)
    with pytest.raises(UsageError, match="int8_activations must be one of"):
        ExportSettings(int8_activations="int4")
