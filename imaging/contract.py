"""The serving contract, defined once for every stage: tensor names, classes, models, defaults.

Only the standard library is used here, so training, export, deploy, bench and the client can
all import it without pulling TensorFlow, onnx or tritonclient. The model takes ``image``
(uint8 ``[-1, S, S, 1]``, lung-windowed grey levels) and answers ``probabilities`` (fp32
``[-1, 4]``, in ``CLASS_NAMES`` order).
"""

from __future__ import annotations

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
INPUT_DATATYPE = "UINT8"
OUTPUT_DATATYPE = "FP32"

# The public CT Emphysema Database's numbering (1 NT, 2 CLE, 3 PSE, 4 PLE): the order of the
# model's output and of every labels.txt.
CLASS_NAMES: tuple[str, ...] = ("NT", "CLE", "PSE", "PLE")

# The architectures training builds; each is also the default model name in the repository.
ARCHITECTURES: tuple[str, ...] = ("inceptionv3", "resnet50", "efficientnetb0", "simple_cnn")

# The input side the paper trains at (pixels); the quick preset and exports may use others.
DEFAULT_IMAGE_SIZE = 224

# The lung window W1500/L-600 shows [-1350, +150] HU: every HU image is displayed through it
# before it reaches a model.
LUNG_WINDOW_WIDTH = 1500.0
LUNG_WINDOW_LEVEL = -600.0

# Triton's standard gRPC port, and the address a client uses when told nothing else.
DEFAULT_GRPC_PORT = 8001
DEFAULT_TRITON_URL = f"localhost:{DEFAULT_GRPC_PORT}"
# The model repository export writes to and serve, app --serve and bench read, unless told otherwise.
DEFAULT_REPOSITORY = "model_repository"
# A region model's field of view (mm) and density reference (HU) travel from its ROI data set
# (`emphysema roi-dataset` writes the settings file) through training's settings to the served
# config's parameters of these names.
ROI_DATASET_SETTINGS = "roi_dataset_settings.json"
FIELD_OF_VIEW_PARAMETER = "field_of_view_mm"
DENSITY_REFERENCE_PARAMETER = "density_reference_hu"
