"""What turns model inputs into probabilities: the run's Keras file, or the model Triton serves.

Both take the uint8 ``(N, S, S, 1)`` inputs of the shared pixel pipeline and return ``(N, 4)``
probabilities, so the same metrics code scores either. TensorFlow is imported only for Keras.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from client.errors import TritonError
from client.settings import TritonSettings
from client.triton import TritonClassifier
from imaging.contract import CLASS_NAMES
from training.run_folder import Run


@dataclasses.dataclass(frozen=True)
class Scorer:
    """A model ready to score images.

    Attributes:
        image_size: the input side ``S`` the model takes.
        served: for a served model, "model `NAME` version V at `URL`"; "" for the Keras file.
        predict: uint8 ``(N, S, S, 1)`` -> float ``(N, 4)`` probabilities.
    """

    image_size: int
    served: str
    predict: Callable[[np.ndarray], np.ndarray]


def keras_scorer(run: Run) -> Scorer:
    """The run's ``model.keras``, loaded on the first call."""
    from training.evaluate import predict_probabilities

    def predict(images: np.ndarray) -> np.ndarray:
        return predict_probabilities(run.load_model(), images, run.settings.batch_size)

    return Scorer(run.image_size, "", predict)


def triton_scorer(run: Run, url: str, model: str | None = None) -> Scorer:
    """The model Triton serves at ``url`` as ``model`` (default: the run's architecture).

    Raises:
        TritonError: Triton is unreachable, the model is not served (the served ones are listed), or
            it takes another image
            size than the run was trained with (then it is not this run's export).
    """
    with TritonClassifier(TritonSettings(url=url)) as classifier:
        # A model that is not served is named with the ones that are.
        name = classifier.choose_model(model or run.architecture)
        info = classifier.model_info(name)
    settings = TritonSettings(url=url, model=name)
    if info.image_size != run.image_size:
        raise TritonError(
            f"the served model {info.name!r} takes {info.image_size} px images, but run {run.folder} was "
            f"trained at {run.image_size} px: is it this run's export? Name the right one with --model"
        )
    versions = ", ".join(info.versions) or "latest"

    def predict(images: np.ndarray) -> np.ndarray:
        with TritonClassifier(settings) as classifier:
            predictions = classifier.classify(images)
        return np.array(
            [[prediction.probabilities[name] for name in CLASS_NAMES] for prediction in predictions],
            dtype=np.float64,
        )

    return Scorer(info.image_size, f"model `{info.name}` version {versions} at `{url}`", predict)
