"""The python-backend model of the runtime twin: runs a model's `model.onnx` with onnxruntime.

This file is copied as `model.py` into every version folder of the twin repository and runs
inside Triton's python-backend stub process, not in the project's own interpreter: it may only
import what the stub's environment has (numpy, onnxruntime, triton_python_backend_utils).

Triton's dynamic batcher hands `execute` a list of requests. Running them one by one would make
batching pointless, so their inputs are concatenated along the batch axis, run once, and the
outputs are split back by each request's batch size.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """One model instance: an onnxruntime session over the version's model.onnx."""

    def initialize(self, args: dict) -> None:
        """Open the ONNX model with the thread count the twin's config asks for."""
        config = json.loads(args["model_config"])
        self.model_name = config["name"]
        self.input_names = [tensor["name"] for tensor in config["input"]]
        self.output_types = {
            tensor["name"]: pb_utils.triton_string_to_numpy(tensor["data_type"])
            for tensor in config["output"]
        }
        parameters = config.get("parameters", {})
        threads = int(parameters.get("intra_op_thread_count", {}).get("string_value", "0") or 0)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0 lets onnxruntime use every core
        options.inter_op_num_threads = 1
        # The arena keeps the largest batch's activations for reuse (fast, but the stub stays at
        # its high-water mark); without it each run allocates and frees them.
        arena = parameters.get("cpu_memory_arena", {}).get("string_value", "true")
        options.enable_cpu_mem_arena = arena != "false"
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        session_inputs = {tensor.name for tensor in self.session.get_inputs()}
        missing = [name for name in self.input_names if name not in session_inputs]
        if missing:
            raise pb_utils.TritonModelException(
                f"{path}: the ONNX graph has no input(s) {missing}; it has {sorted(session_inputs)}"
            )

    def execute(self, requests: list) -> list:
        """Answer a batch of requests with one onnxruntime run per group of equal shapes."""
        responses: list = [None] * len(requests)
        groups: dict[tuple, list[tuple[int, dict[str, np.ndarray]]]] = {}
        for index, request in enumerate(requests):
            try:
                arrays = self._read_inputs(request)
            except ValueError as error:
                responses[index] = _error_response(str(error))
                continue
            # Variable-size dims may differ between requests; only same-shape items concatenate.
            key = tuple(arrays[name].shape[1:] for name in self.input_names)
            groups.setdefault(key, []).append((index, arrays))
        for members in groups.values():
            for index, response in self._run_group(members):
                responses[index] = response
        return responses

    def _read_inputs(self, request) -> dict[str, np.ndarray]:
        arrays = {}
        for name in self.input_names:
            tensor = pb_utils.get_input_tensor_by_name(request, name)
            if tensor is None:
                raise ValueError(f"model '{self.model_name}': request has no input '{name}'")
            arrays[name] = tensor.as_numpy()
        return arrays

    def _run_group(self, members: list) -> list:
        sizes = [arrays[self.input_names[0]].shape[0] for _, arrays in members]
        feed = {name: np.concatenate([arrays[name] for _, arrays in members]) for name in self.input_names}
        try:
            outputs = self.session.run(list(self.output_types), feed)
        except Exception as error:  # onnxruntime raises its own exception types; each request must hear why
            message = f"model '{self.model_name}': onnxruntime failed: {error}"
            return [(index, _error_response(message)) for index, _ in members]
        boundaries = np.cumsum(sizes)[:-1]
        pieces = [np.split(output, boundaries) for output in outputs]
        answered = []
        for position, (index, _) in enumerate(members):
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(piece[position], dtype=dtype))
                for (name, dtype), piece in zip(self.output_types.items(), pieces, strict=True)
            ]
            answered.append((index, pb_utils.InferenceResponse(output_tensors=tensors)))
        return answered

    def finalize(self) -> None:
        """Release the onnxruntime session."""
        self.session = None


def _error_response(message: str):
    return pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(message))
